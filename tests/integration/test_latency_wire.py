"""LATENCY and INFO latencystats over the wire: a running replica against redis-server.

Texts that do not depend on timing are compared byte for byte; histograms and
monitor samples by shape (which commands and events appear, and how they are
laid out), their numbers being each server's own timings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cluster import ProcessCluster
from tests.integration.wire import config_map, plain, redis_and_replica, request_id
from tests.redis_server import RawConnection, RedisServer, parse_reply

SAME_BYTES = [
    (b"LATENCY", b"LATEST"),
    (b"LATENCY", b"HISTORY", b"command"),
    (b"LATENCY", b"RESET"),
    (b"LATENCY", b"RESET", b"command", b"nosuch"),
    (b"LATENCY", b"HISTOGRAM", b"nosuch"),
    (b"LATENCY", b"HISTORY"),
    (b"LATENCY", b"NOPE"),
    (b"CONFIG", b"SET", b"latency-tracking", b"maybe"),
    (b"CONFIG", b"SET", b"latency-tracking-info-percentiles", b"50 101"),
    (b"CONFIG", b"SET", b"latency-tracking-info-percentiles", b"abc"),
    (b"CONFIG", b"SET", b"latency-monitor-threshold", b"abc"),
    (b"CONFIG", b"SET", b"latency-monitor-threshold", b"-1"),
    (b"CONFIG", b"SET", b"latency-tracking-info-percentiles", b"99.99 50"),
    (b"CONFIG", b"GET", b"latency-tracking-info-percentiles"),
    (b"CONFIG", b"SET", b"latency-tracking-info-percentiles", b"50 99 99.9"),
]


@pytest.fixture
def both(redis_server: RedisServer, cluster1: ProcessCluster) -> Iterator[list[RawConnection]]:
    restore = [
        (b"CONFIG", b"SET", b"latency-monitor-threshold", b"0"),
        (b"CONFIG", b"SET", b"latency-tracking", b"yes"),
    ]
    with redis_and_replica(redis_server.port, cluster1.port(1), restore) as conns:
        yield conns


@pytest.mark.parametrize("request_args", SAME_BYTES, ids=request_id)
def test_latency_answers_like_redis(
    both: list[RawConnection], request_args: tuple[bytes, ...]
) -> None:
    redis, ours = both
    assert ours.call(*request_args) == redis.call(*request_args)


def test_config_get_names_the_latency_parameters_with_redis_defaults(
    both: list[RawConnection],
) -> None:
    for conn in both:
        assert config_map(conn, b"latency-*") == {
            b"latency-monitor-threshold": b"0",
            b"latency-tracking": b"yes",
            b"latency-tracking-info-percentiles": b"50 99 99.9",
        }


@pytest.mark.parametrize("protocol", [2, 3])
def test_each_command_gets_a_histogram_and_a_percentile_line(
    both: list[RawConnection], protocol: int
) -> None:
    shapes = []
    for conn in both:
        if protocol == 3:
            conn.hello(3)
        conn.call(b"CONFIG", b"RESETSTAT")
        for i in range(5):
            conn.call(b"SET", b"lat:k", b"%d" % i)
        conn.call(b"CLIENT", b"SETNAME", b"x")
        raw = conn.call(b"LATENCY", b"HISTOGRAM", b"set", b"client", b"get")
        reply = plain(parse_reply(raw)[0])
        assert isinstance(reply, list)
        names = reply[::2]
        bodies = reply[1::2]
        for body in bodies:
            assert isinstance(body, list) and body[0] == b"calls" and body[2] == b"histogram_usec"
            levels = body[3]
            assert isinstance(levels, list) and levels
            counts = levels[1::2]
            assert counts == sorted(counts) and counts[-1] == body[1]  # cumulative
        info = conn.call(b"INFO", b"latencystats")
        assert b"latency_percentiles_usec_set:p50=" in info
        assert b",p99=" in info and b",p99.9=" in info
        shapes.append((raw[:1], names, [body[1] for body in bodies]))  # type: ignore[index]
        if protocol == 3:
            conn.hello(2)
    redis_shape, our_shape = shapes
    assert our_shape == redis_shape
    assert redis_shape[1:] == ([b"set", b"client|setname"], [5, 1])


def test_latency_tracking_off_records_no_histogram(both: list[RawConnection]) -> None:
    for conn in both:
        conn.call(b"CONFIG", b"RESETSTAT")
        conn.call(b"CONFIG", b"SET", b"latency-tracking", b"no")
        conn.call(b"SET", b"lat:k", b"1")
        assert conn.call(b"LATENCY", b"HISTOGRAM", b"set") == b"*0\r\n"


def test_the_monitor_records_a_slow_command_once_it_has_a_threshold(
    both: list[RawConnection],
) -> None:
    script = b"local x = 0 for i = 1, 3000000 do x = x + i end return 1"
    for conn in both:
        conn.call(b"LATENCY", b"RESET")
        conn.call(b"EVAL", script, b"0")
        assert conn.call(b"LATENCY", b"LATEST") == b"*0\r\n", "threshold 0: monitor off"
        conn.call(b"CONFIG", b"SET", b"latency-monitor-threshold", b"1")
        conn.call(b"EVAL", script, b"0")
        latest = plain(parse_reply(conn.call(b"LATENCY", b"LATEST"))[0])
        assert isinstance(latest, list)
        events = {entry[0]: entry for entry in latest}  # type: ignore[index]
        assert b"command" in events
        _, when, last_ms, max_ms = events[b"command"]  # type: ignore[misc]
        assert when > 1_600_000_000 and 1 <= last_ms <= max_ms
        history = plain(parse_reply(conn.call(b"LATENCY", b"HISTORY", b"command"))[0])
        assert isinstance(history, list) and history and len(history[-1]) == 2  # type: ignore[arg-type]
        assert conn.call(b"LATENCY", b"RESET", b"command") == b":1\r\n"
