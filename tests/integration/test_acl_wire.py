"""ACL users against redis-server, and users from the cluster file on three replicas.

* One session of raw RESP runs against a replica and against a real Redis
  7.0, in RESP2 and RESP3: ``ACL SETUSER`` (good and bad rules), ``LIST``,
  ``GETUSER``, ``USERS``, ``DRYRUN``, ``DELUSER``..., then clients
  authenticated as restricted users are refused commands, keys and channels.
  Every reply must be byte-identical; ``ACL LOG`` is compared entry by entry
  (its ages and client lines are the servers' own). Deleting a user, or
  ``CLIENT KILL USER``, closes its connections on both.
* ``[[user]]`` tables in the cluster file give every replica the same users: a
  read-only user reads through replica 2 what the administrator wrote through
  replica 1, and is refused writes everywhere; a bad rule stops the start with
  the user and the rule named.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.integration.cluster import ProcessCluster
from tests.redis_server import Parsed, RawConnection, RedisServer, parse_reply
from tests.redis_server import redis_server as redis_server

SETUP = [
    "ACL SETUSER alice on >pw ~app:* +@read +set",
    "ACL SETUSER bob on nopass %R~r:* %W~w:* &ch* +@all -@dangerous +client|id -get +get",
    "ACL SETUSER carl +client -client|kill resetkeys",
    "ACL SETUSER dave on >one >two <one allkeys allchannels +@all -@all +set +@read -@read",
    "ACL SETUSER bob foo",
    "ACL SETUSER bob +nosuch",
    "ACL SETUSER bob +@nosuch",
    "ACL SETUSER bob #abc",
    "ACL SETUSER bob <nothere",
    "ACL SETUSER dave ~x",
    "ACL SETUSER bob %X~x",
    "ACL SETUSER erin on nopass +get -nosuch",
    "ACL LIST",
    "ACL USERS",
    "ACL GETUSER alice",
    "ACL GETUSER bob",
    "ACL GETUSER carl",
    "ACL GETUSER erin",
    "ACL WHOAMI",
    "ACL CAT",
    "ACL CAT nosuch",
    "ACL CAT read extra",
    "ACL DRYRUN alice get x",
    "ACL DRYRUN alice get app:1",
    "ACL DRYRUN alice set app:1 v",
    "ACL DRYRUN alice del app:1",
    "ACL DRYRUN bob publish other hi",
    "ACL DRYRUN nosuch get a",
    "ACL DRYRUN alice nosuch a",
    "ACL DRYRUN alice get",
    "ACL DELUSER default",
    "ACL DELUSER nosuch",
    "ACL GENPASS abc",
    "ACL GENPASS 0",
    "ACL GENPASS 5000",
    "ACL LOG 1 2",
    "ACL LOG abc",
    "ACL SAVE",
    "ACL LOAD",
    "ACL HELP",
    "AUTH nosuch pw",
    "AUTH alice wrong",
]

ALICE = [
    "AUTH alice pw",
    "ACL WHOAMI",
    "GET x",
    "GET app:1",
    "SET app:1 v",
    "GET app:1",
    "SET x v",
    "DEL app:1",
    "PUBLISH ch 1",
    "MULTI",
    "SET app:2 v",
    "DEL app:2",
    "EXEC",
    "MGET app:1 app:2 x",
]

BOB = [
    "AUTH bob anything",
    "PUBLISH ch1 hi",
    "PUBLISH other hi",
    "SUBSCRIBE other",
    "PSUBSCRIBE c*",
    "SET w:1 v",
    "GET w:1",
    "GET r:1",
    "SET r:1 v",
    "COPY w:1 r:1",
    "CLIENT GETNAME",
    "CLIENT KILL ID 999999",
    "FLUSHALL",
    "ACL WHOAMI",
    "RESET",
    "ACL WHOAMI",
    "AUTH bob again",
]


class Pair:
    """The same requests to Redis and to a replica, each on its own connection."""

    def __init__(self, redis_port: int, replica_port: int, protocol: int) -> None:
        self.redis = RawConnection(redis_port)
        self.replica = RawConnection(replica_port, timeout_s=15.0)
        if protocol == 3:
            for conn in (self.redis, self.replica):
                assert conn.hello(3).startswith(b"%7\r\n")

    def same(self, line: str) -> bytes:
        args = [word.encode() for word in line.split()]
        theirs, ours = self.redis.call(*args), self.replica.call(*args)
        assert ours == theirs, f"{line}: redis {theirs!r}, epaxosdb {ours!r}"
        return ours

    def both(self, line: str) -> tuple[bytes, bytes]:
        args = [word.encode() for word in line.split()]
        return self.redis.call(*args), self.replica.call(*args)

    def closed(self) -> None:
        """Both servers closed this pair's connections."""
        for name, conn in (("redis", self.redis), ("epaxosdb", self.replica)):
            with pytest.raises((ConnectionError, OSError)):
                conn.call(b"PING")
                pytest.fail(f"{name} still answers a deleted user's connection")

    def close(self) -> None:
        self.redis.close()
        self.replica.close()


