"""Turning worker results and INFO snapshots into one report: text, JSON, plot data.

The report is a tree of frozen dataclasses so that the text output, the
``--json`` line and the plot all read the same numbers; ``to_json`` is
``dataclasses.asdict`` plus a version, so the JSON shape is the field list
below and changes only when these classes do. Latencies are milliseconds;
``p999_ms`` is the 99.9th percentile.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from epaxosdb.bench.histogram import Histogram
from epaxosdb.bench.load import CONNECTION_ERROR, WorkerResult
from epaxosdb.bench.probe import ReplicaProbe

REPORT_VERSION = 1
CDF_PERCENTILES = (*range(1, 100), 99.5, 99.9, 99.95, 99.99, 100.0)
SATURATED_BUSY = 0.9
"""A worker busy this fraction of the wall time may itself be limiting throughput."""


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    mean_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    @classmethod
    def of(cls, h: Histogram) -> LatencySummary | None:
        if h.total == 0:
            return None
        ms = lambda us: round(us / 1000.0, 3)  # noqa: E731
        return cls(
            count=h.total, mean_ms=ms(h.mean_us()), min_ms=ms(h.min_us),
            p50_ms=ms(h.percentile_us(50)), p90_ms=ms(h.percentile_us(90)),
            p99_ms=ms(h.percentile_us(99)), p999_ms=ms(h.percentile_us(99.9)),
            max_ms=ms(h.max_us),
        )


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    total: int
    by_prefix: dict[str, int]
    """Error replies by first word, plus ``CONNECTION`` for requests lost with their connection."""
    uncertain: int
    """``-UNCERTAIN``: proposed, outcome unknown (the command may still have taken effect)."""
    loading: int
    """``-LOADING``: the replica was replaying its log or catching up."""
    connection: int
    unfinished: int
    """Requests still unanswered when the drain period ended."""
    disconnects: int
    connect_failures: int


@dataclass(frozen=True, slots=True)
class ReplicaSummary:
    port: int
    replica_id: int | None
    clients: int
    ops: int
    throughput_ops_s: float
    latency: LatencySummary | None
    reachable: bool
    fast_path_commits: int | None = None
    slow_path_commits: int | None = None
    fast_path_ratio: float | None = None
    recovery_commits: int | None = None
    recoveries_started: int | None = None
    instances_proposed: int | None = None
    uncertain_replies: int | None = None
    execute_lag_max: float | None = None
    execute_lag_mean: float | None = None
    execute_lag_after: int | None = None
    commit_latency_p50_ms: float | None = None
    commit_latency_p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class EpaxosSummary:
    available: bool
    """False when no port answered an ``# EPaxos`` INFO section (e.g. a plain redis-server)."""
    fast_path_commits: int | None
    slow_path_commits: int | None
    fast_path_ratio: float | None
    """fast / (fast + slow) over the run, summed over the replicas; None with no commits."""
    recovery_commits: int | None
    recoveries_started: int | None
    instances_proposed: int | None
    commands_per_instance: float | None
    """Operations per proposed instance: how much batching the load produced."""
    execute_lag_max: float | None
    execute_lag_mean: float | None
    execute_lag_after: int | None


@dataclass(frozen=True, slots=True)
class GeneratorSummary:
    processes: int
    connections: int
    cpu_s: float
    busy_max: float
    """The busiest worker's CPU time over its wall time (1.0 = one core flat out)."""
    ops_per_cpu_s: float | None
    """Operations per second of generator CPU: what one generator core can drive."""
    saturated: bool


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    t_s: int
    ops: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True, slots=True)
class BenchReport:
    config: dict[str, object]
    duration_s: float
    ops: int
    throughput_ops_s: float
    latency: LatencySummary | None
    errors: ErrorSummary
    epaxos: EpaxosSummary
    replicas: list[ReplicaSummary]
    generator: GeneratorSummary
    timeline: list[TimelinePoint]
    cdf: list[tuple[float, float]]
    """(latency_ms, percent of operations at or below it)."""
    version: int = field(default=REPORT_VERSION)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


