"""Plot ``epaxosdb bench --json`` results: latency over time and latency CDFs, overlaid.

The bench prints one JSON line per run, so a sweep is a file of lines::

    for c in 0 2 25 100; do
        epaxosdb bench --port 6379 --port 6380 --port 6381 --conflict $c --json >> runs.jsonl
    done
    python tools/plot_latency.py runs.jsonl --out conflict.png

Each run becomes one line in each panel (p50 solid, p99 dashed over time; the
CDF on a log axis), labelled with its conflict rate, read ratio, clients and
throughput. ``--per-replica`` prints each run's per-replica p50/p99 as a table
instead — the shape of the paper's Fig. 4 when the run was made against a
WAN emulation (``tools/wan_proxy.py``). matplotlib is needed only for the PNG;
it is not an epaxosdb dependency.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from epaxosdb.bench.plot import write_plot


def read_reports(paths: list[Path]) -> list[dict[str, Any]]:
    reports = []
    for path in paths:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        for n, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line.startswith("{"):
                continue  # progress lines or blank lines mixed into the file
            try:
                report = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not a JSON line: {exc}") from None
            if "latency" in report and "config" in report:
                reports.append(report)
    return reports


def per_replica_table(reports: list[dict[str, Any]]) -> str:
    lines = []
    for r in reports:
        c = r["config"]
        lines.append(
            f"conflict {c['conflict_pct']:g}%, reads {c['read_ratio']:g}, {c['clients']} clients: "
            f"{r['throughput_ops_s']:,.0f} ops/s, fast path {r['epaxos'].get('fast_path_ratio')}"
        )
        lines.append("  port    replica  p50 ms    p99 ms    fast path  server commit p50 ms")
        for rep in r["replicas"]:
            lat = rep.get("latency") or {}
            lines.append(
                f"  {rep['port']:<7} {rep.get('replica_id')!s:<8} "
                f"{lat.get('p50_ms', float('nan')):<9.1f} {lat.get('p99_ms', float('nan')):<9.1f} "
                f"{rep.get('fast_path_ratio')!s:<10} {rep.get('commit_latency_p50_ms')}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plot epaxosdb bench --json lines.")
    parser.add_argument("files", nargs="+", type=Path, help="files of JSON lines ('-': stdin)")
    parser.add_argument("--out", type=Path, default=Path("latency.png"))
    parser.add_argument("--per-replica", action="store_true",
                        help="print per-replica latency tables instead of plotting")
    args = parser.parse_args(argv)
    reports = read_reports(args.files)
    if not reports:
        print("no bench reports found in the input", file=sys.stderr)
        return 1
    if args.per_replica:
        print(per_replica_table(reports))
        return 0
    problem = write_plot(reports, args.out)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({len(reports)} run(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
