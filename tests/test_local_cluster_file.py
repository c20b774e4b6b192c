"""``epaxosdb local``'s cluster file: written once, then the data dir's cluster is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from epaxosdb.local import LocalRefused, check_port_range, cluster_file


def test_a_rerun_with_the_same_settings_keeps_the_file(tmp_path: Path) -> None:
    path = cluster_file(3, 17000, tmp_path)
    written = path.read_text()
    assert cluster_file(3, 17000, tmp_path) == path
    assert path.read_text() == written


def test_other_ports_on_the_same_data_dir_are_refused_and_the_file_is_kept(
    tmp_path: Path,
) -> None:
    """Other ports would make another cluster, which the data directories refuse with a
    message about cluster ids; and a cluster may be running from the file (a QA run saw
    a refused rerun rewrite it under a running cluster)."""
    path = cluster_file(3, 17000, tmp_path)
    written = path.read_text()
    with pytest.raises(SystemExit, match="run with --port 17000"):
        cluster_file(3, 17100, tmp_path)
    with pytest.raises(SystemExit, match="run with --replicas 3"):
        cluster_file(5, 17000, tmp_path)
    assert path.read_text() == written


def test_ports_past_65535_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    """``local --port 65000`` wrote peer ports of 66000 into the file, and every later run on
    that data dir failed on it until the file was deleted (a QA run)."""
    data_dir = tmp_path / "new"
    for replicas, port, why in (
        (3, 65000, "ports end at 65535"),
        (3, 64534, "ports end at 65535"),
        (1, 64536, "ports end at 65535"),
        (3, 0, "ports start at 1"),
        (3, -5, "ports start at 1"),
    ):
        with pytest.raises(LocalRefused, match=why):
            cluster_file(replicas, port, data_dir)
        assert not data_dir.exists(), (replicas, port)
    check_port_range(3, 64533)  # peer ports 65533-65535: the last range that fits
    check_port_range(1, 1)
    path = cluster_file(3, 64533, data_dir)
    assert "127.0.0.1:65535" in path.read_text()