def _sum_known(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _ratio(fast: int | None, slow: int | None) -> float | None:
    if fast is None or slow is None or fast + slow == 0:
        return None
    return round(fast / (fast + slow), 4)


def _int_or_none(v: object) -> int | None:
    return v if isinstance(v, int) else None


def _float_or_none(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) else None


def build_report(
    config: dict[str, object],
    duration_s: float,
    results: Sequence[WorkerResult],
    probes: Sequence[ReplicaProbe],
    clients_per_port: dict[int, int],
) -> BenchReport:
    """Merge the workers' histograms and counters and the replicas' INFO deltas."""
    overall = Histogram()
    per_port: dict[int, Histogram] = {}
    timeline: list[Histogram] = []
    errors: dict[str, int] = {}
    ops = unfinished = disconnects = connect_failures = 0
    for r in results:
        for port, h in r.per_port.items():
            per_port.setdefault(port, Histogram()).merge(h)
            overall.merge(h)
        for i, h in enumerate(r.timeline):
            while len(timeline) <= i:
                timeline.append(Histogram())
            timeline[i].merge(h)
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
        ops += r.ops_in_window
        unfinished += r.unfinished
        disconnects += r.disconnects
        connect_failures += r.connect_failures

    replicas = []
    for probe in probes:
        h = per_port.get(probe.port, Histogram())
        fast, slow = probe.delta("fast_path_commits"), probe.delta("slow_path_commits")
        after = probe.after or {}
        samples = max(probe.samples, 1)
        replicas.append(ReplicaSummary(
            port=probe.port,
            replica_id=_int_or_none(after.get("replica_id")),
            clients=clients_per_port.get(probe.port, 0),
            ops=h.total,
            throughput_ops_s=round(h.total / duration_s, 1) if duration_s > 0 else 0.0,
            latency=LatencySummary.of(h),
            reachable=probe.before is not None and probe.after is not None,
            fast_path_commits=fast,
            slow_path_commits=slow,
            fast_path_ratio=_ratio(fast, slow),
            recovery_commits=probe.delta("recovery_commits"),
            recoveries_started=probe.delta("recoveries_started"),
            instances_proposed=probe.delta("instances_proposed"),
            uncertain_replies=probe.delta("uncertain_replies"),
            execute_lag_max=(probe.gauges_max or {}).get("execute_lag"),
            execute_lag_mean=(
                round(probe.gauges_sum["execute_lag"] / samples, 2)
                if probe.gauges_sum and "execute_lag" in probe.gauges_sum else None
            ),
            execute_lag_after=_int_or_none(after.get("execute_lag")),
            commit_latency_p50_ms=_float_or_none(after.get("commit_latency_p50_ms")),
            commit_latency_p99_ms=_float_or_none(after.get("commit_latency_p99_ms")),
        ))

    fast_total = _sum_known(r.fast_path_commits for r in replicas)
    slow_total = _sum_known(r.slow_path_commits for r in replicas)
    proposed = _sum_known(r.instances_proposed for r in replicas)
    lag_max = [r.execute_lag_max for r in replicas if r.execute_lag_max is not None]
    lag_mean = [r.execute_lag_mean for r in replicas if r.execute_lag_mean is not None]
    completed = overall.total + sum(v for k, v in errors.items() if k != CONNECTION_ERROR)
    epaxos = EpaxosSummary(
        available=fast_total is not None,
        fast_path_commits=fast_total,
        slow_path_commits=slow_total,
        fast_path_ratio=_ratio(fast_total, slow_total),
        recovery_commits=_sum_known(r.recovery_commits for r in replicas),
        recoveries_started=_sum_known(r.recoveries_started for r in replicas),
        instances_proposed=proposed,
        commands_per_instance=round(completed / proposed, 2) if proposed else None,
        execute_lag_max=max(lag_max) if lag_max else None,
        execute_lag_mean=round(sum(lag_mean) / len(lag_mean), 2) if lag_mean else None,
        execute_lag_after=_sum_known(r.execute_lag_after for r in replicas),
    )

    cpu = sum(r.cpu_s for r in results)
    busy = max((r.cpu_s / r.wall_s for r in results if r.wall_s > 0), default=0.0)
    generator = GeneratorSummary(
        processes=len(results),
        connections=sum(r.connections for r in results),
        cpu_s=round(cpu, 3),
        busy_max=round(busy, 3),
        ops_per_cpu_s=round(overall.total / cpu) if cpu > 0 else None,
        saturated=busy >= SATURATED_BUSY,
    )

    points = []
    for i, h in enumerate(timeline[: max(1, math.ceil(duration_s))]):
        s = LatencySummary.of(h)
        points.append(TimelinePoint(
            t_s=i, ops=h.total,
            p50_ms=s.p50_ms if s else None, p99_ms=s.p99_ms if s else None,
            max_ms=s.max_ms if s else None,
        ))
    cdf = (
        [(round(overall.percentile_us(p) / 1000.0, 3), float(p)) for p in CDF_PERCENTILES]
        if overall.total else []
    )
    return BenchReport(
        config=config,
        duration_s=round(duration_s, 3),
        ops=ops,
        throughput_ops_s=round(ops / duration_s, 1) if duration_s > 0 else 0.0,
        latency=LatencySummary.of(overall),
        errors=ErrorSummary(
            total=sum(errors.values()),
            by_prefix=dict(sorted(errors.items())),
            uncertain=errors.get("UNCERTAIN", 0),
            loading=errors.get("LOADING", 0),
            connection=errors.get(CONNECTION_ERROR, 0),
            unfinished=unfinished,
            disconnects=disconnects,
            connect_failures=connect_failures,
        ),
        epaxos=epaxos,
        replicas=replicas,
        generator=generator,
        timeline=points,
        cdf=cdf,
    )


def _fmt(v: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}{unit}"


def format_text(report: BenchReport) -> str:
    """The human-readable summary ``epaxosdb bench`` prints without ``--json``."""
    c = report.config
    lines = [
        f"epaxosdb bench: {c['clients']} clients over ports {c['ports']} "
        f"(pipeline {c['pipeline']}), {report.generator.processes} generator process(es), "
        f"{report.duration_s:g} s",
        f"workload: {c['workload']}",
        f"throughput   {report.throughput_ops_s:,.0f} ops/s  ({report.ops:,} ops)",
    ]
    lat = report.latency
    if lat is None:
        lines.append("latency      no successful operation")
    else:
        lines.append(
            f"latency ms   p50 {lat.p50_ms:.3f}  p90 {lat.p90_ms:.3f}  p99 {lat.p99_ms:.3f}  "
            f"p99.9 {lat.p999_ms:.3f}  max {lat.max_ms:.3f}  (mean {lat.mean_ms:.3f})"
        )
    e = report.errors
    if e.total == 0 and e.unfinished == 0:
        lines.append("errors       none")
    else:
        parts = [f"{k} {v:,}" for k, v in e.by_prefix.items()]
        lines.append(
            f"errors       {e.total:,}: " + ", ".join(parts or ["-"])
            + f"; uncertain {e.uncertain:,}, loading {e.loading:,}, "
            + f"unanswered at the end {e.unfinished:,}, disconnects {e.disconnects:,}, "
            + f"failed re-dials {e.connect_failures:,}"
        )
    x = report.epaxos
    if x.available:
        ratio = "n/a" if x.fast_path_ratio is None else f"{x.fast_path_ratio:.1%}"
        lines.append(
            f"epaxos       fast path {ratio} ({x.fast_path_commits:,} fast / "
            f"{x.slow_path_commits:,} slow), recoveries {x.recoveries_started}, "
            f"{_fmt(x.commands_per_instance, digits=1)} commands/instance, "
            f"execute_lag max {_fmt(x.execute_lag_max, digits=0)} "
            f"mean {_fmt(x.execute_lag_mean)} after {x.execute_lag_after}"
        )
    else:
        lines.append("epaxos       no '# EPaxos' INFO section on any port (not epaxosdb?)")
    lines.append("per replica  port   clients  ops/s      p50 ms   p99 ms   fast path  "
                 "server commit p50/p99 ms")
    for r in report.replicas:
        ratio = "n/a" if r.fast_path_ratio is None else f"{r.fast_path_ratio:.1%}"
        rl = r.latency
        lines.append(
            f"             {r.port:<6} {r.clients:<8} {r.throughput_ops_s:<10,.0f} "
            f"{_fmt(rl.p50_ms if rl else None, digits=3):<8} "
            f"{_fmt(rl.p99_ms if rl else None, digits=3):<8} {ratio:<10} "
            f"{_fmt(r.commit_latency_p50_ms)}/{_fmt(r.commit_latency_p99_ms)}"
            + ("" if r.reachable else "  (INFO unreachable)")
        )
    g = report.generator
    per_core = "n/a" if g.ops_per_cpu_s is None else f"{g.ops_per_cpu_s:,.0f}"
    lines.append(
        f"generator    {g.processes} process(es), {g.connections} connections, "
        f"CPU {g.cpu_s:.2f} s, busiest worker {g.busy_max:.0%}, {per_core} ops per CPU-second"
    )
    if g.saturated:
        lines.append(
            "warning      a generator worker was busy >90% of the time: the generator may be "
            "the bottleneck; raise --processes (and keep them off the replicas' cores)"
        )
    return "\n".join(lines)