def _strings(item: Parsed) -> object:
    if isinstance(item.value, list):
        return [_strings(x) for x in item.value]
    return item.value


def log_entries(raw: bytes) -> list[dict[object, object]]:
    """ACL LOG's entries without the fields that differ by nature (age, client line)."""
    parsed, _ = parse_reply(raw)
    entries = []
    assert isinstance(parsed.value, list)
    for entry in parsed.value:
        flat = _strings(entry)
        assert isinstance(flat, list)
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        del fields[b"age-seconds"], fields[b"client-info"]
        entries.append(fields)
    return entries


@pytest.fixture(params=[2, 3], ids=["RESP2", "RESP3"])
def protocol(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def servers(
    make_cluster: Callable[..., ProcessCluster],
) -> Iterator[tuple[int, int]]:
    """A fresh redis-server and a fresh replica: ACL state is per server."""
    with RedisServer.start() as server:
        cluster = make_cluster(1)
        yield server.port, cluster.port(1)


def test_acl_session_answers_as_redis_does(servers: tuple[int, int], protocol: int) -> None:
    admin = Pair(*servers, protocol)
    for line in SETUP:
        admin.same(line)
    genpass = admin.both("ACL GENPASS 5")
    assert [len(reply) for reply in genpass] == [len(b"$2\r\nab\r\n")] * 2

    alice, bob = Pair(*servers, protocol), Pair(*servers, protocol)
    for line in ALICE:
        alice.same(line)
    for line in BOB:
        bob.same(line)

    theirs, ours = admin.both("ACL LOG")
    assert log_entries(ours) == log_entries(theirs)
    assert len(log_entries(ours)) >= 10
    admin.same("ACL LOG RESET")
    admin.same("ACL LOG")

    admin.same("ACL DELUSER alice nosuch")
    alice.closed()
    admin.same("CLIENT KILL USER bob")
    bob.closed()
    admin.same("CLIENT KILL USER nosuch")
    admin.same("ACL USERS")
    for pair in (admin, alice, bob):
        pair.close()


def test_client_list_names_each_connection_user(
    make_cluster: Callable[..., ProcessCluster],
) -> None:
    cluster = make_cluster(1)
    admin = redis.Redis(port=cluster.port(1))
    assert admin.acl_setuser("app", enabled=True, passwords=["+pw"], keys=["app:*"],
                             commands=["+@all"])  # fmt: skip
    app = redis.Redis(port=cluster.port(1), username="app", password="pw")
    app_id = app.client_id()
    assert app.acl_whoami() == "app"
    lines = {c["id"]: c["user"] for c in admin.client_list()}
    assert lines[str(app_id)] == "app"
    assert lines[str(admin.client_id())] == "default"
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.set("other", 1)
    app.close()
    admin.close()


def test_scripts_run_for_users_allowed_every_command_on_the_keys_they_may_use(
    make_cluster: Callable[..., ProcessCluster],
) -> None:
    """Every replica runs a script, so the commands it calls cannot be checked against
    one replica's rules: a user must be allowed every command; the keys a script
    declares (the only ones it may touch) are checked like any command's."""
    cluster = make_cluster(1)
    admin = redis.Redis(port=cluster.port(1))
    assert admin.acl_setuser("app", enabled=True, passwords=["+pw"], keys=["app:*"],
                             commands=["+@all"])  # fmt: skip
    assert admin.acl_setuser("safe", enabled=True, passwords=["+pw"], keys=["*"],
                             channels=["*"], commands=["+@all", "-@dangerous"])  # fmt: skip
    app = redis.Redis(port=cluster.port(1), username="app", password="pw")
    script = "return redis.call('INCR', KEYS[1])"
    assert app.eval(script, 1, "app:n") == 1
    assert app.evalsha(app.script_load(script), 1, "app:n") == 2
    assert app.eval_ro("return redis.call('GET', KEYS[1])", 1, "app:n") == b"2"
    with pytest.raises(redis.exceptions.NoPermissionError, match="keys used as arguments"):
        app.eval(script, 1, "other")
    safe = redis.Redis(port=cluster.port(1), username="safe", password="pw")
    with pytest.raises(redis.exceptions.NoPermissionError, match="allowed every command"):
        safe.eval("return 1", 0)
    assert safe.get("app:n") == b"2"  # everything else it may do, it does
    for client in (app, safe, admin):
        client.close()


USERS = {
    "default": "resetpass >adminpw",
    "reader": "on >readpw ~* &* -@all +@read +@connection",
    "writer": "on >writepw ~orders:* +@all -@dangerous",
}


@pytest.fixture(scope="module")
def secured3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessCluster]:
    cluster = ProcessCluster.start(3, tmp_path_factory.mktemp("acl3"), users=USERS)
    try:
        yield cluster
    finally:
        cluster.close()


