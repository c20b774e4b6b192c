"""``epaxosdb local``'s cluster file: written once, then the data dir's cluster is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from epaxosdb.local import cluster_file


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
