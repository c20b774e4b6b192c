"""SLOWLOG over the wire: a running replica against redis-server.

What does not depend on timing is compared byte for byte: HELP, the error
texts, CONFIG GET/SET of the two parameters, LEN and RESET. With the
threshold at 0 every command is logged, so the entries' shape — id, time,
microseconds, arguments, client address and name — is checked on both
servers alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cluster import ProcessCluster
from tests.integration.wire import config_map, plain, redis_and_replica, request_id
from tests.redis_server import RawConnection, RedisServer, parse_reply

SAME_BYTES = [
    (b"SLOWLOG", b"HELP"),
    (b"SLOWLOG", b"GET", b"x"),
    (b"SLOWLOG", b"GET", b"-2"),
    (b"SLOWLOG", b"GET", b"1", b"2"),
    (b"SLOWLOG", b"NOPE"),
    (b"SLOWLOG",),
    (b"SLOWLOG", b"LEN", b"extra"),
    (b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-5"),
    (b"CONFIG", b"SET", b"slowlog-log-slower-than", b"abc"),
    (b"CONFIG", b"SET", b"slowlog-max-len", b"-1"),
    (b"CONFIG", b"SET", b"slowlog-max-len", b"5"),
    (b"CONFIG", b"GET", b"slowlog-max-len"),
    (b"CONFIG", b"SET", b"slowlog-max-len", b"128"),
    (b"SLOWLOG", b"RESET"),
    (b"SLOWLOG", b"LEN"),
]


@pytest.fixture
def both(redis_server: RedisServer, cluster1: ProcessCluster) -> Iterator[list[RawConnection]]:
    restore = [(b"CONFIG", b"SET", b"slowlog-log-slower-than", b"10000")]
    with redis_and_replica(redis_server.port, cluster1.port(1), restore) as conns:
        yield conns


@pytest.mark.parametrize("request_args", SAME_BYTES, ids=request_id)
def test_slowlog_answers_like_redis(
    both: list[RawConnection], request_args: tuple[bytes, ...]
) -> None:
    redis, ours = both
    assert ours.call(*request_args) == redis.call(*request_args)


def test_config_get_names_both_parameters_with_redis_defaults(
    both: list[RawConnection],
) -> None:
    for conn in both:
        assert config_map(conn, b"slowlog-*") == {
            b"slowlog-log-slower-than": b"10000",
            b"slowlog-max-len": b"128",
        }


def logged(conn: RawConnection) -> list[list[object]]:
    conn.call(b"SLOWLOG", b"RESET")
    conn.call(b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0")
    conn.call(b"CLIENT", b"SETNAME", b"checker")
    conn.call(b"SET", b"slow:k", b"x" * 200)
    conn.call(b"INCR", b"slow:n")
    conn.call(b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-1")
    conn.call(b"GET", b"slow:k")  # the log is off again: not logged
    reply = plain(parse_reply(conn.call(b"SLOWLOG", b"GET", b"-1"))[0])
    assert isinstance(reply, list)
    return reply


def test_every_command_is_logged_at_threshold_zero_with_its_client(
    both: list[RawConnection],
) -> None:
    shapes = []
    for conn in both:
        entries = logged(conn)
        # newest first: INCR, SET, CLIENT SETNAME, CONFIG SET ... 0 (a CONFIG SET is
        # judged by the threshold it sets: -1 logs nothing, itself included)
        assert len(entries) == 4
        ids = [e[0] for e in entries]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4  # type: ignore[type-var]
        for entry in entries:
            assert len(entry) == 6
            _, when, micros, args, addr, _name = entry
            assert isinstance(when, int) and when > 1_600_000_000
            assert isinstance(micros, int) and micros >= 0
            assert isinstance(args, list) and args
            assert isinstance(addr, bytes) and addr.startswith(b"127.0.0.1:")
        names = [e[3][0].lower() for e in entries]  # type: ignore[index]
        shapes.append((names, [e[5] for e in entries], entries[1][3]))
    redis_shape, our_shape = shapes
    assert redis_shape[0] == [b"incr", b"set", b"client", b"config"]
    assert redis_shape[1] == [b"checker", b"checker", b"checker", b""]
    assert redis_shape[2] == [b"SET", b"slow:k", b"x" * 128 + b"... (72 more bytes)"]
    assert our_shape == redis_shape
