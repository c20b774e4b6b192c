"""Per-command latency distributions: INFO ``latencystats`` and LATENCY HISTOGRAM.

The latency recorded is the one INFO commandstats counts: what a client waits
for, from dispatch to reply — for a data command the consensus round trip
and the fsync included, for a connection command its handler. Redis records
its CPU time, having nothing else to wait for; what users of a replicated
database ask about is the round trip, and its tail above all.

The buckets are HdrHistogram's at two significant figures over nanoseconds,
as Redis keeps them: below 256 ns every value is its own bucket; above, each
power of two is cut into 128 equal buckets, and a bucket reports its highest
equivalent value. So percentiles print as Redis prints them (``p50=2.007``),
and LATENCY HISTOGRAM reports the cumulative count at the same power-of-two
levels from 1,024 ns up, labelled in microseconds as Redis labels them
(1, 2, 4, ... 32, 66, 132...). Values are kept between 1 ns and 1 s, Redis's
range: a reply that took longer counts as 1 s.

Recording costs a dict update per pipelined run of one command (the run's
calls share one latency, as in commandstats), not per call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from epaxosdb import commands
from protocol.replies import Map, Reply, help_reply

if TYPE_CHECKING:
    from .clients import CommandStats
    from .connection import Connection

LOWEST_NS = 1
HIGHEST_NS = 1_000_000_000
"""Redis's ``LATENCY_HISTOGRAM_MIN_VALUE`` and ``_MAX_VALUE``."""
EXACT_BELOW_NS = 256
"""Two significant figures: HdrHistogram's sub-bucket count (2 × 128)."""
FIRST_LEVEL_NS = 1024
"""LATENCY HISTOGRAM's first reporting level (Redis's log iterator starts here)."""
PERCENTILES_DEFAULT = (50.0, 99.0, 99.9)
"""``latency-tracking-info-percentiles``."""


def bucket_of(ns: int) -> int:
    """The lowest value of the bucket holding ``ns``."""
    if ns < EXACT_BELOW_NS:
        return ns
    shift = ns.bit_length() - 8
    return (ns >> shift) << shift


def highest_equivalent(ns: int) -> int:
    """The highest value that shares ``ns``'s bucket: what HdrHistogram reports for it."""
    if ns < EXACT_BELOW_NS:
        return ns
    shift = ns.bit_length() - 8
    return bucket_of(ns) + (1 << shift) - 1


