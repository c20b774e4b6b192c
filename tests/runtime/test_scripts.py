"""Lua scripts through the front end: EVAL, EVAL_RO, EVALSHA and SCRIPT, as clients use them.

EVALSHA and SCRIPT are answered by the front end from its replica's script
cache (``epaxosdb.runtime.scripts``), EVALSHA being proposed as the EVAL it
names; EVAL itself runs in the (fake) consensus loop with the real handler.
redis-py is synchronous, so each scenario runs in a worker thread while the
server runs in the trio test, with retries off and socket timeouts; exact
error texts (redis-py strips the ``ERR`` code) are read with ``RawClient``.
"""

from __future__ import annotations

import hashlib
import re
import time

import pytest
import redis
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError
from redis.lock import Lock

from tests.runtime.fakes import RawClient, running_server
from tests.runtime.test_clients_redis_py import client, in_thread

INCR_SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
INCR_SHA = hashlib.sha1(INCR_SCRIPT.encode()).hexdigest()
NOSCRIPT = b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
UNKNOWN_SHA = "0123456789abcdef0123456789abcdef01234567"


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_script_load_returns_the_lowercase_sha1_and_evalsha_runs_it_in_either_case(
    protocol: int,
) -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            try:
                sha = r.script_load(INCR_SCRIPT)
                assert sha == INCR_SHA
                assert sha == sha.lower()
                assert r.evalsha(sha, 1, "counter", 5) == 5
                assert r.evalsha(sha.upper(), 1, "counter", 2) == 7
                get_sha = r.script_load("return redis.call('GET', KEYS[1])")
                assert r.evalsha_ro(get_sha.upper(), 1, "counter") == b"7"
                assert r.get("counter") == b"7"
            finally:
                r.close()

        await in_thread(scenario)
        raw = await RawClient.connect(server.port)
        try:
            # The wire reply: a bulk string of 40 lower-case hex digits.
            assert await raw.call("SCRIPT", "LOAD", INCR_SCRIPT) == bulk(INCR_SHA.encode())
            assert await raw.call("evalsha", INCR_SHA.upper(), "1", "counter", "1") == b":8\r\n"
        finally:
            await raw.aclose()


async def test_evalsha_of_an_unknown_sha_answers_noscript() -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("EVALSHA", UNKNOWN_SHA, "0") == NOSCRIPT
            assert await raw.call("EVALSHA_RO", UNKNOWN_SHA, "0") == NOSCRIPT
            assert await raw.call("EVALSHA", "not-a-sha", "1", "k") == NOSCRIPT
            assert await raw.call("EXISTS", "k") == b":0\r\n"  # nothing was proposed
            assert await raw.call("PING") == b"+PONG\r\n"
        finally:
            await raw.aclose()

        def scenario() -> None:
            r = client(server.port, 3)
            try:
                message = re.escape("No matching script. Please use EVAL.")
                with pytest.raises(NoScriptError, match=message):
                    r.evalsha(UNKNOWN_SHA, 0)
            finally:
                r.close()

        await in_thread(scenario)


async def test_eval_makes_its_script_available_to_evalsha_and_script_exists() -> None:
    body = "return ARGV[1] .. '!'"
    sha = hashlib.sha1(body.encode()).hexdigest()
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, 3)
            try:
                assert r.script_exists(sha) == [False]
                with pytest.raises(NoScriptError):
                    r.evalsha(sha, 0, "hi")
                assert r.eval(body, 0, "hi") == b"hi!"
                assert r.script_exists(sha) == [True]
                assert r.evalsha(sha, 0, "again") == b"again!"
                # Another connection to the same replica shares its cache.
                other = client(server.port, 2)
                try:
                    assert other.evalsha(sha, 0, "there") == b"there!"
                finally:
                    other.close()
            finally:
                r.close()

        await in_thread(scenario)


async def test_eval_of_a_script_that_does_not_compile_is_not_cached() -> None:
    body = "return (("
    sha = hashlib.sha1(body.encode()).hexdigest()
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            reply = await raw.call("EVAL", body, "0")
            assert reply.startswith(b"-ERR Error compiling script (new function): user_script:1:")
            assert await raw.call("SCRIPT", "EXISTS", sha) == b"*1\r\n:0\r\n"
            assert await raw.call("EVALSHA", sha, "0") == NOSCRIPT
            assert await raw.call("SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1") == (
                b"-ERR Unexpected flag in script shebang: bogus\r\n"
            )
        finally:
            await raw.aclose()


