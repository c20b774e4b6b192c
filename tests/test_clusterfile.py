"""The cluster file: what a valid one means, and a clear refusal for every bad one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from epaxosdb.cli import EXIT_REFUSED
from epaxosdb.clusterfile import (
    ClusterFileError,
    load_cluster,
    parse_cluster,
    render_cluster,
)


def _three(**cluster: object) -> dict[str, object]:
    replicas = [
        {"id": i, "client": f"127.0.0.1:{6378 + i}", "peer": f"127.0.0.1:{7378 + i}",
         "data_dir": f"data/{i}"}
        for i in (1, 2, 3)
    ]
    data: dict[str, object] = {"replica": replicas}
    if cluster:
        data["cluster"] = cluster
    return data


def test_a_rendered_cluster_file_loads_back_with_paths_relative_to_it(tmp_path: Path) -> None:
    text = render_cluster(
        [(i, f"127.0.0.1:{6378 + i}", f"127.0.0.1:{7378 + i}", f"d/{i}") for i in (3, 1, 2)],
        tick_ms=5,
    )
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    cluster = load_cluster(path)
    assert cluster.ids == (1, 2, 3)
    assert cluster.tick_ms == 5
    assert cluster.replica(2).data_dir == tmp_path.resolve() / "d" / "2"
    assert str(cluster.replica(3).client) == "127.0.0.1:6381"
    assert cluster.path == path.resolve(), "INFO's config_file names the file, not its directory"


def test_the_cluster_id_depends_on_membership_not_on_listing_order() -> None:
    a = parse_cluster(_three())
    shuffled = _three()
    shuffled["replica"] = list(reversed(shuffled["replica"]))  # type: ignore[call-overload]
    moved = _three()
    moved["replica"][0]["peer"] = "127.0.0.1:9999"  # type: ignore[index]
    assert parse_cluster(shuffled).cluster_id == a.cluster_id
    assert parse_cluster(moved).cluster_id != a.cluster_id
    named = parse_cluster(_three(id="prod"))
    assert named.cluster_id not in (a.cluster_id, parse_cluster(_three(id="test")).cluster_id)


def test_core_settings_reach_the_replica_and_unknown_ones_are_refused() -> None:
    cluster = parse_cluster(_three(batch_max=32, command_timeout_ms=500))
    assert cluster.core_settings() == {
        "batch_max": 32,
        "leave_behind_instances": 10_000,
        "leave_behind_bytes": 256 << 20,
        "leave_behind_ticks": 6_000,
    }
    assert cluster.command_timeout_s == 0.5
    quick = parse_cluster(
        _three(tick_ms=7, leave_behind_ms=100, leave_behind_instances=0, leave_behind_bytes=0)
    )
    assert quick.core_settings() == {
        "leave_behind_instances": 0,
        "leave_behind_bytes": 0,
        "leave_behind_ticks": 15,
    }
    with pytest.raises(ClusterFileError, match="unknown \\[cluster\\] setting 'batch_size'"):
        parse_cluster(_three(batch_size=32))
    with pytest.raises(ClusterFileError, match="batch_max must be a non-negative integer"):
        parse_cluster(_three(batch_max="32"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("replica"), "at least one \\[\\[replica\\]\\]"),
        (lambda d: d["replica"].pop(), "1, 3, 5 or 7 replicas, not 2"),
        (lambda d: d["replica"][1].update(id=1), "replica ids repeat"),
        (lambda d: d["replica"][0].update(id=0), "id must be an integer 1..255"),
        (lambda d: d["replica"][0].update(id=True), "id must be an integer 1..255"),
        (lambda d: d["replica"][0].update(client="localhost"), "must be \"host:port\""),
        (lambda d: d["replica"][0].update(peer="127.0.0.1:x"), "bad port"),
        (lambda d: d["replica"][0].update(peer="127.0.0.1:70000"), "bad host or port"),
        (lambda d: d["replica"][1].update(client="127.0.0.1:6379"), "share an address"),
        (lambda d: d["replica"][0].update(data_dir=7), "data_dir must be a string"),
        (lambda d: d.update(cluster={"tick_ms": 0}), "tick_ms is an integer"),
        (lambda d: d.update(cluster={"secret": 1}), "secret and requirepass are strings"),
        (lambda d: d.update(cluster=[1]), "\\[cluster\\] must be a table"),
    ],
)
def test_an_inconsistent_cluster_file_is_refused_with_the_reason(
    mutate: object, message: str
) -> None:
    data = _three()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ClusterFileError, match=message):
        parse_cluster(data)


def test_a_missing_or_malformed_file_is_refused_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ClusterFileError, match=r"cannot read cluster file .*nope\.toml"):
        load_cluster(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[replica]\nid = 1\n")
    with pytest.raises(ClusterFileError, match=r"broken\.toml is not valid TOML"):
        load_cluster(broken)


def test_serve_exits_with_a_clear_message_on_a_bad_cluster_file_or_unknown_id(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"\x00\xff garbage")
    good = tmp_path / "good.toml"
    good.write_text(render_cluster([(1, "127.0.0.1:1", "127.0.0.1:2", "d")]))
    for path, rid, expected in (
        (broken, 1, "is not valid TOML"),
        (good, 4, "replica 4 is not in the cluster file"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "epaxosdb", "serve", "--config", str(path), "--id", str(rid)],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == EXIT_REFUSED, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr
