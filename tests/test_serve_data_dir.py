"""``serve`` refuses a data dir it cannot use with one line and exit 2, not a traceback.

Every case here is refused before the replica listens, so the cluster files name
ports that are never opened.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from epaxosdb.cli import EXIT_REFUSED
from epaxosdb.clusterfile import load_cluster, render_cluster
from storage.lmdb_store import DATA_FILE_NAME, LmdbStore

TIMEOUT_S = 60


def serve(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epaxosdb", "serve", "--config", str(config), "--id", "1",
         *extra],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip


def one_replica(tmp_path: Path, peer: str = "127.0.0.1:2", name: str = "cluster.toml") -> Path:
    path = tmp_path / name
    path.write_text(render_cluster([(1, "127.0.0.1:1", peer, "d")]))
    return path


def assert_refused(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_data_dir_path_that_cannot_be_a_directory_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    config = one_replica(tmp_path)
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    assert_refused(serve(config, "--data-dir", str(a_file)), "it exists and is not a directory")
    assert_refused(
        serve(config, "--data-dir", str(a_file / "sub")),
        "part of its path is a file, not a directory",
    )
    assert a_file.read_bytes() == b"x"


def test_an_empty_data_dir_path_is_refused_rather_than_taken_as_the_current_directory(
    tmp_path: Path,
) -> None:
    config = one_replica(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "serve", "--config", str(config), "--id", "1",
         "--data-dir", ""],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert "the data dir path is empty" in done.stderr
    assert not (tmp_path / DATA_FILE_NAME).exists() and not (tmp_path / "LOCK").exists()


def test_a_data_dir_that_lost_its_data_file_is_refused_with_how_to_start_over(
    tmp_path: Path,
) -> None:
    """A 1-replica cluster would otherwise start empty: every key gone without a word."""
    config = one_replica(tmp_path)
    cluster = load_cluster(config)
    data_dir = tmp_path / "d"
    LmdbStore.open(data_dir, replica_id=1, cluster_id=cluster.cluster_id).close()
    (data_dir / DATA_FILE_NAME).unlink()
    assert_refused(serve(config), "empty the directory")
    assert not (data_dir / DATA_FILE_NAME).exists()


def test_a_data_dir_of_another_cluster_says_the_id_comes_from_the_cluster_file(
    tmp_path: Path,
) -> None:
    """Moving a peer port makes another cluster id; the refusal must say why (a QA run
    only saw two hex ids)."""
    before = load_cluster(one_replica(tmp_path, "127.0.0.1:2", "before.toml"))
    LmdbStore.open(tmp_path / "d", replica_id=1, cluster_id=before.cluster_id).close()
    moved = one_replica(tmp_path, "127.0.0.1:3", "moved.toml")
    done = serve(moved)
    assert_refused(done, "belongs to cluster")
    assert "the cluster id is derived from the cluster file" in done.stderr
    assert "moving a port" in done.stderr