async def test_eval_and_evalsha_check_the_key_count() -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SCRIPT", "LOAD", INCR_SCRIPT) == bulk(INCR_SHA.encode())
            for command, script in (("EVAL", INCR_SCRIPT), ("EVALSHA", INCR_SHA)):
                assert await raw.call(command, script, "2", "k") == (
                    b"-ERR Number of keys can't be greater than number of args\r\n"
                )
                assert await raw.call(command, script, "-1") == (
                    b"-ERR Number of keys can't be negative\r\n"
                )
                assert await raw.call(command, script, "x") == (
                    b"-ERR value is not an integer or out of range\r\n"
                )
            assert await raw.call("EXISTS", "k") == b":0\r\n"
        finally:
            await raw.aclose()


async def test_eval_refused_for_its_key_count_does_not_cache_the_script() -> None:
    body = "return 'never ran'"
    sha = hashlib.sha1(body.encode()).hexdigest()
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            reply = await raw.call("EVAL", body, "3", "k")
            assert reply == b"-ERR Number of keys can't be greater than number of args\r\n"
            assert await raw.call("SCRIPT", "EXISTS", sha) == b"*1\r\n:0\r\n"
        finally:
            await raw.aclose()


async def test_script_exists_answers_one_flag_per_sha_in_order() -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, 2)
            try:
                loaded = r.script_load("return 1")
                assert r.script_exists(loaded, UNKNOWN_SHA, loaded.upper(), "short") == [
                    True,
                    False,
                    True,
                    False,
                ]
            finally:
                r.close()

        await in_thread(scenario)
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SCRIPT", "EXISTS", UNKNOWN_SHA) == b"*1\r\n:0\r\n"
            reply = await raw.call("SCRIPT", "EXISTS")
            assert reply.startswith(b"-ERR wrong number of arguments"), reply
        finally:
            await raw.aclose()


@pytest.mark.parametrize("mode", [(), ("SYNC",), ("ASYNC",), ("async",)])
async def test_script_flush_empties_the_cache_in_every_mode(mode: tuple[str, ...]) -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SCRIPT", "LOAD", INCR_SCRIPT) == bulk(INCR_SHA.encode())
            assert await raw.call("EVAL", "return 7", "0") == b":7\r\n"
            evaluated_sha = hashlib.sha1(b"return 7").hexdigest()
            assert await raw.call("SCRIPT", "EXISTS", INCR_SHA, evaluated_sha) == (
                b"*2\r\n:1\r\n:1\r\n"
            )
            assert await raw.call("SCRIPT", "FLUSH", *mode) == b"+OK\r\n"
            assert await raw.call("SCRIPT", "EXISTS", INCR_SHA, evaluated_sha) == (
                b"*2\r\n:0\r\n:0\r\n"
            )
            assert await raw.call("EVALSHA", INCR_SHA, "1", "k", "1") == NOSCRIPT
            # Loading it again brings it back.
            assert await raw.call("SCRIPT", "LOAD", INCR_SCRIPT) == bulk(INCR_SHA.encode())
            assert await raw.call("EVALSHA", INCR_SHA, "1", "k", "1") == b":1\r\n"
        finally:
            await raw.aclose()


@pytest.mark.parametrize("arguments", [("LAZY",), ("SYNC", "ASYNC"), ("",)])
async def test_script_flush_with_a_bad_option_is_refused_and_keeps_the_cache(
    arguments: tuple[str, ...],
) -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SCRIPT", "LOAD", INCR_SCRIPT) == bulk(INCR_SHA.encode())
            assert await raw.call("SCRIPT", "FLUSH", *arguments) == (
                b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
            )
            assert await raw.call("SCRIPT", "EXISTS", INCR_SHA) == b"*1\r\n:1\r\n"
        finally:
            await raw.aclose()


async def test_script_kill_answers_notbusy() -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SCRIPT", "KILL") == (
                b"-NOTBUSY No scripts in execution right now.\r\n"
            )
        finally:
            await raw.aclose()

        def scenario() -> None:
            r = client(server.port, 3)
            try:
                with pytest.raises(redis.ResponseError, match=r"^NOTBUSY No scripts in execution"):
                    r.script_kill()
            finally:
                r.close()

        await in_thread(scenario)