def test_cluster_file_users_exist_on_every_replica(secured3: ProcessCluster) -> None:
    admin = redis.Redis(port=secured3.port(1), password="adminpw")
    writer = redis.Redis(port=secured3.port(3), username="writer", password="writepw")
    assert admin.set("config:a", "1")
    assert writer.set("orders:1", "paid")
    with pytest.raises(redis.exceptions.NoPermissionError):
        writer.set("config:a", "2")
    with pytest.raises(redis.exceptions.NoPermissionError):
        writer.flushall()
    for i in (1, 2, 3):
        reader = redis.Redis(
            port=secured3.port(i), username="reader", password="readpw", protocol=2 + i % 2
        )  # HELLO 3 AUTH on replica 1 and 3, AUTH on replica 2
        assert reader.get("orders:1") == b"paid"
        assert reader.get("config:a") == b"1"
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.set("orders:1", "refunded")
        # Raw: redis-py retries a refused AUTH with back-off, seconds per attempt.
        with RawConnection(secured3.port(i)) as raw:
            assert raw.call(b"AUTH", b"reader", b"nope").startswith(b"-WRONGPASS")
            assert raw.call(b"GET", b"orders:1") == b"-NOAUTH Authentication required.\r\n"
        assert sorted(admin.acl_users()) == ["default", "reader", "writer"]
        reader.close()
    assert admin.get("config:a") == b"1"
    admin.close()
    writer.close()


def test_a_bad_rule_in_the_cluster_file_stops_the_start(secured3: ProcessCluster) -> None:
    text = secured3.config.read_text()
    bad = secured3.config.with_name("bad.toml")
    bad.write_text(text + '\n[[user]]\nname = "typo"\nrules = "on +gett"\n')
    command = [*secured3.serve_command(1)]
    command[command.index(str(secured3.config))] = str(bad)
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode != 0
    message = done.stderr.decode()
    assert "user 'typo'" in message and "'+gett'" in message
    assert "Unknown command or category name in ACL" in message
    assert "Traceback" not in message


def test_a_subscriber_whose_user_loses_the_channel_is_disconnected_as_in_redis(
    servers: tuple[int, int],
) -> None:
    admin = Pair(*servers, 2)
    admin.same("ACL SETUSER sub on nopass ~* resetchannels &news* +@all")
    subscriber = Pair(*servers, 2)
    subscriber.same("AUTH sub x")
    subscriber.same("SUBSCRIBE news1")
    admin.same("ACL SETUSER sub &more")  # widened: nothing happens
    subscriber.same("PING")
    admin.same("ACL SETUSER sub resetchannels &other")
    subscriber.closed()
    admin.close()
    subscriber.close()


def test_dryrun_says_what_running_a_script_would(
    make_cluster: Callable[..., ProcessCluster],
) -> None:
    cluster = make_cluster(1)
    admin = redis.Redis(port=cluster.port(1))
    assert admin.acl_setuser("safe", enabled=True, nopass=True, keys=["*"], channels=["*"],
                             commands=["+@all", "-@dangerous"])  # fmt: skip
    assert admin.execute_command("ACL", "DRYRUN", "safe", "EVAL", "return 1", "0") == (
        b"This user has no permissions to run scripts: epaxosdb runs them only for users"
        b" allowed every command"
    )
    assert admin.execute_command("ACL", "DRYRUN", "default", "EVAL", "return 1", "0") == b"OK"
    admin.close()


