"""``epaxosdb bench``: the click command (registered in ``epaxosdb/cli.py``).

Progress goes to stderr so that ``--json`` leaves exactly one JSON line on
stdout, ready to be appended to a file and plotted later.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from epaxosdb.bench.workload import Workload


@click.command("bench")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", "ports", multiple=True, type=click.IntRange(1, 65535),
              default=(6379,), show_default=True,
              help="A replica's client port; repeat it to spread clients round robin.")
@click.option("--clients", default=50, show_default=True, type=click.IntRange(min=1),
              help="Closed-loop clients, each with its own connection.")
@click.option("--duration", default=10.0, show_default=True,
              type=click.FloatRange(0, 86_400, min_open=True), help="Seconds of measured load.")
@click.option("--read-ratio", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Fraction of commands that are GET; the rest are SET.")
@click.option("--conflict", default=0.0, show_default=True, type=click.FloatRange(0, 100),
              help="Percent of commands on one hot key; the others use distinct, "
                   "never-reused keys (the EPaxos paper's interference knob).")
@click.option("--value-size", default=16, show_default=True, type=click.IntRange(0, 512 << 20),
              help="Bytes per SET value.")
@click.option("--pipeline", default=1, show_default=True, type=click.IntRange(min=1),
              help="Requests each client keeps outstanding.")
@click.option("--keyspace", default=None, type=click.IntRange(min=1),
              help="Draw non-hot keys from this many shared keys instead of distinct ones.")
@click.option("--processes", default=None, type=click.IntRange(min=1),
              help="Generator worker processes [default: half the cores, at least 1].")
@click.option("--drain", default=5.0, show_default=True, type=click.FloatRange(0, 600),
              help="Seconds to wait for outstanding replies after the run.")
@click.option("--seed", default=None, type=int, help="Seed of the key and command choices.")
@click.option("-a", "--password", default=None, help="AUTH password (cluster requirepass).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line with every figure.")
@click.option("--plot", "plot_path", default=None, type=click.Path(path_type=Path),
              help="Write a PNG of latency over time and the latency CDF (needs matplotlib).")
def command(
    host: str, ports: tuple[int, ...], clients: int, duration: float, read_ratio: float,
    conflict: float, value_size: int, pipeline: int, keyspace: int | None,
    processes: int | None, drain: float, seed: int | None, password: str | None,
    as_json: bool, plot_path: Path | None,
) -> None:
    """Closed-loop load: throughput, latency percentiles, fast-path ratio and execution lag."""
    from epaxosdb.bench.plot import write_plot
    from epaxosdb.bench.report import format_text
    from epaxosdb.bench.run import BenchError, BenchOptions, default_processes, run_bench

    options = BenchOptions(
        host=host, ports=tuple(ports), clients=clients, duration_s=duration,
        workload=Workload(read_ratio, conflict, value_size, keyspace),
        pipeline=pipeline, processes=processes or default_processes(clients),
        drain_s=drain, seed=seed, password=password,
    )

    def say(message: str) -> None:
        click.echo(f"bench: {message}", err=True)

    try:
        report = run_bench(options, say)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("bench: interrupted", err=True)
        sys.exit(130)
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(format_text(report))
    if plot_path is not None:
        problem = write_plot([json.loads(report.to_json())], plot_path)
        say(problem if problem else f"plot written to {plot_path}")