async def test_script_help_lists_the_subcommands() -> None:
    async with running_server() as server:

        def scenario() -> list[bytes]:
            r = client(server.port, 2)
            try:
                return list(r.execute_command("SCRIPT", "HELP"))
            finally:
                r.close()

        lines = await in_thread(scenario)
        assert lines[0].startswith(b"SCRIPT <subcommand>")
        for sub in (b"EXISTS", b"FLUSH", b"KILL", b"LOAD", b"HELP"):
            assert any(line.startswith(sub) for line in lines), sub


async def test_script_load_of_a_script_that_does_not_compile_is_an_error_and_not_cached() -> None:
    body = "return redis.call('GET', KEYS[1]"
    sha = hashlib.sha1(body.encode()).hexdigest()
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            reply = await raw.call("SCRIPT", "LOAD", body)
            assert reply.startswith(b"-ERR Error compiling script (new function): user_script:1:")
            assert reply.endswith(b"\r\n") and reply.count(b"\r\n") == 1
            assert await raw.call("SCRIPT", "EXISTS", sha) == b"*1\r\n:0\r\n"
            assert await raw.call("EVALSHA", sha, "1", "k") == NOSCRIPT
        finally:
            await raw.aclose()


async def test_evalsha_inside_multi_runs_a_known_script_and_fails_only_an_unknown_one() -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SCRIPT", "LOAD", INCR_SCRIPT) == bulk(INCR_SHA.encode())
            assert await raw.call("MULTI") == b"+OK\r\n"
            assert await raw.call("EVALSHA", INCR_SHA, "1", "n", "10") == b"+QUEUED\r\n"
            assert await raw.call("EVALSHA", UNKNOWN_SHA, "1", "n") == b"+QUEUED\r\n"
            assert await raw.call("INCR", "n") == b"+QUEUED\r\n"
            assert await raw.call("EVALSHA", INCR_SHA.upper(), "1", "n", "100") == b"+QUEUED\r\n"
            assert await raw.call("EXEC") == (
                b"*4\r\n:10\r\n" + NOSCRIPT + b":11\r\n:111\r\n"
            )
            assert await raw.call("GET", "n") == bulk(b"111")
        finally:
            await raw.aclose()


async def test_evalsha_queued_in_multi_looks_the_script_up_when_exec_runs() -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        other = await RawClient.connect(server.port)
        try:
            assert await raw.call("MULTI") == b"+OK\r\n"
            # Not loaded yet when queued, loaded (by another client) before EXEC: it runs.
            assert await raw.call("EVALSHA", INCR_SHA, "1", "n", "1") == b"+QUEUED\r\n"
            assert await other.call("SCRIPT", "LOAD", INCR_SCRIPT) == bulk(INCR_SHA.encode())
            assert await raw.call("EXEC") == b"*1\r\n:1\r\n"
            # Loaded when queued, flushed before EXEC: NOSCRIPT for that item only.
            assert await raw.call("MULTI") == b"+OK\r\n"
            assert await raw.call("EVALSHA", INCR_SHA, "1", "n", "1") == b"+QUEUED\r\n"
            assert await raw.call("SET", "other", "x") == b"+QUEUED\r\n"
            assert await other.call("SCRIPT", "FLUSH") == b"+OK\r\n"
            assert await raw.call("EXEC") == b"*2\r\n" + NOSCRIPT + b"+OK\r\n"
            assert await raw.call("GET", "n") == bulk(b"1")
        finally:
            await raw.aclose()
            await other.aclose()