def test_a_read_only_script_holds_each_call_to_its_user_s_rules_as_in_redis(
    servers: tuple[int, int], protocol: int
) -> None:
    """EVAL_RO runs only where its client is connected, so that replica checks every
    command the script calls against the user's rules, as Redis does."""
    admin = Pair(*servers, protocol)
    admin.same("ACL SETUSER ro on nopass ~* &* +@read +eval_ro +evalsha_ro -get")
    admin.same("SET foo bar")
    reader = Pair(*servers, protocol)
    reader.same("AUTH ro x")
    for script in (
        "return redis.call('GET', KEYS[1])",  # refused: the user may not GET
        "return redis.call('STRLEN', KEYS[1])",
        "return redis.pcall('GET', KEYS[1])",
        "local ok = redis.pcall('GET', KEYS[1]) return redis.call('STRLEN', KEYS[1])",
    ):
        args = [b"EVAL_RO", script.encode(), b"1", b"foo"]
        theirs, ours = reader.redis.call(*args), reader.replica.call(*args)
        assert ours == theirs, (script, theirs, ours)
    reader.same("EVAL return 1 0")  # not +eval: refused before it runs, on both
    theirs, ours = admin.both("ACL LOG")
    assert log_entries(ours) == log_entries(theirs)  # the refused calls: context lua
    assert {b"context": b"lua"}.items() <= log_entries(ours)[1].items()
    admin.close()
    reader.close()


def test_a_read_only_function_holds_each_call_to_its_user_s_rules_as_in_redis(
    servers: tuple[int, int], protocol: int
) -> None:
    """FCALL_RO, like EVAL_RO, runs only where its client is connected: every command the
    function calls is checked against the user's rules there, as Redis does; FCALL, which
    every replica runs, is refused to a user not allowed every command."""
    admin = Pair(*servers, protocol)
    library = (
        b"#!lua name=acl_lib\n"
        b"redis.register_function{function_name='get_it', flags={'no-writes'},\n"
        b"  callback=function(keys) return redis.call('GET', keys[1]) end}\n"
        b"redis.register_function{function_name='len_it', flags={'no-writes'},\n"
        b"  callback=function(keys) return redis.call('STRLEN', keys[1]) end}\n"
        b"redis.register_function{function_name='try_get', flags={'no-writes'},\n"
        b"  callback=function(keys) return redis.pcall('GET', keys[1]) end}\n"
    )
    for side in (admin.redis, admin.replica):
        side.call(b"FUNCTION", b"FLUSH")
    assert admin.replica.call(b"FUNCTION", b"LOAD", library) == admin.redis.call(
        b"FUNCTION", b"LOAD", library
    )
    admin.same("ACL SETUSER fro on nopass ~* &* +@read +fcall_ro -get")
    admin.same("SET foo bar")
    reader = Pair(*servers, protocol)
    reader.same("AUTH fro x")
    for function in (b"get_it", b"len_it", b"try_get"):
        args = [b"FCALL_RO", function, b"1", b"foo"]
        theirs, ours = reader.redis.call(*args), reader.replica.call(*args)
        assert ours == theirs, (function, theirs, ours)
    reader.same("FCALL len_it 1 foo")  # not +fcall: refused before it runs, on both
    admin.same("ACL SETUSER fro +fcall")
    assert reader.replica.call(b"FCALL", b"len_it", b"1", b"foo") == (
        b"-NOPERM this user has no permissions to run scripts: epaxosdb runs them only for"
        b" users allowed every command\r\n"
    )
    for side in (admin.redis, admin.replica):
        side.call(b"FUNCTION", b"FLUSH")
    admin.close()
    reader.close()


def test_user_bytes_in_acl_errors_stay_on_one_line_as_in_redis(
    servers: tuple[int, int], protocol: int
) -> None:
    """A CR or LF in a rule or a user name is an error's text, never the end of its line:
    Redis prints them as spaces, and so do the replicas."""
    admin = Pair(*servers, protocol)
    for request in (
        [b"ACL", b"SETUSER", b"u", b"+get\r\nfoo"],
        [b"ACL", b"SETUSER", b"bad\r\nname", b"on"],
        [b"ACL", b"DELUSER", b"bad\r\nname"],
        [b"ACL", b"GETUSER", b"x\ny"],
        [b"ACL", b"DRYRUN", b"x\ny", b"get", b"a"],
        [b"ACL", b"SETUSER", b"u", b"~\x00k\r"],
    ):
        theirs, ours = admin.redis.call(*request), admin.replica.call(*request)
        assert ours == theirs, (request, theirs, ours)
        assert ours.count(b"\r\n") == 1 or not ours.startswith(b"-"), ours
    admin.same("PING")  # the connection still reads requests where they begin
    admin.close()


