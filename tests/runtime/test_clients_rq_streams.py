"""RQ's job results through redis-py: the exact calls ``rq.results.Result`` makes.

RQ is not a test dependency, so its command sequence is replayed with redis-py as RQ
issues it: ``Result.save`` adds with ``xadd(key, fields, maxlen=10)`` (``MAXLEN ~ 10``)
inside the worker's transaction, next to an ``expire``; ``Result.fetch_latest`` reads
with ``xrevrange(key, '+', '-', count=1)``, or with ``xread({key: '0-0'},
block=timeout_ms)`` when asked to wait; ``Result.all`` with ``xrevrange(key, '+', '-')``;
``Result.count`` with ``xlen``; ``Result.delete_all`` with ``delete``.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.runtime.fakes import running_server
from tests.runtime.test_clients_redis_py import client, in_thread

KEY = "rq:results:job-1"


def _save(r: redis.Redis, payload: dict[str, str], ttl: int = 500) -> bytes:
    """``Result.save`` in the worker's pipeline (a MULTI/EXEC)."""
    with r.pipeline() as pipe:
        pipe.xadd(KEY, payload, maxlen=10)  # type: ignore[arg-type]
        pipe.expire(KEY, ttl)
        added, expired = pipe.execute()
    assert expired is True
    assert isinstance(added, bytes)
    return added


def _stream_entries(response: object) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """``response[0][1]`` as RQ reads XREAD's reply (RESP2 list; RESP3: a dict)."""
    if isinstance(response, dict):
        (entries,) = response.values()
        if entries and isinstance(entries[0], list):  # redis-py's RESP3 nesting
            (entries,) = entries
        return list(entries)
    assert isinstance(response, list)
    return list(response[0][1])


@pytest.mark.parametrize("protocol", [2, 3])
async def test_rq_result_calls_work_unchanged(protocol: int) -> None:
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            waiter = client(server.port, protocol)
            try:
                assert r.xrevrange(KEY, "+", "-", count=1) == []  # fetch_latest: none yet
                assert r.xlen(KEY) == 0
                assert waiter.xread({KEY: "0-0"}, block=30) in ([], {}, None)  # times out

                ids = [_save(r, {"type": "1", "return_value": f"r{i}"}) for i in range(12)]
                assert len(set(ids)) == 12
                parsed = [tuple(int(part) for part in i.split(b"-")) for i in ids]
                assert parsed == sorted(parsed), "IDs only grow"
                assert 0 < r.ttl(KEY) <= 500

                assert r.xlen(KEY) == 10  # MAXLEN ~ 10 keeps the ten newest
                latest = r.xrevrange(KEY, "+", "-", count=1)
                assert latest == [(ids[-1], {b"type": b"1", b"return_value": b"r11"})]
                every = r.xrevrange(KEY, "+", "-")
                assert every is not None
                assert [entry_id for entry_id, _ in every] == ids[::-1][:10]

                response = waiter.xread({KEY: "0-0"}, block=1000)  # served at once
                entries = _stream_entries(response)
                assert entries[-1] == (ids[-1], {b"type": b"1", b"return_value": b"r11"})
                assert len(entries) == 10

                assert r.delete(KEY) == 1
                assert r.xlen(KEY) == 0
            finally:
                r.close()
                waiter.close()

        await in_thread(scenario)
        adds = [op for cmd in server.backend.submitted for op in cmd.ops if op[0] == b"XADD"]
        assert len(adds) == 12
        assert adds[0][:6] == (b"XADD", KEY.encode(), b"MAXLEN", b"~", b"10", b"*")


@pytest.mark.parametrize("protocol", [2, 3])
async def test_rq_fetch_latest_with_a_timeout_is_woken_by_the_worker(protocol: int) -> None:
    """``Result.fetch_latest(job, timeout=...)`` blocks in XREAD until the worker saves."""
    async with running_server() as server:

        def scenario() -> None:
            r = client(server.port, protocol)
            worker = client(server.port, protocol)
            saved: list[bytes] = []

            def work() -> None:
                time.sleep(0.05)
                saved.append(_save(worker, {"type": "2", "exc_string": "Traceback..."}))

            thread = threading.Thread(target=work)
            try:
                thread.start()
                started = time.monotonic()
                response = r.xread({KEY: "0-0"}, block=5000)
                assert time.monotonic() - started < 4
                result_id, payload = _stream_entries(response)[-1]
                thread.join()
                assert saved == [result_id]
                assert payload == {b"type": b"2", b"exc_string": b"Traceback..."}
            finally:
                thread.join()
                r.close()
                worker.close()

        await in_thread(scenario)
