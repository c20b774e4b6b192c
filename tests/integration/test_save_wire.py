"""SAVE, BGSAVE and LASTSAVE: Redis's answers, and what a save does on a replica.

Texts are compared with redis-server. On the replica, a save writes the
key-value effects it deferred into the data file (INFO ``deferred_writes``
drops to 0) and moves LASTSAVE.
"""

from __future__ import annotations

import time

from tests.integration.cluster import ProcessCluster
from tests.redis_server import RawConnection, RedisServer

SAME_BYTES = [
    (b"BGSAVE", b"foo"),
    (b"BGSAVE", b"SCHEDULE", b"x"),
    (b"SAVE", b"x"),
    (b"LASTSAVE", b"x"),
    (b"MULTI",),
    (b"SAVE",),  # no_multi: refused while queueing
    (b"DISCARD",),
]


def info_field(conn: RawConnection, section: bytes, name: bytes) -> int:
    text = conn.call(b"INFO", section)
    for line in text.split(b"\r\n"):
        if line.startswith(name + b":"):
            return int(line.split(b":", 1)[1])
    raise AssertionError(f"{name!r} not in INFO {section!r}")


def test_save_commands_answer_like_redis(
    redis_server: RedisServer, cluster1: ProcessCluster
) -> None:
    redis = RawConnection(redis_server.port)
    ours = RawConnection(cluster1.port(1), timeout_s=15.0)
    try:
        for request in SAME_BYTES:
            assert ours.call(*request) == redis.call(*request), request
    finally:
        redis.close()
        ours.close()


def test_save_writes_the_deferred_effects_and_moves_lastsave(cluster1: ProcessCluster) -> None:
    conn = RawConnection(cluster1.port(1), timeout_s=15.0)
    try:
        before = int(conn.call(b"LASTSAVE")[1:-2])
        assert before <= time.time() + 1
        time.sleep(1.1)  # LASTSAVE counts seconds
        replies = conn.call_many([(b"SET", b"save:%d" % i, b"v") for i in range(200)])
        assert all(reply == b"+OK\r\n" for reply in replies)
        assert conn.call(b"SAVE") == b"+OK\r\n"
        assert info_field(conn, b"epaxos", b"deferred_writes") == 0
        after = int(conn.call(b"LASTSAVE")[1:-2])
        assert after > before
        conn.call_many([(b"SET", b"save:%d" % i, b"w") for i in range(200)])
        assert conn.call(b"BGSAVE") == b"+Background saving started\r\n"
        deadline = time.monotonic() + 10
        while info_field(conn, b"persistence", b"rdb_bgsave_in_progress"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert info_field(conn, b"epaxos", b"deferred_writes") == 0
        assert info_field(conn, b"persistence", b"rdb_last_save_time") >= after
        assert conn.call(b"GET", b"save:7") == b"$1\r\nw\r\n"
    finally:
        conn.close()