@pytest.mark.parametrize(
    "rules",
    [
        "allkeys allkeys", "allkeys ~*", "~* ~*", "allchannels allchannels", "&* &*", "%",
        "%R", "%RW~*", "%RW~* ~a", "%R~a %W~a ~b %R~b", "&a &a", "~a ~a", "%RR~a", "%~a",
        "%X", "allkeys %RR~a", "allkeys %X", "%w~a %r~b", "allchannels &x",
    ],
)
def test_key_and_channel_rules_are_read_as_redis_reads_them(
    servers: tuple[int, int], rules: str
) -> None:
    """Patterns given twice, ``%`` marks given twice or not at all, patterns after
    ``allkeys``: each answered, and listed, as Redis 7.0.15 does."""
    admin = Pair(*servers, 2)
    admin.same(f"ACL SETUSER t {rules}")
    admin.same("ACL GETUSER t")
    admin.same("ACL DELUSER t")
    admin.close()



_RULE_WORDS = (
    "on", "off", "nopass", "resetpass", "reset", "allkeys", "resetkeys", "allchannels",
    "resetchannels", "allcommands", "nocommands", ">pw", ">other", "<pw", "#" + "a" * 64,
    "~*", "~k*", "~k?", "%R~r*", "%W~w*", "%RW~x", "%R", "%W~", "%~z", "%RR~q", "&*", "&news*",
    "&", "~", "+@all", "-@all", "+@read", "-@write", "+get", "-get", "+set", "+client|id",
    "-client|kill", "+@string", "-@dangerous", "+config|get", "+nosuchcommand", "+@nosuch",
    "+get|x", "+get|K", "+select|0", "-select|0", "+client|id|x", "+get|", "+client|x",
    "skip-sanitize-payload", "sanitize-payload", "-@keyspace", "+@hash",
)
_PROBES = (
    "GET k", "GET x", "GET K", "SET k v", "SET r1 v", "SET w1 v", "GET r1", "GET w1", "GET x",
    "SELECT 0", "SELECT 1", "CLIENT ID", "CLIENT KILL ID 1", "CONFIG GET x", "HSET h f v",
    "KEYS *", "PUBLISH news1 m", "PUBLISH other m", "RESTORE k 0 x", "FLUSHALL",
)
"""Requests whose permission ``ACL DRYRUN`` tells, for each rule set."""


@pytest.mark.parametrize("seed", range(8))
def test_random_rule_sets_are_answered_and_enforced_as_in_redis(
    servers: tuple[int, int], seed: int
) -> None:
    """Seeded sequences of ACL SETUSER over a vocabulary of rules, good and bad, each
    compared with redis-server 7.0.15: the reply, the user's flags, passwords, keys and
    channels (ACL GETUSER), and what it may run (ACL DRYRUN of a set of requests). Its
    command rules' text is not compared: Redis 7.0 rebuilds it from categories in its
    command table's hash order, which differs from run to run."""
    rng = random.Random(seed)
    admin = Pair(*servers, 2)
    user = f"r{seed}"
    for _ in range(30):
        rules = " ".join(rng.choice(_RULE_WORDS) for _ in range(rng.randint(1, 5)))
        admin.same(f"ACL SETUSER {user} {rules}")
        theirs, ours = admin.both(f"ACL GETUSER {user}")
        if theirs == b"$-1\r\n" or theirs == b"*-1\r\n":  # no such user yet: refused
            assert ours == theirs, rules
            continue
        fields_theirs, fields_ours = parse_reply(theirs)[0], parse_reply(ours)[0]
        assert isinstance(fields_theirs.value, list) and isinstance(fields_ours.value, list)
        commands = fields_theirs.value.index(Parsed("$", b"commands"))
        assert fields_ours.value[:commands] == fields_theirs.value[:commands], rules
        assert fields_ours.value[commands + 2 :] == fields_theirs.value[commands + 2 :], rules
        for probe in _PROBES:
            admin.same(f"ACL DRYRUN {user} {probe}")
    admin.same(f"ACL DELUSER {user}")
    admin.close()