async def test_eval_inside_multi_makes_its_script_available_to_evalsha() -> None:
    body = "return 'from multi'"
    sha = hashlib.sha1(body.encode()).hexdigest()
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("MULTI") == b"+OK\r\n"
            assert await raw.call("EVAL", body, "0") == b"+QUEUED\r\n"
            assert await raw.call("EXEC") == b"*1\r\n" + bulk(b"from multi")
            assert await raw.call("SCRIPT", "EXISTS", sha) == b"*1\r\n:1\r\n"
        finally:
            await raw.aclose()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_evalsha_in_transaction_pipelines_mixes_results_and_errors(
    protocol: int,
) -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            try:
                sha = r.script_load(INCR_SCRIPT)
                tx = r.pipeline(transaction=True)
                tx.evalsha(sha, 1, "n", 3)
                tx.evalsha(UNKNOWN_SHA, 0)
                tx.get("n")
                results = tx.execute(raise_on_error=False)
                assert results[0] == 3
                assert isinstance(results[1], NoScriptError)
                assert results[2] == b"3"
            finally:
                r.close()

        await in_thread(scenario)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_registered_scripts_run_and_reload_themselves_after_script_flush(
    protocol: int,
) -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            try:
                bump = r.register_script(INCR_SCRIPT)
                pair = r.register_script(
                    "redis.call('SET', KEYS[1], ARGV[1]); "
                    "return {redis.call('GET', KEYS[1]), redis.call('STRLEN', KEYS[1])}"
                )
                # Never loaded: redis-py meets NOSCRIPT, loads it and retries.
                assert bump(keys=["n"], args=[4]) == 4
                assert r.script_exists(bump.sha) == [True]
                assert bump(keys=["n"], args=[1]) == 5
                assert pair(keys=["s"], args=["abc"]) == [b"abc", 3]
                assert r.script_flush() is True
                assert r.script_exists(bump.sha, pair.sha) == [False, False]
                assert bump(keys=["n"], args=[10]) == 15
                assert pair(keys=["s"], args=["xy"]) == [b"xy", 2]
                # In a pipeline, redis-py checks SCRIPT EXISTS and loads before EXEC.
                r.script_flush("SYNC")
                pipe = r.pipeline(transaction=True)
                bump(keys=["n"], args=[1], client=pipe)
                pair(keys=["s"], args=["z"], client=pipe)
                assert pipe.execute() == [16, [b"z", 1]]
                assert r.get("n") == b"16"
            finally:
                r.close()

        await in_thread(scenario)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_lock_acquires_extends_and_releases_through_scripts(protocol: int) -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            rival_client = client(server.port, protocol)
            try:
                lock = Lock(r, "resource", timeout=5, blocking=False)
                rival = Lock(rival_client, "resource", timeout=5, blocking=False)
                assert lock.acquire() is True
                assert lock.owned() is True
                assert lock.locked() is True
                assert rival.acquire() is False
                assert rival.owned() is False
                assert 0 < r.pttl("resource") <= 5000
                assert lock.extend(20) is True  # LUA_EXTEND_SCRIPT: adds to the TTL
                assert 20_000 < r.pttl("resource") <= 25_000
                assert lock.extend(3, replace_ttl=True) is True
                assert 0 < r.pttl("resource") <= 3000
                assert lock.reacquire() is True  # LUA_REACQUIRE_SCRIPT: back to timeout
                assert 3000 < r.pttl("resource") <= 5000
                with pytest.raises(LockError):
                    rival.release()  # never acquired: no token
                lock.release()  # LUA_RELEASE_SCRIPT
                assert r.exists("resource") == 0
                with pytest.raises(LockError):
                    lock.release()
                assert rival.acquire() is True
                # The first holder's token is gone, so its scripts refuse to act.
                lock.local.token = b"stale-token"
                with pytest.raises(LockNotOwnedError):
                    lock.extend(1)
                with pytest.raises(LockNotOwnedError):
                    lock.reacquire()
                with pytest.raises(LockNotOwnedError):
                    lock.release()  # (and forgets the token)
                assert rival.owned() is True
                with r.lock("other", timeout=5, blocking_timeout=2):
                    assert r.exists("other") == 1
                assert r.exists("other") == 0
                rival.release()
                assert r.exists("resource") == 0
            finally:
                r.close()
                rival_client.close()

        await in_thread(scenario)


