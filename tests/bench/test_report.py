"""The report: merging worker results and INFO deltas, and the shape of the JSON line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from epaxosdb.bench.histogram import Histogram
from epaxosdb.bench.load import WorkerResult
from epaxosdb.bench.probe import ReplicaProbe, parse_info
from epaxosdb.bench.report import build_report, format_text

CONFIG: dict[str, object] = {
    "host": "127.0.0.1", "ports": [7001, 7002], "clients": 4, "duration_s": 2.0,
    "pipeline": 1, "processes": 2, "read_ratio": 0.5, "conflict_pct": 2.0, "value_size": 16,
    "keyspace": None, "seed": 1, "workload": "test",
}


def worker(index: int, port: int, latencies_us: list[int], errors: dict[str, int]) -> WorkerResult:
    h = Histogram.of(latencies_us)
    return WorkerResult(
        index=index, connections=2, per_port={port: h}, timeline=[h, Histogram()],
        ops_in_window=len(latencies_us), errors=errors, cpu_s=0.5, wall_s=2.0,
    )


def probe(
    port: int, before: dict[str, int], after: dict[str, int], lags: list[int]
) -> ReplicaProbe:
    p = ReplicaProbe(port, before={**before}, after={**after})
    for lag in lags:
        p.sample({"execute_lag": lag})
    return p


def sample_report() -> dict[str, Any]:
    results = [
        worker(0, 7001, [1000] * 90 + [50_000] * 10, {"UNCERTAIN": 2, "ERR": 1}),
        worker(1, 7002, [2000] * 100, {"LOADING": 3}),
    ]
    probes = [
        probe(7001, {"fast_path_commits": 10, "slow_path_commits": 5, "instances_proposed": 15},
              {"fast_path_commits": 40, "slow_path_commits": 15, "instances_proposed": 55,
               "replica_id": 1, "execute_lag": 0}, [0, 4, 2]),
        probe(7002, {"fast_path_commits": 0, "slow_path_commits": 0, "instances_proposed": 0},
              {"fast_path_commits": 20, "slow_path_commits": 0, "instances_proposed": 20,
               "replica_id": 2, "execute_lag": 1}, [1]),
    ]
    report = build_report(CONFIG, 2.0, results, probes, {7001: 2, 7002: 2})
    decoded: dict[str, Any] = json.loads(report.to_json())
    return decoded


def test_the_json_line_has_every_section_and_the_documented_fields() -> None:
    r = sample_report()
    assert set(r) == {"version", "config", "duration_s", "ops", "throughput_ops_s", "latency",
                      "errors", "epaxos", "replicas", "generator", "timeline", "cdf"}
    assert set(r["latency"]) == {
        "count", "mean_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"}
    assert {"total", "by_prefix", "uncertain", "loading", "connection", "unfinished",
            "disconnects", "connect_failures"} == set(r["errors"])
    assert {"available", "fast_path_commits", "slow_path_commits", "fast_path_ratio",
            "execute_lag_max", "execute_lag_mean", "execute_lag_after",
            "commands_per_instance"} <= set(r["epaxos"])
    assert r["version"] == 1 and r["config"] == CONFIG


def test_throughput_counts_successes_in_the_window_and_latency_merges_all_workers() -> None:
    r = sample_report()
    assert r["ops"] == 200 and r["throughput_ops_s"] == 100.0
    lat = r["latency"]
    assert isinstance(lat, dict)
    assert lat["count"] == 200 and lat["max_ms"] == 50.0
    assert lat["p50_ms"] == pytest.approx(2.0, rel=0.005)
    assert lat["p99_ms"] == pytest.approx(50.0, rel=0.005)


def test_uncertain_and_loading_replies_are_counted_apart_from_other_errors() -> None:
    errors = sample_report()["errors"]
    assert isinstance(errors, dict)
    assert errors["by_prefix"] == {"ERR": 1, "LOADING": 3, "UNCERTAIN": 2}
    assert (errors["total"], errors["uncertain"], errors["loading"]) == (6, 2, 3)


def test_fast_path_ratio_comes_from_the_counters_growth_over_the_run() -> None:
    r = sample_report()
    epaxos, replicas = r["epaxos"], r["replicas"]
    assert isinstance(epaxos, dict) and isinstance(replicas, list)
    assert (epaxos["fast_path_commits"], epaxos["slow_path_commits"]) == (50, 10)
    assert epaxos["fast_path_ratio"] == round(50 / 60, 4)
    assert [x["fast_path_ratio"] for x in replicas] == [0.75, 1.0]
    assert epaxos["execute_lag_max"] == 4 and epaxos["execute_lag_after"] == 1
    assert epaxos["commands_per_instance"] == round(206 / 60, 2)


def test_a_server_without_an_epaxos_section_reports_absent_figures_not_zeros() -> None:
    probes = [ReplicaProbe(7001, before={}, after={})]
    report = build_report(CONFIG, 2.0, [worker(0, 7001, [100], {})], probes, {7001: 1})
    assert report.epaxos.available is False
    assert report.epaxos.fast_path_ratio is None
    assert "no '# EPaxos' INFO section" in format_text(report)


def test_the_text_summary_names_every_headline_figure() -> None:
    results = [worker(0, 7001, [1000, 2000, 3000], {"UNCERTAIN": 1})]
    probes = [probe(7001, {"fast_path_commits": 0, "slow_path_commits": 0},
                    {"fast_path_commits": 3, "slow_path_commits": 1}, [0])]
    text = format_text(build_report(CONFIG, 2.0, results, probes, {7001: 1}))
    for needle in ("ops/s", "p50", "p90", "p99 ", "p99.9", "max", "UNCERTAIN 1",
                   "fast path 75.0%", "execute_lag", "ops per CPU-second"):
        assert needle in text, needle


def test_the_timeline_is_cut_at_the_run_duration_and_the_cdf_ends_at_the_max() -> None:
    r = sample_report()
    timeline, cdf = r["timeline"], r["cdf"]
    assert isinstance(timeline, list) and isinstance(cdf, list)
    assert [p["t_s"] for p in timeline] == [0, 1] and timeline[0]["ops"] == 200
    assert timeline[1]["p50_ms"] is None
    assert cdf[-1] == [50.0, 100.0]
    assert [pct for _, pct in cdf] == sorted(pct for _, pct in cdf)


def test_info_text_parses_into_sections_with_numbers() -> None:
    text = "# Server\r\nredis_version:7.0.0\r\n\r\n# EPaxos\r\nreplica_id:2\r\n" \
           "commit_latency_p50_ms:1.25\r\nexecuted_watermarks:0,3,-1\r\n"
    sections = parse_info(text)
    assert sections["epaxos"] == {"replica_id": 2, "commit_latency_p50_ms": 1.25,
                                  "executed_watermarks": "0,3,-1"}
    assert sections["server"]["redis_version"] == "7.0.0"


def test_a_counter_missing_before_or_after_has_no_delta() -> None:
    assert ReplicaProbe(1, before=None, after={"fast_path_commits": 3}).delta(
        "fast_path_commits") is None
    assert ReplicaProbe(1, before={"x": 1}, after={"x": 4}).delta("x") == 3
