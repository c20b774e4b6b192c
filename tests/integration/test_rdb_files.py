"""RDB files out of epaxosdb and into it: ``epaxosdb export``, ``redis-cli --rdb`` (SYNC),
and ``epaxosdb import``.

The same keys of every type (small and large encodings, expiries, a stream with a
consumer group) are written to a replica and to redis-server. A replica's export
is loaded by redis-server as its own dump file and holds what the replica held;
so is the file ``redis-cli --rdb`` takes from a replica through SYNC;
redis-server's own SAVE file is imported into a new cluster, which then holds
what Redis held; and an export imported into another cluster carries everything
over (the same digest of every key). A damaged file is refused with the reason.
Function libraries cross both ways: redis-server loads an export's, and what
redis-server saved after FUNCTION LOAD reads back as that library's code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from epaxosdb import backup, rdb_file
from epaxosdb.commands.functions import encode_registry
from storage.interface import Txn, Value, ValueType
from storage.lmdb_store import LmdbStore
from tests.integration.cluster import ProcessCluster
from tests.redis_server import RedisServer

EPAXOSDB = [sys.executable, "-m", "epaxosdb"]
TTL_SLACK_MS = 60_000
LIBRARY = b"#!lua name=mylib\nredis.register_function('f', function(keys, args) return 1 end)"


def _fill(client: redis.Redis) -> None:
    client.set("s", "value")
    client.set("n", "12345")
    client.set("big", "x" * 5000)
    client.set("ttl", "v", px=600_000)
    client.rpush("l", *[f"e{i}" for i in range(300)])
    client.rpush("lsmall", "a", "b")
    client.hset("h", mapping={"f": "v", "g": "w"})
    client.hset("hbig", mapping={f"f{i}": f"v{i}" for i in range(600)})
    client.sadd("sint", 1, 2, 3)
    client.sadd("sstr", "a", "b")
    client.sadd("sbig", *[f"m{i}" for i in range(600)])
    client.zadd("z", {"a": 1, "b": 2.5})
    client.zadd("zbig", {f"m{i}": i / 3 for i in range(200)})
    client.expire("zbig", 900)
    for i in range(1, 5):
        client.xadd("x", {"f": f"v{i}"}, id=f"{i}-1")
    client.xgroup_create("x", "g", id="0")
    client.xreadgroup("g", "alice", {"x": ">"}, count=2)
    client.geoadd("geo", (13.361389, 38.115556, "Palermo"))
    client.pfadd("hll", "a", "b", "c")


def _contents(client: redis.Redis) -> dict[bytes, object]:
    """Every key's type, whether it has a time to live, and its value, read by type."""
    found: dict[bytes, object] = {}
    for key in sorted(client.scan_iter(count=1000)):
        kind = client.type(key)
        pttl = client.pttl(key)
        value: object
        if kind == b"string":
            value = client.get(key)
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"hash":
            value = sorted(client.hgetall(key).items())
        elif kind == b"set":
            value = sorted(client.smembers(key))
        elif kind == b"zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            groups = [
                (g["name"], g["consumers"], g["pending"], g["last-delivered-id"])
                for g in client.xinfo_groups(key)
            ]
            value = (client.xrange(key), groups)
        found[key] = (kind, pttl > 0, value)
        assert pttl == -1 or TTL_SLACK_MS < pttl <= 900_000, (key, pttl)
    return found


def _export(cluster: ProcessCluster, out: Path) -> subprocess.CompletedProcess[str]:
    return _run("export", "--data-dir", str(cluster.replicas[1].data_dir), "--out", str(out))


def _exported(
    cluster: ProcessCluster, out: Path, *, extra: int = 0
) -> tuple[redis.Redis, str]:
    """Fill replica 1 (and ``extra`` more strings), SAVE, export its data dir to ``out``;
    its client, and what the export said."""
    client = cluster.client(1)
    _fill(client)
    for i in range(extra):
        client.set(f"bulk:{i}", i)
    client.save()  # the deferred effects into the data file
    done = _export(cluster, out)
    assert done.returncode == 0, done.stderr
    return client, done.stdout


