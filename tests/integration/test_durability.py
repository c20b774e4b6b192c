"""What a replica acknowledged survives ``kill -9``: values and expiries, read back after restart.

A reply leaves a replica only after the command is committed and executed
in an fsynced LMDB transaction (DESIGN.md §2), so SIGKILL at any moment —
between commands or in the middle of a write load — must not lose an
acknowledged write, nor its expiry. Expiry deadlines are absolute (stamped
when proposed), so after the restart a key's PTTL is its original deadline
minus now, and keys whose deadline passed while the replica was down are
gone.
"""

from __future__ import annotations

import threading
import time

import redis

from tests.integration.cluster import ProcessCluster, wait_until
from tests.redis_server import RawConnection

ONE_BY_ONE = 2_000
PIPELINED = 8_000
PIPELINE_BATCH = 250
LONG_EX_S = 1_000
LONG_PX_MS = 800_000
SHORT_PX_MS = 300
"""Short enough to have passed by the time the killed replica serves again."""
SERVE_AGAIN_S = 60.0
CLOCK_SLACK_MS = 50
"""The replica stamps a command with its wall clock between our send and its reply."""
WRITES_BEFORE_KILL = 300


def expiry_of(i: int) -> tuple[str, int] | None:
    """Which expiry key ``i`` gets: a mix of none, EX, PX and an already-short PX."""
    match i % 7:
        case 1 | 4:
            return ("ex", LONG_EX_S)
        case 2:
            return ("px", LONG_PX_MS)
        case 5:
            return ("px", SHORT_PX_MS)
        case _:
            return None


def ttl_ms(option: tuple[str, int]) -> int:
    kind, amount = option
    return amount * 1000 if kind == "ex" else amount


def set_args(i: int) -> tuple[str, str, int | None, int | None]:
    """Key, value, EX seconds and PX milliseconds of the SET of key ``i``."""
    option = expiry_of(i)
    ex = option[1] if option is not None and option[0] == "ex" else None
    px = option[1] if option is not None and option[0] == "px" else None
    return f"dur:{i}", f"value:{i}:{'x' * (i % 50)}", ex, px


def test_acknowledged_keys_and_expiries_survive_kill_9(cluster1: ProcessCluster) -> None:
    r = cluster1.client(1)
    r.flushall()
    windows: dict[int, tuple[float, float]] = {}  # key index → when its SET was stamped (ms)
    for i in range(ONE_BY_ONE):
        key, value, ex, px = set_args(i)
        sent = time.time() * 1000
        assert r.set(key, value, ex=ex, px=px) is True
        windows[i] = (sent, time.time() * 1000)
    for start in range(ONE_BY_ONE, ONE_BY_ONE + PIPELINED, PIPELINE_BATCH):
        batch = range(start, start + PIPELINE_BATCH)
        with r.pipeline(transaction=False) as pipe:
            for i in batch:
                key, value, ex, px = set_args(i)
                pipe.set(key, value, ex=ex, px=px)
            sent = time.time() * 1000
            assert pipe.execute() == [True] * PIPELINE_BATCH
            acked = time.time() * 1000
        windows.update(dict.fromkeys(batch, (sent, acked)))

    cluster1.kill9(1)
    cluster1.restart(1)
    cluster1.wait_serving(1, SERVE_AGAIN_S)

    r = cluster1.client(1)
    indexes = sorted(windows)
    shorts_expire_ms = max(windows[i][1] for i in indexes if _short(i)) + SHORT_PX_MS
    time.sleep(max(0.0, (shorts_expire_ms + CLOCK_SLACK_MS) / 1000 - time.time()))
    with r.pipeline(transaction=False) as pipe:
        for i in indexes:
            pipe.get(f"dur:{i}")
            pipe.pttl(f"dur:{i}")
        checked_from = time.time() * 1000
        replies = pipe.execute()
        checked_to = time.time() * 1000
    problems = []
    for n, i in enumerate(indexes):
        value, pttl = replies[2 * n], replies[2 * n + 1]
        option = expiry_of(i)
        if _short(i):
            if value is not None:
                problems.append(f"dur:{i} should have expired, has {value!r} pttl {pttl}")
            continue
        if value != set_args(i)[1].encode():
            problems.append(f"dur:{i}: {value!r}")
            continue
        if option is None:
            if pttl != -1:
                problems.append(f"dur:{i} has no expiry, but PTTL {pttl}")
            continue
        sent, acked = windows[i]
        # deadline = stamp + ttl, stamp in [sent, acked]; PTTL read in [checked_from, checked_to]
        low = sent + ttl_ms(option) - checked_to - CLOCK_SLACK_MS
        high = acked + ttl_ms(option) - checked_from + CLOCK_SLACK_MS
        if not low <= pttl <= high:
            problems.append(f"dur:{i}: PTTL {pttl} not in [{low:.0f}, {high:.0f}]")
    assert not problems, f"{len(problems)} of {len(indexes)} keys wrong: {problems[:10]}"
    assert r.dbsize() == sum(1 for i in indexes if not _short(i))


