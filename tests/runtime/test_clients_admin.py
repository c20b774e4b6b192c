"""Connection-local commands: INFO, CONFIG, CLIENT, COMMAND, TIME.

These are what tools read (redis-cli --stat, ioredis's ready check,
redis-benchmark's CONFIG GET), so the shapes follow Redis 7.0.
"""

from __future__ import annotations

import resource
import time

import hiredis
import pytest
import trio
import trio.testing

from epaxosdb.build import build_name
from epaxosdb.commands.tally import Tally
from epaxosdb.runtime import admin
from epaxosdb.runtime.admin import client_info_line
from epaxosdb.runtime.clients import ClientRegistry, ClientSettings, StreamIO
from epaxosdb.runtime.connection import Connection
from protocol.replies import OK, Error
from protocol.resp import encode_request
from tests.runtime.fakes import FakeBackend, RawClient, running_server


def decode(reply: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(reply)
    return reader.gets()


def bulk_text(reply: bytes) -> str:
    value = decode(reply)
    assert isinstance(value, bytes)
    return value.decode()


def info_fields(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.split("\r\n"):
        if line.startswith("# "):
            current = sections.setdefault(line[2:], {})
        elif line:
            key, _, value = line.partition(":")
            current[key] = value
    return sections


async def test_info_has_redis_sections_plus_the_backend_ones() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("SET", "k", "v")
        text = bulk_text(await client.call("INFO"))
        sections = info_fields(text)
        assert list(sections) == [
            "Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU",
            "Modules", "Errorstats", "Cluster", "Keyspace", "EPaxos",
        ]  # fmt: skip
        assert text.endswith("\r\n") and "\r\n\r\n# Clients\r\n" in text
        assert sections["Server"]["redis_version"] == "7.0.15"
        assert sections["Server"]["redis_mode"] == "standalone"
        # The digest replicas compare in their handshake (``epaxosdb.build``).
        assert sections["Server"]["redis_build_id"] == build_name()
        assert sections["Server"]["tcp_port"] == str(server.port)
        assert int(sections["Server"]["process_id"]) > 0
        assert sections["Clients"]["connected_clients"] == "1"
        assert int(sections["Memory"]["used_memory"]) > 0
        assert sections["Persistence"]["loading"] == "0"
        assert int(sections["Stats"]["total_commands_processed"]) >= 1
        assert sections["Stats"]["total_connections_received"] == "1"
        assert sections["Replication"]["role"] == "master"
        assert sections["Cluster"]["cluster_enabled"] == "0"
        assert sections["Keyspace"]["db0"].startswith("keys=1,")
        assert sections["EPaxos"]["replica_id"] == "1"


async def test_info_selects_sections_case_insensitively_and_in_redis_order() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("INFO", "cluster") == (
            b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
        )
        both = info_fields(bulk_text(await client.call("INFO", "KEYSPACE", "server")))
        assert list(both) == ["Server", "Keyspace"]
        assert await client.call("INFO", "nonexistent") == b"$0\r\n\r\n"
        everything = info_fields(bulk_text(await client.call("INFO", "everything")))
        assert {"Commandstats", "Latencystats", "EPaxos"} <= set(everything)


async def test_info_is_a_verbatim_string_in_resp3() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("HELLO", "3")
        assert await client.call("INFO", "cluster") == (
            b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"
        )


async def test_error_replies_are_counted_by_code() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("NOPE")
        await client.call("SET", "s", "x")
        await client.call("INCR", "s")
        sections = info_fields(bulk_text(await client.call("INFO", "errorstats", "stats")))
        assert sections["Errorstats"] == {"errorstat_ERR": "count=2"}
        assert sections["Stats"]["total_error_replies"] == "2"
        assert server.registry.statistics().total_error_replies == 2


def commandstats(text: str) -> dict[str, dict[str, float]]:
    """INFO commandstats as ``{"get": {"calls": 2.0, "usec": ..., ...}}``."""
    out = {}
    for name, fields in info_fields(text).get("Commandstats", {}).items():
        pairs = (field.split("=") for field in fields.split(","))
        out[name.removeprefix("cmdstat_")] = {key: float(value) for key, value in pairs}
    return out


async def test_commandstats_count_calls_failures_and_refusals_per_command() -> None:
    """Pipelined runs and single commands, connection commands, argument errors found
    when proposing, errors found when executing, and commands refused before running
    (NOAUTH) each land on their command's line; CONFIG RESETSTAT empties it."""
    async with running_server(settings=ClientSettings(requirepass="pw")) as server:
        client = await RawClient.connect(server.port)
        await client.call("GET", "k")  # NOAUTH: rejected
        await client.call("AUTH", "pw")
        pipelined = b"".join(encode_request(("SET", f"k{i}", "v")) for i in range(5))
        await client.send(pipelined + encode_request(("GET", "k1")) + encode_request(("GET", "k2")))
        await client.replies(7)
        await client.call("INCR", "k1")  # not an integer: fails when it runs
        await client.call("SET", "k", "v", "EX", "0")  # refused when proposed
        await client.call("CLIENT", "SETNAME", "me")
        stats = commandstats(bulk_text(await client.call("INFO", "commandstats")))
        # INFO itself is counted once it has answered, as in Redis.
        assert {name: line["calls"] for name, line in stats.items()} == {
            "auth": 1, "client|setname": 1, "get": 2, "incr": 1, "set": 6,
        }, stats
        assert stats["get"]["rejected_calls"] == 1 and stats["get"]["failed_calls"] == 0
        assert stats["set"]["failed_calls"] == 1 and stats["incr"]["failed_calls"] == 1
        assert stats["set"]["usec"] > 0 and stats["set"]["usec_per_call"] > 0
        await client.call("CONFIG", "RESETSTAT")
        after = commandstats(bulk_text(await client.call("INFO", "commandstats")))
        assert set(after) == {"config|resetstat"}, after


async def test_config_get_answers_what_benchmarks_and_tools_ask() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("CONFIG", "GET", "save") == b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
        assert await client.call("CONFIG", "GET", "appendonly") == (
            b"*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n"
        )
        assert decode(await client.call("CONFIG", "GET", "databases", "DATABASES")) == [
            b"databases",
            b"1",
            b"DATABASES",
            b"1",
        ]
        assert decode(await client.call("CONFIG", "GET", "*max*bulk*")) == [
            b"proto-max-bulk-len",
            b"536870912",
        ]
        maxmemory = decode(await client.call("CONFIG", "GET", "maxmemory*"))
        assert maxmemory == [b"maxmemory", b"0", b"maxmemory-policy", b"noeviction"]
        assert await client.call("CONFIG", "GET", "nonexistent") == b"*0\r\n"
        port = decode(await client.call("CONFIG", "GET", "port"))
        assert port == [b"port", str(server.port).encode()]
        replication = decode(await client.call("CONFIG", "GET", "replicaof", "slaveof"))
        assert replication == [b"replicaof", b"", b"slaveof", b""]
        entries = decode(await client.call("CONFIG", "GET", "*max*entries*"))
        assert dict(zip(entries[::2], entries[1::2], strict=True)) == {  # Redis 7.0.15's
            b"hash-max-ziplist-entries": b"512",
            b"zset-max-listpack-entries": b"128",
            b"zset-max-ziplist-entries": b"128",
            b"hash-max-listpack-entries": b"512",
            b"stream-node-max-entries": b"100",
            b"set-max-intset-entries": b"512",
        }
        await client.call("HELLO", "3")
        assert await client.call("CONFIG", "GET", "save") == b"%1\r\n$4\r\nsave\r\n$0\r\n\r\n"


FSYNCED = "fsynced before it is acknowledged"


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (["maxclients", "abc"], "argument couldn't be parsed into an integer"),
        (["maxclients", "0"], "argument must be between 1 and 4294967295 inclusive"),
        (
            ["proto-max-bulk-len", "10"],
            "argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (  # one request must fit in one replicated command (Redis allows more)
            ["client-query-buffer-limit", "2gb"],
            "argument must be between 1048576 and 1073741824 inclusive",
        ),
        (["databases", "1"], "can't set immutable config"),
        (["replicaof", "no one"], "can't set immutable config"),
        (
            ["hash-max-listpack-entries", "128"],
            "it stays '512' here: epaxosdb stores values in forms of its own",
        ),
        (["Timeout", "0", "TIMEOUT", "1"], "duplicate parameter"),
        (["maxmemory-policy", "lru"], "it stays 'noeviction' here: epaxosdb does not evict keys"),
        (["appendonly", "no"], f"it stays 'yes' here: every write is {FSYNCED}"),
        (
            ["maxclients", str(2**32 - 1)],
            f"The operating system is not able to handle the specified number of clients, "
            f"try with {resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 32}",
        ),
    ],
)
async def test_config_set_refuses_bad_values_with_redis_texts(args: list[str], reply: str) -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        typed = args[-2]  # the argument Redis names: the last one checked
        expected = f"-ERR CONFIG SET failed (possibly related to argument '{typed}') - {reply}"
        assert await client.call("CONFIG", "SET", *args) == expected.encode() + b"\r\n"
        assert await client.call("CONFIG", "SET", "nope", "1") == (
            b"-ERR Unknown option or number of arguments for CONFIG SET - 'nope'\r\n"
        )
        assert await client.call("CONFIG", "SET", "timeout", "0", "maxclients") == (
            b"-ERR syntax error\r\n"
        )