async def test_eval_ro_refuses_a_write_and_leaves_the_key_alone() -> None:
    write = "return redis.call('SET', KEYS[1], 'changed')"
    read = "return redis.call('GET', KEYS[1])"
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SET", "k", "v") == b"+OK\r\n"
            reply = await raw.call("EVAL_RO", write, "1", "k")
            assert reply.startswith(
                b"-ERR Write commands are not allowed from read-only scripts."
            ), reply
            assert await raw.call("EVAL_RO", read, "1", "k") == bulk(b"v")
            assert await raw.call("SCRIPT", "LOAD", write) == bulk(
                hashlib.sha1(write.encode()).hexdigest().encode()
            )
            sha = hashlib.sha1(write.encode()).hexdigest()
            reply = await raw.call("EVALSHA_RO", sha, "1", "k")
            assert reply.startswith(
                b"-ERR Write commands are not allowed from read-only scripts."
            ), reply
            assert await raw.call("GET", "k") == bulk(b"v")
            # The same script through EVALSHA (not _RO) may write.
            assert await raw.call("EVALSHA", sha, "1", "k") == b"+OK\r\n"
            assert await raw.call("GET", "k") == bulk(b"changed")
        finally:
            await raw.aclose()

        def scenario() -> None:
            r = client(server.port, 3)
            try:
                with pytest.raises(redis.ResponseError, match="not allowed from read-only"):
                    r.eval_ro("return redis.call('DEL', KEYS[1])", 1, "k")
                assert r.get("k") == b"changed"
            finally:
                r.close()

        await in_thread(scenario)


@pytest.mark.parametrize(
    "script",
    [
        "return redis.call('SET', 'elsewhere', 'overwritten')",
        "return redis.call('DEL', 'elsewhere')",
        "return redis.call('GET', 'elsewhere')",
        "return redis.call('MSET', KEYS[1], 'a', 'elsewhere', 'b')",
        "return redis.call('RENAME', KEYS[1], 'elsewhere')",
        "redis.call('EXPIRE', 'elsewhere', 1); return 1",
    ],
)
async def test_a_script_touching_an_undeclared_key_fails_and_leaves_that_key_untouched(
    script: str,
) -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("SET", "elsewhere", "original") == b"+OK\r\n"
            assert await raw.call("SET", "declared", "mine") == b"+OK\r\n"
            reply = await raw.call("EVAL", script, "1", "declared")
            assert reply.startswith(
                b"-ERR Script attempted to access a key not declared in its KEYS"
            ), reply
            assert await raw.call("GET", "elsewhere") == bulk(b"original")
            assert await raw.call("TTL", "elsewhere") == b":-1\r\n"
            assert await raw.call("GET", "declared") == bulk(b"mine")
        finally:
            await raw.aclose()


async def test_redis_pcall_catches_the_undeclared_key_error_as_an_error_table() -> None:
    script = (
        "local r = redis.pcall('SET', 'elsewhere', 'x'); "
        "redis.call('SET', KEYS[1], 'after'); return r"
    )
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            reply = await raw.call("EVAL", script, "1", "declared")
            assert reply.startswith(
                b"-ERR Script attempted to access a key not declared in its KEYS"
            ), reply
            assert await raw.call("EXISTS", "elsewhere") == b":0\r\n"
            assert await raw.call("GET", "declared") == bulk(b"after")
        finally:
            await raw.aclose()


@pytest.mark.parametrize(
    "call",
    [
        "redis.call('KEYS', '*')",
        "redis.call('SCAN', '0')",
        "redis.call('FLUSHALL')",
        "redis.call('FLUSHDB')",
        "redis.call('DBSIZE')",
        "redis.call('BLPOP', KEYS[1], '0')",
        "redis.call('PUBLISH', 'channel', 'message')",
        "redis.call('EVAL', 'return 1', '0')",
    ],
)
async def test_scripts_may_not_run_keyspace_blocking_or_publishing_commands(call: str) -> None:
    async with running_server() as server:
        raw = await RawClient.connect(server.port)
        try:
            assert await raw.call("RPUSH", "declared", "item") == b":1\r\n"
            reply = await raw.call("EVAL", f"return {call}", "1", "declared")
            assert reply.startswith(b"-ERR This Redis command is not allowed from script"), reply
            assert await raw.call("LRANGE", "declared", "0", "-1") == b"*1\r\n" + bulk(b"item")
        finally:
            await raw.aclose()


async def test_scripts_see_a_deterministic_random_and_the_commands_time() -> None:
    script = (
        "local t = redis.call('TIME'); "
        "return {math.random(1000000), math.random(1000000), t[1], t[2]}"
    )
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, 2)
            try:
                before = time.time()
                first = r.eval(script, 0)
                after = time.time()
                second = r.eval(script, 0)
                assert all(1 <= n <= 1_000_000 for n in first[:2] + second[:2])
                assert first[:2] != second[:2]  # seeded per command, not per script
                seconds = int(first[2]) + int(first[3]) / 1e6
                assert before - 1 <= seconds <= after + 1
            finally:
                r.close()

        await in_thread(scenario)
