"""Latency plots from bench reports, if matplotlib happens to be installed.

matplotlib is not a dependency of epaxosdb and must not become one for a
nice-to-have, so it is imported lazily through ``importlib`` (which also keeps
mypy from needing its stubs). Plots work on the report's JSON form — the same
dict ``--json`` prints — so ``tools/plot_latency.py`` can draw runs recorded
earlier, on another machine, without re-running them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MISSING = (
    "matplotlib is not installed, so no plot was written; install it where you run the bench "
    "(pip install matplotlib) or save the numbers with --json and plot them elsewhere with "
    "tools/plot_latency.py"
)


def load_pyplot() -> Any | None:
    """``matplotlib.pyplot`` with the file-only Agg backend, or None if matplotlib is absent."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def _label(report: Mapping[str, Any]) -> str:
    c = report.get("config", {})
    return (
        f"conflict {c.get('conflict_pct', 0):g}%, reads {c.get('read_ratio', 0):.0%}, "
        f"{c.get('clients', '?')} clients, {report.get('throughput_ops_s', 0):,.0f} ops/s"
    )


def write_plot(reports: Sequence[Mapping[str, Any]], path: Path) -> str | None:
    """Latency over time (p50, p99 per second) and the latency CDF of each report, as one PNG.

    Returns None on success, or the reason no file was written.
    """
    plt = load_pyplot()
    if plt is None:
        return MISSING
    fig, (ax_time, ax_cdf) = plt.subplots(1, 2, figsize=(13, 4.8))
    for report in reports:
        label = _label(report)
        points = [p for p in report.get("timeline", []) if p.get("p50_ms") is not None]
        t = [p["t_s"] + 0.5 for p in points]
        line = ax_time.plot(t, [p["p50_ms"] for p in points], label=label)[0]
        ax_time.plot(t, [p["p99_ms"] for p in points], linestyle="--",
                     color=line.get_color(), label="_nolegend_")
        cdf = report.get("cdf", [])
        if cdf:
            ax_cdf.plot([ms for ms, _ in cdf], [pct for _, pct in cdf], label=label)
    ax_time.set_xlabel("time since start (s)")
    ax_time.set_ylabel("latency (ms)")
    ax_time.set_title("latency per second: p50 (solid), p99 (dashed)")
    ax_time.set_ylim(bottom=0)
    ax_time.grid(True, which="both", alpha=0.3)
    ax_time.legend(fontsize="small")
    ax_cdf.set_xlabel("latency (ms)")
    ax_cdf.set_ylabel("operations at or below (%)")
    ax_cdf.set_title("latency CDF")
    ax_cdf.set_xscale("log")
    ticker = importlib.import_module("matplotlib.ticker")
    ax_cdf.xaxis.set_major_formatter(ticker.ScalarFormatter())
    ax_cdf.xaxis.set_minor_formatter(ticker.ScalarFormatter())
    ax_cdf.grid(True, which="both", alpha=0.3)
    ax_cdf.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