async def test_config_set_of_a_fixed_parameter_to_its_value_is_accepted() -> None:
    """Test set-ups say ``CONFIG SET save ""`` or ``appendonly yes``: what epaxosdb does
    anyway is no error."""
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        fixed = [("save", ""), ("appendonly", "YES"), ("maxmemory", "0mb")]
        fixed += [("set-max-intset-entries", "512"), ("list-max-ziplist-size", "-2")]
        for name, value in [*fixed, ("notify-keyspace-events", ""), ("slave-read-only", "yes")]:
            assert await client.call("CONFIG", "SET", name, value) == b"+OK\r\n", name
        assert await client.call("CONFIG", "SET", "save", "", "timeout", "5") == b"+OK\r\n"
        assert server.registry.settings.timeout == 5
        assert decode(await client.call("CONFIG", "GET", "slave-read-only")) == [
            b"slave-read-only", b"yes"
        ]


async def test_config_set_changes_limits_and_resetstat_zeroes_counters() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("CONFIG", "SET", "proto-max-bulk-len", "2mb", "timeout", "7") == (
            b"+OK\r\n"
        )
        assert server.registry.settings.proto_max_bulk_len == 2 * 1024 * 1024
        assert decode(await client.call("CONFIG", "GET", "timeout")) == [b"timeout", b"7"]
        assert server.registry.statistics().total_commands_processed > 0
        # Counted where commands execute (the consensus loop, not this fake backend).
        server.registry.stats.keyspace.add(Tally(expired=3, hits=5, misses=7))
        stats = await client.call("INFO", "stats")
        for line in (b"expired_keys:3", b"keyspace_hits:5", b"keyspace_misses:7"):
            assert line + b"\r\n" in stats
        assert await client.call("CONFIG", "RESETSTAT") == b"+OK\r\n"
        assert server.registry.statistics().total_commands_processed == 0
        stats = await client.call("INFO", "stats")
        for line in (b"expired_keys:0", b"keyspace_hits:0", b"keyspace_misses:0"):
            assert line + b"\r\n" in stats
        rewrite = await client.call("CONFIG", "REWRITE")
        assert rewrite == b"-ERR The server is running without a config file\r\n"