def _short(i: int) -> bool:
    option = expiry_of(i)
    return option is not None and ttl_ms(option) == SHORT_PX_MS


def test_writes_acknowledged_before_a_kill_during_load_survive(cluster1: ProcessCluster) -> None:
    r = cluster1.client(1)
    r.flushall()
    acknowledged: list[int] = []
    failed: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        writer = cluster1.client(1, socket_timeout=5.0)
        i = 0
        while not stop.is_set():
            try:
                writer.set(f"load:{i}", i)
                acknowledged.append(i)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                failed.append(exc)  # the kill: this one is indeterminate
                return
            i += 1

    writers = [threading.Thread(target=write, daemon=True)]
    writers[0].start()
    wait_until(lambda: len(acknowledged) >= WRITES_BEFORE_KILL, 30, "the write load getting going")
    cluster1.kill9(1)
    writers[0].join(30)
    stop.set()
    assert not writers[0].is_alive()
    assert failed, "the writer should have seen its connection die"

    cluster1.restart(1)
    cluster1.wait_serving(1, SERVE_AGAIN_S)
    r = cluster1.client(1)
    values = r.mget([f"load:{i}" for i in acknowledged])
    lost = [i for i, v in zip(acknowledged, values, strict=True) if v != str(i).encode()]
    assert not lost, f"{len(lost)} acknowledged writes lost after kill -9: {lost[:10]}"


def test_sigterm_stops_a_replica_with_exit_0_and_it_restarts_with_its_data(
    cluster1: ProcessCluster,
) -> None:
    r = cluster1.client(1)
    assert r.set("before-sigterm", "kept", px=LONG_PX_MS) is True
    assert cluster1.terminate(1) == 0
    assert "stopped cleanly" in cluster1.log_tail(1, 5)
    cluster1.restart(1)
    cluster1.wait_serving(1, SERVE_AGAIN_S)
    r = cluster1.client(1)
    assert r.get("before-sigterm") == b"kept"
    assert 0 < r.pttl("before-sigterm") <= LONG_PX_MS


def test_shutdown_command_stops_a_replica_with_exit_0_and_it_restarts_with_its_data(
    cluster1: ProcessCluster,
) -> None:
    """``redis-cli shutdown``: no reply, the connection closes, the process exits 0."""
    with RawConnection(cluster1.port(1)) as conn:
        assert conn.call(b"SET", b"before-shutdown", b"kept") == b"+OK\r\n"
        conn.sock.sendall(b"SHUTDOWN\r\n")
        assert conn.sock.recv(64) == b"", "SHUTDOWN must close the connection without a reply"
    assert cluster1.wait_exit(1) == 0
    tail = cluster1.log_tail(1, 5)
    assert "SHUTDOWN from client" in tail and "stopped cleanly" in tail, tail
    cluster1.restart(1)
    cluster1.wait_serving(1, SERVE_AGAIN_S)
    assert cluster1.client(1).get("before-shutdown") == b"kept"


def test_fields_added_to_one_hash_one_by_one_survive_a_kill_during_load(
    cluster1: ProcessCluster,
) -> None:
    """A hash changed by one command per loop turn stays decoded between turns until its
    deferred write (``storage.buffered``): the acknowledged fields must survive a kill
    that finds it decoded, and the set added the same way too."""
    r = cluster1.client(1)
    r.flushall()
    r.hset("big", mapping={f"seed:{i}": i for i in range(2_000)})
    acknowledged: list[int] = []
    failed: list[BaseException] = []

    def write() -> None:
        writer = cluster1.client(1, socket_timeout=5.0)
        i = 0
        while True:
            try:
                writer.hset("big", f"f:{i}", i)
                writer.sadd("members", i)
                acknowledged.append(i)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                failed.append(exc)  # the kill: the one in flight is indeterminate
                return
            i += 1

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    wait_until(lambda: len(acknowledged) >= WRITES_BEFORE_KILL, 30, "the write load getting going")
    cluster1.kill9(1)
    writer.join(30)
    assert not writer.is_alive()
    assert failed, "the writer should have seen its connection die"

    cluster1.restart(1)
    cluster1.wait_serving(1, SERVE_AGAIN_S)
    r = cluster1.client(1)
    fields = r.hgetall("big")
    members = r.smembers("members")
    lost = [i for i in acknowledged if fields.get(f"f:{i}".encode()) != str(i).encode()]
    lost += [i for i in acknowledged if str(i).encode() not in members]
    assert not lost, f"{len(lost)} acknowledged writes lost after kill -9: {lost[:10]}"
    assert all(fields[f"seed:{i}".encode()] == str(i).encode() for i in range(2_000))