@dataclass(slots=True)
class LatencyHistogram:
    counts: dict[int, int] = field(default_factory=dict)
    """Bucket (its lowest value, ns) → calls."""
    total: int = 0

    def record(self, usec: float, calls: int = 1) -> None:
        # ``bucket_of`` inlined: this runs for every reply (a run of calls shares one).
        ns = int(usec * 1000)
        if ns >= EXACT_BELOW_NS:
            if ns > HIGHEST_NS:
                ns = HIGHEST_NS
            shift = ns.bit_length() - 8
            ns = (ns >> shift) << shift
        elif ns < LOWEST_NS:
            ns = LOWEST_NS
        counts = self.counts
        counts[ns] = counts.get(ns, 0) + calls
        self.total += calls

    def percentile_usec(self, percentile: float) -> float:
        """HdrHistogram's ``value_at_percentile``, in microseconds."""
        if not self.total:
            return 0.0
        wanted = max(int(min(percentile, 100.0) / 100 * self.total + 0.5), 1)
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= wanted:
                return highest_equivalent(bucket) / 1000
        return highest_equivalent(max(self.counts)) / 1000

    def cumulative(self) -> list[tuple[int, int]]:
        """``(microseconds, calls at or below)`` at each power-of-two level from 1,024 ns,
        where the count grew (Redis's ``histogram_usec``)."""
        levels: list[tuple[int, int]] = []
        buckets = sorted(self.counts)
        seen = index = 0
        level = FIRST_LEVEL_NS
        while seen < self.total and level <= 2 * HIGHEST_NS:
            grew = False
            while index < len(buckets) and buckets[index] <= level:
                seen += self.counts[buckets[index]]
                index += 1
                grew = True
            if grew:
                levels.append((highest_equivalent(level) // 1000, seen))
            level *= 2
        return levels


def percentile_label(percentile: float) -> str:
    """``50`` for 50.0, ``99.9`` for 99.9: how INFO names a percentile."""
    return f"{percentile:.6f}".rstrip("0").rstrip(".")


def info_line(histogram: LatencyHistogram, percentiles: tuple[float, ...]) -> str:
    return ",".join(
        f"p{percentile_label(p)}={histogram.percentile_usec(p):.3f}" for p in percentiles
    )


def parse_percentiles(raw: bytes) -> tuple[float, ...] | str:
    """``latency-tracking-info-percentiles`` from CONFIG SET, or Redis's complaint."""
    values: list[float] = []
    for word in raw.split():
        try:
            value = float(word)
        except ValueError:
            return "Invalid latency-tracking-info-percentiles parameters"
        if not math.isfinite(value) or not 0.0 <= value <= 100.0:
            return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
        values.append(value)
    return tuple(values)


def format_percentiles(percentiles: tuple[float, ...]) -> str:
    """CONFIG GET's text: as Redis prints each with ``%f``, trimmed."""
    return " ".join(percentile_label(p) for p in percentiles)


# --- the latency monitor: LATENCY LATEST / HISTORY / RESET ----------------------------

SAMPLES_MAX = 160
"""Samples kept per event (Redis's ``LATENCY_TS_LEN``)."""


@dataclass(slots=True)
class LatencySample:
    time_s: int
    latency_ms: int


@dataclass(slots=True)
class EventSeries:
    """One event's recent samples, one per second at most (the worst of that second),
    and the worst ever seen."""

    samples: list[LatencySample] = field(default_factory=list)
    max_ms: int = 0


class LatencyMonitor:
    """Redis's latency monitor, with the events this replica has: ``command`` and
    ``fast-command`` (a command's execution, as SLOWLOG times it: a data command's
    handler in the consensus loop, a connection command's handler) and ``commit``
    (a loop turn's LMDB transaction and fsync — the wait every reply of the turn
    shares; Redis's nearest is ``aof-fsync-always``). A sample is kept when it
    reaches ``latency-monitor-threshold`` milliseconds; 0, the default, keeps none."""

    def __init__(self, threshold_ms: int = 0) -> None:
        self.threshold_ms = threshold_ms
        self.events: dict[str, EventSeries] = {}

    def threshold_s(self) -> float:
        """Negative when off (what the loop's stopwatch reads)."""
        return self.threshold_ms / 1000 if self.threshold_ms > 0 else -1.0

    def add(self, event: str, seconds: float, time_s: int) -> None:
        """Record ``seconds`` of ``event`` if it reaches the threshold."""
        if self.threshold_ms <= 0:
            return
        latency_ms = int(seconds * 1000)
        if latency_ms < self.threshold_ms:
            return
        series = self.events.get(event)
        if series is None:
            series = self.events[event] = EventSeries()
        samples = series.samples
        if samples and samples[-1].time_s == time_s:
            samples[-1].latency_ms = max(samples[-1].latency_ms, latency_ms)
        else:
            samples.append(LatencySample(time_s, latency_ms))
            if len(samples) > SAMPLES_MAX:
                del samples[0]
        series.max_ms = max(series.max_ms, latency_ms)

    def reset(self, events: list[str]) -> int:
        """Forget the named events (every one if none is named); how many were known."""
        if not events:
            count = len(self.events)
            self.events.clear()
            return count
        return sum(self.events.pop(name, None) is not None for name in events)


def command_event(op: Sequence[bytes]) -> str:
    """The monitor's event for an op's execution: Redis's ``fast-command`` for the
    commands flagged ``fast``, ``command`` for the rest."""
    spec = commands.lookup(op[0]) if op else None
    if spec is not None and spec.subcommands and len(op) > 1:
        spec = spec.subcommand(op[1])
    return "fast-command" if spec is not None and "fast" in spec.flags else "command"


def either_threshold_s(*thresholds: float) -> float:
    """The lowest of the thresholds that are on (non-negative); -1.0 if none is: the
    loop times commands for SLOWLOG and the monitor with one stopwatch."""
    on = [t for t in thresholds if t >= 0]
    return min(on) if on else -1.0


# --- LATENCY HISTOGRAM / LATEST / HISTORY / RESET / HELP -------------------------------

HELP = (
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for"
    " the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
)


def _histogram_reply(stats: CommandStats) -> Map:
    levels = stats.latency.cumulative()
    return Map(
        [
            (b"calls", stats.latency.total),
            (b"histogram_usec", Map([(usec, calls) for usec, calls in levels])),
        ]
    )


def cmd_latency_histogram(conn: Connection, args: list[bytes]) -> Reply:
    recorded = conn.registry.stats.commands
    if len(args) == 2:
        names = [name for name, stats in recorded.items() if stats.latency.total]
    else:
        names = []
        for raw in args[2:]:
            spec = commands.lookup(raw)
            if spec is None:
                continue
            names += [sub.name for sub in spec.subcommands] or [spec.name]
    reply: list[tuple[Reply, Reply]] = []
    for name in dict.fromkeys(names):
        stats = recorded.get(name)
        if stats is not None and stats.latency.total:
            reply.append((name, _histogram_reply(stats)))
    return Map(reply)


def cmd_latency_latest(conn: Connection, args: list[bytes]) -> Reply:
    return [
        [name.encode(), series.samples[-1].time_s, series.samples[-1].latency_ms, series.max_ms]
        for name, series in conn.registry.latency_monitor.events.items()
        if series.samples
    ]


def cmd_latency_history(conn: Connection, args: list[bytes]) -> Reply:
    series = conn.registry.latency_monitor.events.get(args[2].decode("latin-1"))
    if series is None:
        return []
    return [[sample.time_s, sample.latency_ms] for sample in series.samples]


def cmd_latency_reset(conn: Connection, args: list[bytes]) -> Reply:
    return conn.registry.latency_monitor.reset([a.decode("latin-1") for a in args[2:]])


def cmd_latency_help(conn: Connection, args: list[bytes]) -> Reply:
    return help_reply(HELP)