async def test_client_name_id_setinfo_and_info() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        client_id = int((await client.call("CLIENT", "ID"))[1:-2])
        assert await client.call("CLIENT", "GETNAME") == b"$-1\r\n"
        assert await client.call("CLIENT", "SETNAME", "worker-1") == b"+OK\r\n"
        assert await client.call("CLIENT", "GETNAME") == b"$8\r\nworker-1\r\n"
        assert await client.call("CLIENT", "SETNAME", "a b") == (
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        )
        assert await client.call("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == b"+OK\r\n"
        assert await client.call("CLIENT", "SETINFO", "lib-ver", "8.1.0") == b"+OK\r\n"
        assert await client.call("CLIENT", "SETINFO", "color", "x") == (
            b"-ERR Unrecognized option 'color'\r\n"
        )
        assert await client.call("CLIENT", "SETINFO", "LIB-NAME", "a b") == (
            b"-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n"
        )
        line = bulk_text(await client.call("CLIENT", "INFO"))
        fields = dict(item.split("=", 1) for item in line.strip().split(" "))
        assert fields["id"] == str(client_id)
        assert fields["name"] == "worker-1"
        assert fields["lib-name"] == "redis-py"
        assert fields["lib-ver"] == "8.1.0"
        assert fields["cmd"] == "client|info"
        assert fields["resp"] == "2"
        assert fields["addr"].startswith("127.0.0.1:")
        assert await client.call("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
        assert await client.call("CLIENT", "NO-EVICT", "maybe") == b"-ERR syntax error\r\n"


async def test_client_list_shows_every_connection_and_filters() -> None:
    async with running_server() as server:
        first = await RawClient.connect(server.port)
        second = await RawClient.connect(server.port)
        await second.call("CLIENT", "SETNAME", "second")
        second_id = int((await second.call("CLIENT", "ID"))[1:-2])
        lines = bulk_text(await first.call("CLIENT", "LIST")).splitlines()
        assert len(lines) == 2
        assert any("name=second" in line for line in lines)
        # Redis's qbuf: the caller sees its own request (26 bytes of RESP), an idle
        # client an empty buffer.
        (own,) = [line for line in lines if "name=second" not in line]
        (idle,) = [line for line in lines if "name=second" in line]
        assert " qbuf=26 " in own and " qbuf=0 " in idle
        only = bulk_text(await first.call("CLIENT", "LIST", "ID", str(second_id)))
        assert only.startswith(f"id={second_id} ") and "name=second" in only
        assert await first.call("CLIENT", "LIST", "TYPE", "pubsub") == b"$0\r\n\r\n"
        assert await first.call("CLIENT", "LIST", "TYPE", "x") == (
            b"-ERR Unknown client type 'x'\r\n"
        )
        assert await first.call("CLIENT", "LIST", "ID", "x") == b"-ERR Invalid client ID\r\n"


async def test_client_list_names_a_transactions_last_queued_command_as_redis_does() -> None:
    async with running_server() as server:
        queuing = await RawClient.connect(server.port)
        watcher = await RawClient.connect(server.port)
        queuing_id = int((await queuing.call("CLIENT", "ID"))[1:-2])
        assert await queuing.call("MULTI") == b"+OK\r\n"
        assert await queuing.call("SET", "a", "1") == b"+QUEUED\r\n"
        line = bulk_text(await watcher.call("CLIENT", "LIST", "ID", str(queuing_id)))
        assert " multi=1 " in line and " cmd=set " in line
        assert await queuing.call("INCR", "a") == b"+QUEUED\r\n"
        line = bulk_text(await watcher.call("CLIENT", "LIST", "ID", str(queuing_id)))
        assert " multi=2 " in line and " cmd=incr " in line
        assert await queuing.call("EXEC") == b"*2\r\n+OK\r\n:2\r\n"
        line = bulk_text(await watcher.call("CLIENT", "LIST", "ID", str(queuing_id)))
        assert " multi=-1 " in line and " cmd=exec " in line


async def test_client_kill_closes_other_connections_and_itself_only_when_asked() -> None:
    async with running_server() as server:
        killer = await RawClient.connect(server.port)
        victim = await RawClient.connect(server.port)
        victim_id = int((await victim.call("CLIENT", "ID"))[1:-2])
        assert await killer.call("CLIENT", "KILL", "ID", str(victim_id)) == b":1\r\n"
        assert await victim.until_closed() == b""
        assert await killer.call("CLIENT", "KILL", "ID", "99999") == b":0\r\n"
        assert await killer.call("CLIENT", "KILL", "ID", "x") == (
            b"-ERR client-id should be greater than 0\r\n"
        )
        assert await killer.call("CLIENT", "KILL", "1.2.3.4:5") == b"-ERR No such client\r\n"
        assert await killer.call("CLIENT", "KILL", "USER", "bob") == b"-ERR No such user 'bob'\r\n"
        assert await killer.call("CLIENT", "KILL", "FOO", "bar") == b"-ERR syntax error\r\n"
        other = await RawClient.connect(server.port)
        other_addr = bulk_text(await other.call("CLIENT", "INFO")).split(" ")[1][len("addr=") :]
        assert await killer.call("CLIENT", "KILL", other_addr) == b"+OK\r\n"
        assert await other.until_closed() == b""
        assert await killer.call("CLIENT", "KILL", "TYPE", "normal") == b":0\r\n"  # skips itself
        await killer.send(b"CLIENT KILL TYPE normal SKIPME no\r\n")
        assert await killer.until_closed() == b":1\r\n"


async def test_command_count_and_docs_come_from_the_command_table() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        count = decode(await client.call("COMMAND", "COUNT"))
        assert isinstance(count, int) and count > 20
        docs = decode(await client.call("COMMAND", "DOCS", "get"))
        assert isinstance(docs, list) and docs[0] == b"get"
        listed = decode(await client.call("COMMAND"))
        assert isinstance(listed, list) and len(listed) == count


async def test_time_is_the_local_clock_in_seconds_and_microseconds() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        before = time.time()
        reply = decode(await client.call("TIME"))
        after = time.time()
        assert isinstance(reply, list)
        seconds, micros = int(reply[0]), int(reply[1])
        assert 0 <= micros < 1_000_000
        assert int(before) <= seconds <= after


async def test_settings_limits_apply_to_connections() -> None:
    settings = ClientSettings(proto_max_bulk_len=1024 * 1024)
    async with running_server(settings=settings) as server:
        client = await RawClient.connect(server.port)
        await client.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n")
        assert await client.until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"


async def test_client_no_touch_handler_is_ready_for_its_table_row() -> None:
    # The command table has no ``client|no-touch`` row yet (Redis 7.2 added it);
    # the handler answers as soon as one is added.
    registry = ClientRegistry()
    client_side, server_side = trio.testing.memory_stream_pair()
    conn = Connection(StreamIO(server_side), registry, FakeBackend())
    assert admin.cmd_client_no_touch(conn, [b"CLIENT", b"NO-TOUCH", b"on"]) == OK
    assert conn.no_touch
    assert "flags=T" in client_info_line(conn, time.monotonic()).decode()
    assert admin.cmd_client_no_touch(conn, [b"CLIENT", b"NO-TOUCH", b"maybe"]) == Error(
        "ERR syntax error"
    )
    await client_side.aclose()


def test_maxclients_is_lowered_at_start_to_what_the_open_file_limit_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Else a client past the limit meets EMFILE in accept, retried ten times a second,
    instead of Redis's max-clients error (QA, with ``ulimit -n 200``)."""
    limits = {"soft": 200, "hard": 200}

    def getrlimit(which: int) -> tuple[int, int]:
        return limits["soft"], limits["hard"]

    def setrlimit(which: int, values: tuple[int, int]) -> None:
        if values[0] > limits["hard"]:
            raise ValueError("not allowed")
        limits["soft"] = values[0]

    monkeypatch.setattr(resource, "getrlimit", getrlimit)
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    settings = ClientSettings()
    warning = admin.fit_maxclients(settings)
    assert settings.maxclients == 200 - admin.RESERVED_FDS
    assert warning is not None and "ulimit -n" in warning
    limits.update(soft=100, hard=20_000)
    settings = ClientSettings()
    assert admin.fit_maxclients(settings) is None  # raised, as far as it needs
    assert limits["soft"] == settings.maxclients + admin.RESERVED_FDS == 10_032
