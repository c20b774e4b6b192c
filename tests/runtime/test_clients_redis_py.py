"""Real clients against the front end: redis-py 8 (RESP2 and RESP3), redis-cli, redis-benchmark.

redis-py is synchronous, so each scenario runs in a worker thread while the
server runs in the trio test. Retries are off (a retried write would hide a
dropped connection), and every socket operation has a timeout.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import redis
import trio
from redis.backoff import NoBackoff
from redis.retry import Retry

from epaxosdb.runtime.clients import ClientSettings
from tests.runtime.fakes import running_server

T = TypeVar("T")
SOCKET_TIMEOUT_S = 10.0


def client(port: int, protocol: int, **options: object) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        protocol=protocol,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
        **options,  # type: ignore[arg-type]
    )


async def in_thread(fn: Callable[[], T]) -> T:
    return await trio.to_thread.run_sync(fn)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_connects_and_runs_commands(protocol: int) -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol, client_name="tester")
            try:
                assert r.ping() is True
                assert r.set("greeting", "hello") is True
                assert r.get("greeting") == b"hello"
                assert r.incr("counter") == 1
                assert r.incrby("counter", 41) == 42
                assert r.mget("greeting", "missing") == [b"hello", None]
                assert r.exists("greeting", "missing") == 1
                assert r.delete("greeting") == 1
                assert r.get("greeting") is None
                assert r.client_getname() in ("tester", b"tester")
                assert isinstance(r.client_id(), int)
                assert r.config_get("save") == {"save": ""}
                info = r.info()
                assert info["redis_version"] == "7.0.15"
                assert info["loading"] == 0
                assert info["cluster_enabled"] == 0
                assert r.echo("x") == b"x"
            finally:
                r.close()

        await in_thread(scenario)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_pipelines_keep_order_and_transactions_are_one_reply(protocol: int) -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            try:
                pipe = r.pipeline(transaction=False)
                for _ in range(300):
                    pipe.incr("n")
                pipe.get("n")
                results = pipe.execute()
                assert results[:300] == list(range(1, 301))
                assert results[300] == b"300"

                tx = r.pipeline(transaction=True)
                tx.set("a", "1")
                tx.incr("a")
                tx.get("a")
                tx.ping()
                assert tx.execute() == [True, 2, b"2", True]

                def bump(pipe: redis.client.Pipeline) -> None:
                    value = int(pipe.get("a") or 0)
                    pipe.multi()
                    pipe.set("a", value + 1)

                assert r.transaction(bump, "a") == [True]
                assert r.get("a") == b"3"
            finally:
                r.close()

        await in_thread(scenario)


async def test_a_connection_pool_shared_by_threads_loses_no_increment() -> None:
    threads, increments = 8, 200
    async with running_server() as server:

        def scenario() -> int:
            pool = redis.ConnectionPool(
                host="127.0.0.1",
                port=server.port,
                protocol=3,
                socket_timeout=SOCKET_TIMEOUT_S,
                retry=Retry(NoBackoff(), 0),
                max_connections=threads,
            )
            r = redis.Redis(connection_pool=pool)

            def work() -> None:
                for _ in range(increments):
                    r.incr("shared")

            try:
                with ThreadPoolExecutor(threads) as executor:
                    for future in [executor.submit(work) for _ in range(threads)]:
                        future.result()
                return int(r.get("shared") or 0)
            finally:
                pool.disconnect()

        assert await in_thread(scenario) == threads * increments
        assert server.registry.statistics().total_connections_received >= 2


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_authenticates_with_the_configured_password(protocol: int) -> None:
    async with running_server(settings=ClientSettings(requirepass="pw")) as server:

        def scenario() -> None:
            good = client(server.port, protocol, password="pw")
            try:
                assert good.set("k", "v") is True
            finally:
                good.close()
            bad = client(server.port, protocol, password="wrong")
            try:
                with pytest.raises(redis.AuthenticationError):
                    bad.ping()
            finally:
                bad.close()
            anonymous = client(server.port, 2)
            try:
                with pytest.raises(redis.AuthenticationError):
                    anonymous.get("k")
            finally:
                anonymous.close()

        await in_thread(scenario)


async def test_redis_py_maps_error_replies_to_its_exceptions() -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, 3)
            try:
                with pytest.raises(redis.ResponseError, match="unknown command 'NOPE'"):
                    r.execute_command("NOPE", "x")  # type: ignore[no-untyped-call]
                r.set("s", "text")
                with pytest.raises(redis.ResponseError, match="not an integer"):
                    r.incr("s")
                assert r.ping() is True
            finally:
                r.close()

        await in_thread(scenario)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is needed: run `make test` as root or apt-get install redis-tools")
    return path


async def test_redis_cli_one_shot_commands_in_both_protocols() -> None:
    cli = _tool("redis-cli")
    async with running_server() as server:

        def run(*args: str) -> str:
            done = subprocess.run(
                [cli, "-h", "127.0.0.1", "-p", str(server.port), *args],
                capture_output=True,
                timeout=30,
                check=True,
            )
            return done.stdout.decode().strip()

        assert await in_thread(lambda: run("SET", "k", "v")) == "OK"
        assert await in_thread(lambda: run("-3", "GET", "k")) == "v"
        assert await in_thread(lambda: run("-3", "--no-raw", "GET", "missing")) == "(nil)"
        assert "redis_version:7.0.15" in await in_thread(lambda: run("INFO", "server"))


async def test_redis_benchmark_runs_its_default_string_tests_without_errors() -> None:
    benchmark = _tool("redis-benchmark")
    async with running_server() as server:

        def run() -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(
                [benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-q", "-n", "2000",
                 "-c", "4", "-P", "8", "-t", "ping_inline,ping_mbulk,set,get,incr,mset"],
                capture_output=True,
                timeout=60,
            )  # fmt: skip

        done = await in_thread(run)
        output = done.stdout.decode()
        assert done.returncode == 0, output + done.stderr.decode()
        assert "Error" not in output and "WARNING" not in done.stderr.decode()
        for test in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"):
            assert f"{test}:" in output or f"{test} " in output


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_runs_a_consumer_group_workflow(protocol: int) -> None:
    """redis-py parses every consumer-group reply it has a parser for (XINFO's maps,
    XPENDING's summary, XAUTOCLAIM's three parts) in both protocols."""
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            try:
                assert r.xgroup_create("jobs", "workers", id="$", mkstream=True) is True
                r.xadd("jobs", {"n": "1"}, id="1-1")
                r.xadd("jobs", {"n": "2"}, id="2-1")
                read = r.xreadgroup("workers", "alice", {"jobs": ">"}, count=1)
                if protocol == 2:
                    assert read == [[b"jobs", [(b"1-1", {b"n": b"1"})]]]
                else:
                    assert read == {b"jobs": [[(b"1-1", {b"n": b"1"})]]}
                assert r.xpending("jobs", "workers") == {
                    "pending": 1, "min": b"1-1", "max": b"1-1",
                    "consumers": [{"name": b"alice", "pending": 1}],
                }  # fmt: skip
                entries = r.xpending_range("jobs", "workers", "-", "+", 10)
                summary = [(e["message_id"], e["consumer"], e["times_delivered"]) for e in entries]
                assert summary == [(b"1-1", b"alice", 1)]
                claimed = r.xautoclaim("jobs", "workers", "bob", 0, "0-0", justid=True)
                assert claimed == [b"1-1"]  # redis-py keeps only the IDs with JUSTID
                assert r.xack("jobs", "workers", "1-1") == 1
                (group,) = r.xinfo_groups("jobs")
                assert group["name"] == b"workers" and group["pending"] == 0
                assert group["lag"] == 1 and group["entries-read"] == 1
                names = {c["name"] for c in r.xinfo_consumers("jobs", "workers")}
                assert names == {b"alice", b"bob"}
                info = r.xinfo_stream("jobs")
                assert info["length"] == 2 and info["groups"] == 1
                assert info["first-entry"] == (b"1-1", {b"n": b"1"})
                full = r.xinfo_stream("jobs", full=True)
                assert full["groups"][0]["name"] == b"workers"
            finally:
                r.close()

        await in_thread(scenario)
