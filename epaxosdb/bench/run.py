"""The parent side of a benchmark run: start workers, start the clock, sample, collect.

Workers are separate processes (``multiprocessing``, spawn) because one
Python process saturates one core long before a replica cluster does on a
bigger machine. Workers first open every connection; only when all are
ready does the parent read the "before" INFO snapshot and hand out one shared
start instant a little in the future, so connection set-up and process
start-up never count against throughput or latency. While the workers run,
the parent samples ``INFO epaxos`` about once a second (the gauges), then
collects the results and reads the "after" snapshot.

Every wait here has a deadline, and every worker process is stopped — by its
own PID, through its ``Process`` handle — before ``run_bench`` returns or
raises.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from epaxosdb.bench.load import WorkerResult, WorkerSpec, worker_main
from epaxosdb.bench.probe import ReplicaProbe, fetch_info
from epaxosdb.bench.report import BenchReport, build_report
from epaxosdb.bench.workload import Workload, assign_clients

READY_TIMEOUT_S = 60.0
"""Process start-up (a spawn imports the package afresh) plus every connection's set-up."""
START_DELAY_S = 0.2
"""Margin between handing out the start instant and the instant itself."""
SAMPLE_INTERVAL_S = 1.0
RESULT_GRACE_S = 30.0
"""Beyond the drain period, how long to wait for a worker to pickle its result."""
JOIN_TIMEOUT_S = 5.0


class BenchError(Exception):
    """The run could not take place (no replica reachable, a worker failed, ...)."""


@dataclass(frozen=True, slots=True)
class BenchOptions:
    host: str
    ports: tuple[int, ...]
    clients: int
    duration_s: float
    workload: Workload = field(default_factory=Workload)
    pipeline: int = 1
    processes: int = 1
    drain_s: float = 5.0
    seed: int | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if not self.ports:
            raise ValueError("at least one --port")
        if self.clients < 1 or self.pipeline < 1 or self.processes < 1:
            raise ValueError("clients, pipeline and processes must be at least 1")
        if not 0 < self.duration_s <= 86_400:
            raise ValueError("duration must be between 0 and 86400 seconds")
        if self.drain_s < 0:
            raise ValueError("drain must not be negative")


def default_processes(clients: int) -> int:
    """Half the cores, at least one: on one machine the replicas need the other half."""
    return max(1, min(clients, (os.cpu_count() or 2) // 2))


def run_bench(options: BenchOptions, say: Callable[[str], None] = lambda _m: None) -> BenchReport:
    seed = options.seed if options.seed is not None else secrets.randbits(32)
    nonce = secrets.token_hex(4)
    plan = assign_clients(options.clients, options.ports, options.processes)
    specs = [
        WorkerSpec(i, options.host, tuple(slots), options.workload, options.pipeline, seed,
                   nonce, options.password)
        for i, slots in enumerate(plan)
    ]
    probes = [ReplicaProbe(port) for port in dict.fromkeys(options.ports)]
    for probe in probes:
        if fetch_info(options.host, probe.port, password=options.password) is None:
            raise BenchError(f"{options.host}:{probe.port} does not answer INFO; is it running?")

    ctx = multiprocessing.get_context("spawn")
    procs: list[tuple[BaseProcess, Connection]] = []
    try:
        for spec in specs:
            parent_end, child_end = ctx.Pipe()
            child: BaseProcess = ctx.Process(
                target=worker_main, args=(spec, child_end), daemon=True,
                name=f"epaxosdb-bench-{spec.index}",
            )
            child.start()
            child_end.close()
            procs.append((child, parent_end))
        say(f"started {len(procs)} worker process(es); connecting {options.clients} clients")
        deadline = time.monotonic() + READY_TIMEOUT_S
        for proc, pipe in procs:
            tag, detail = _receive(proc, pipe, deadline, "connect")
            if tag != "ready":
                raise BenchError(f"worker {proc.name}: {detail}")

        for probe in probes:
            probe.before = fetch_info(options.host, probe.port, password=options.password)
        start = time.monotonic_ns() + int(START_DELAY_S * 1e9)
        end = start + int(options.duration_s * 1e9)
        drain = end + int(options.drain_s * 1e9)
        for _, pipe in procs:
            pipe.send(("start", start, end, drain))
        say(f"running for {options.duration_s:g} s")

        end_s = end / 1e9
        next_sample = start / 1e9 + SAMPLE_INTERVAL_S / 2
        while (now := time.monotonic()) < end_s:
            if now < next_sample:
                time.sleep(min(next_sample, end_s) - now)
                continue
            for probe in probes:
                probe.sample(fetch_info(options.host, probe.port, password=options.password))
            next_sample += SAMPLE_INTERVAL_S

        results: list[WorkerResult] = []
        deadline = drain / 1e9 + RESULT_GRACE_S
        for proc, pipe in procs:
            tag, detail = _receive(proc, pipe, deadline, "finish")
            if tag != "done" or not isinstance(detail, WorkerResult):
                raise BenchError(f"worker {proc.name}: {detail}")
            results.append(detail)
        for probe in probes:
            probe.after = fetch_info(options.host, probe.port, password=options.password)
    finally:
        _stop(procs)

    clients_per_port: dict[int, int] = {}
    for slots in plan:
        for slot in slots:
            clients_per_port[slot.port] = clients_per_port.get(slot.port, 0) + 1
    config: dict[str, object] = {
        "host": options.host, "ports": list(options.ports), "clients": options.clients,
        "duration_s": options.duration_s, "pipeline": options.pipeline,
        "processes": len(specs), "read_ratio": options.workload.read_ratio,
        "conflict_pct": options.workload.conflict_pct,
        "value_size": options.workload.value_size, "keyspace": options.workload.keyspace,
        "seed": seed, "workload": options.workload.describe(),
    }
    return build_report(config, options.duration_s, results, probes, clients_per_port)


def _receive(
    proc: BaseProcess, pipe: Connection, deadline: float, what: str
) -> tuple[str, object]:
    """The worker's next message, or a clear reason why none came before ``deadline``."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "error", f"did not {what} in time"
        if pipe.poll(min(remaining, 0.5)):
            try:
                tag, detail = pipe.recv()
            except EOFError:
                return "error", f"exited (code {proc.exitcode}) before it could {what}"
            return str(tag), detail
        if not proc.is_alive():
            return "error", f"exited (code {proc.exitcode}) before it could {what}"


def _stop(procs: list[tuple[BaseProcess, Connection]]) -> None:
    for _, pipe in procs:
        with contextlib.suppress(OSError, ValueError):  # already finished and gone
            pipe.send(("abort",))
    for proc, pipe in procs:
        proc.join(JOIN_TIMEOUT_S)
        if proc.is_alive():
            proc.terminate()  # SIGTERM to this worker's own PID
            proc.join(JOIN_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join(JOIN_TIMEOUT_S)
        pipe.close()
