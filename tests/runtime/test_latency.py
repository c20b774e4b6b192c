"""Latency histograms (INFO latencystats, LATENCY HISTOGRAM) and the latency monitor.

The histogram's buckets are HdrHistogram's at two significant figures, so the
values Redis prints can be checked exactly: a reply of 2,000 ns reports as
2.007 µs (the highest value sharing its bucket), the levels of LATENCY
HISTOGRAM are labelled 1, 2, 4 ... 32, 66, 132 µs. The wire shapes are
compared with redis-server in ``tests/integration/test_slowlog_wire.py``.
"""

from __future__ import annotations

import pytest

from epaxosdb.runtime.latency import (
    SAMPLES_MAX,
    LatencyHistogram,
    LatencyMonitor,
    bucket_of,
    command_event,
    either_threshold_s,
    highest_equivalent,
    info_line,
    parse_percentiles,
)


@pytest.mark.parametrize(
    ("ns", "reported"),
    [(200, 200), (2000, 2007), (5000, 5023), (22000, 22015), (65536, 66047), (1024, 1031)],
)
def test_a_value_reports_as_the_highest_of_its_bucket_as_hdrhistogram_does(
    ns: int, reported: int
) -> None:
    assert highest_equivalent(ns) == reported
    assert bucket_of(reported) == bucket_of(ns)


def test_percentiles_print_as_redis_prints_them() -> None:
    h = LatencyHistogram()
    h.record(2.0, calls=98)
    h.record(5.0)
    h.record(22.0)
    assert info_line(h, (50.0, 99.0, 99.9)) == "p50=2.007,p99=5.023,p99.9=22.015"
    assert info_line(h, (99.99, 0.0)) == "p99.99=22.015,p0=2.007"


def test_values_are_kept_within_one_nanosecond_and_one_second() -> None:
    h = LatencyHistogram()
    h.record(0.0)
    h.record(5_000_000.0)  # five seconds
    assert h.percentile_usec(1) == 0.001
    assert h.percentile_usec(100) == highest_equivalent(1_000_000_000) / 1000


def test_the_histogram_reports_cumulative_counts_at_power_of_two_levels() -> None:
    h = LatencyHistogram()
    h.record(0.5, calls=3)  # below the first level: counted at 1 µs
    h.record(6.0, calls=2)
    h.record(40.0)
    assert h.cumulative() == [(1, 3), (8, 5), (66, 6)]
    assert LatencyHistogram().cumulative() == []


def test_config_percentiles_are_checked_as_redis_checks_them() -> None:
    assert parse_percentiles(b"50 99 99.9") == (50.0, 99.0, 99.9)
    assert parse_percentiles(b"") == ()
    assert parse_percentiles(b"50 101") == (
        "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
    )
    assert parse_percentiles(b"abc") == "Invalid latency-tracking-info-percentiles parameters"


def test_the_monitor_keeps_nothing_while_its_threshold_is_zero() -> None:
    monitor = LatencyMonitor()
    monitor.add("command", 10.0, 1000)
    assert monitor.events == {}
    assert monitor.threshold_s() < 0


def test_the_monitor_keeps_the_worst_sample_of_each_second_and_the_worst_ever() -> None:
    monitor = LatencyMonitor(threshold_ms=5)
    monitor.add("commit", 0.004, 1000)  # under the threshold
    monitor.add("commit", 0.006, 1000)
    monitor.add("commit", 0.009, 1000)
    monitor.add("commit", 0.007, 1001)
    series = monitor.events["commit"]
    assert [(s.time_s, s.latency_ms) for s in series.samples] == [(1000, 9), (1001, 7)]
    assert series.max_ms == 9
    for second in range(2000, 2000 + SAMPLES_MAX + 5):
        monitor.add("commit", 0.006, second)
    assert len(series.samples) == SAMPLES_MAX
    assert series.max_ms == 9


def test_reset_forgets_the_named_events_or_all_and_counts_them() -> None:
    monitor = LatencyMonitor(threshold_ms=1)
    for event in ("command", "commit", "fast-command"):
        monitor.add(event, 0.01, 1)
    assert monitor.reset(["commit", "nosuch", "commit"]) == 1
    assert sorted(monitor.events) == ["command", "fast-command"]
    assert monitor.reset([]) == 2 and monitor.events == {}


def test_fast_commands_are_their_own_event() -> None:
    assert command_event((b"GET", b"k")) == "fast-command"
    assert command_event((b"KEYS", b"*")) == "command"
    assert command_event((b"XGROUP", b"CREATE", b"s", b"g", b"$")) == "command"
    assert command_event((b"WATCHCHECK",)) == "command"


def test_one_stopwatch_serves_the_lower_of_the_thresholds_that_are_on() -> None:
    assert either_threshold_s(0.01, 0.005) == 0.005
    assert either_threshold_s(-1.0, 0.2) == 0.2
    assert either_threshold_s(-1.0, -1.0) < 0