def _redis_dump(out: Path, fill: Callable[[int], None]) -> None:
    """What redis-server's SAVE writes once ``fill(port)`` has run against it, at ``out``."""
    server = RedisServer.start()
    try:
        fill(server.port)
        redis.Redis(port=server.port).save()
        out.write_bytes((server.directory / "dump.rdb").read_bytes())
    finally:
        server.stop()


def _import(source: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run("import", "--in", str(source), "--port", str(port), *extra)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EPAXOSDB, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_an_export_is_a_dump_file_redis_server_loads(
    make_cluster: Callable[[int], ProcessCluster], tmp_path: Path
) -> None:
    cluster = make_cluster(1)
    out = tmp_path / "backup.rdb"
    cluster.client(1).function_load(LIBRARY)
    client, said = _exported(cluster, out)
    assert "16 keys (2 with an expiry) and 1 function library written to" in said
    server = RedisServer.start("--dir", str(tmp_path), "--dbfilename", "backup.rdb")
    try:
        theirs = redis.Redis(port=server.port)
        assert _contents(theirs) == _contents(client)
        assert _libraries(theirs) == _libraries(client) == {b"mylib": LIBRARY}
    finally:
        server.stop()


def test_redis_cli_rdb_takes_a_snapshot_redis_server_loads(
    make_cluster: Callable[[int], ProcessCluster], tmp_path: Path
) -> None:
    cluster = make_cluster(3)
    client = cluster.client(2)  # executed at replica 2 before it answers
    _fill(client)
    client.function_load(LIBRARY)
    for option, name in (("--rdb", "snapshot.rdb"), ("--functions-rdb", "functions.rdb")):
        taken = subprocess.run(
            ["redis-cli", "-p", str(cluster.port(2)), option, str(tmp_path / name)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert taken.returncode == 0, taken.stderr
        assert "Transfer finished with success" in taken.stdout + taken.stderr
    server = RedisServer.start("--dir", str(tmp_path), "--dbfilename", "snapshot.rdb")
    try:
        theirs = redis.Redis(port=server.port)
        assert _contents(theirs) == _contents(client)
        assert _libraries(theirs) == {b"mylib": LIBRARY}
    finally:
        server.stop()
    # --functions-rdb: the libraries alone (how Redis 7 moves functions between servers).
    server = RedisServer.start("--dir", str(tmp_path), "--dbfilename", "functions.rdb")
    try:
        theirs = redis.Redis(port=server.port)
        assert theirs.dbsize() == 0
        assert _libraries(theirs) == {b"mylib": LIBRARY}
    finally:
        server.stop()
    # A SYNC that would be followed by a replication stream is refused, and says why.
    with pytest.raises(redis.ResponseError, match="replication is not supported"):
        client.execute_command("SYNC")


def test_a_dump_file_redis_saved_imports_into_a_cluster(
    make_cluster: Callable[[int], ProcessCluster], tmp_path: Path
) -> None:
    dump = tmp_path / "dump.rdb"
    expected: dict[bytes, object] = {}

    def fill(port: int) -> None:
        theirs = redis.Redis(port=port)
        _fill(theirs)
        expected.update(_contents(theirs))

    _redis_dump(dump, fill)
    cluster = make_cluster(3)
    done = _import(dump, cluster.port(2))
    assert done.returncode == 0, done.stderr
    assert "16 keys restored, 0 refused" in done.stdout
    assert _contents(cluster.client(1)) == expected
    assert _contents(cluster.client(3)) == expected
    # Again: every key exists now, so each is refused unless --replace is given.
    again = _import(dump, cluster.port(1))
    assert again.returncode == 1 and "0 keys restored, 16 refused" in again.stdout
    assert "BUSYKEY" in again.stderr
    replaced = _import(dump, cluster.port(1), "--replace")
    assert replaced.returncode == 0 and "16 keys restored" in replaced.stdout


def test_an_export_imported_into_another_cluster_carries_every_key(
    make_cluster: Callable[[int], ProcessCluster], tmp_path: Path
) -> None:
    source = make_cluster(1)
    out = tmp_path / "all.rdb"
    _exported(source, out, extra=2000)
    target = make_cluster(1)
    done = _import(out, target.port(1))
    assert done.returncode == 0, done.stderr
    assert target.digest(1) == source.digest(1)


def test_a_file_with_another_database_loads_up_to_it_and_says_why_it_stopped(
    make_cluster: Callable[[int], ProcessCluster], tmp_path: Path
) -> None:
    def fill(port: int) -> None:
        redis.Redis(port=port, db=0).set("in-zero", "1")
        redis.Redis(port=port, db=1).set("in-one", "1")

    dump = tmp_path / "two-dbs.rdb"
    _redis_dump(dump, fill)
    cluster = make_cluster(1)
    done = _import(dump, cluster.port(1))
    assert done.returncode == 1 and "1 keys restored, 0 refused" in done.stdout
    assert "database 1: only database 0 exists here" in done.stderr
    assert cluster.client(1).get("in-zero") == b"1"


def test_a_damaged_file_is_refused_with_the_reason(
    make_cluster: Callable[[int], ProcessCluster], tmp_path: Path
) -> None:
    cluster = make_cluster(1)
    out = tmp_path / "backup.rdb"
    _exported(cluster, out)
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.rdb"
    damaged.write_bytes(bytes(data))
    refused = _import(damaged, cluster.port(1))
    assert refused.returncode == 1 and "checksum does not match" in refused.stderr
    not_rdb = tmp_path / "notes.txt"
    not_rdb.write_text("hello")
    refused = _import(not_rdb, cluster.port(1))
    assert refused.returncode == 1 and "not an RDB file" in refused.stderr


def _libraries(client: redis.Redis) -> dict[bytes, bytes]:
    """FUNCTION LIST WITHCODE of a server, as library name -> code (redis-py gives each
    library as a dict)."""
    listed = client.execute_command("FUNCTION", "LIST", "WITHCODE")
    return {library[b"library_name"]: library[b"library_code"] for library in listed}


def test_an_export_with_a_function_library_is_loaded_by_redis_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    def fill(txn: Txn) -> None:
        txn.put(b"k", Value(ValueType.STRING, 0, b"v"))
        txn.set_functions(encode_registry({b"mylib": LIBRARY}))

    with LmdbStore.open(data_dir, replica_id=1, cluster_id=b"rdb-functions") as store:
        store.write(fill)
    assert backup.export(data_dir, tmp_path / "functions.rdb", backup.now_ms()) == (1, 0, 1)
    server = RedisServer.start("--dir", str(tmp_path), "--dbfilename", "functions.rdb")
    try:
        client = redis.Redis(port=server.port)
        assert _libraries(client) == {b"mylib": LIBRARY}
        assert client.fcall("f", 0) == 1
        assert client.get("k") == b"v"
    finally:
        server.stop()


def test_a_dump_file_redis_saved_after_function_load_reads_back_the_library(
    tmp_path: Path,
) -> None:
    dump = tmp_path / "dump.rdb"

    def fill(port: int) -> None:
        theirs = redis.Redis(port=port)
        assert theirs.function_load(LIBRARY) == b"mylib"
        theirs.set("k", "v")

    _redis_dump(dump, fill)
    items = list(rdb_file.read(dump.read_bytes(), backup.now_ms()))
    assert items[0] == rdb_file.Library(LIBRARY)
    assert [item.key for item in items[1:] if isinstance(item, rdb_file.Entry)] == [b"k"]
