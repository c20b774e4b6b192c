"""``epaxosdb local``'s cluster file: written once, then the data dir's cluster is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from epaxosdb.clusterfile import load_cluster
from epaxosdb.local import LocalRefused, LocalTls, check_port_range, cluster_file


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


def test_tls_options_add_tls_lines_and_a_rerun_without_them_removes_them(
    tmp_path: Path,
) -> None:
    """What else the file says (a secret added by hand, a setting) survives the rewrite;
    the cluster's identity does not change, so the data dirs still fit."""
    plain = cluster_file(3, 17000, tmp_path)
    plain_text = plain.read_text()
    assert "tls" not in plain_text
    edited = 'tick_ms = 5\nsecret = "s3"\nbatch_max = 7'
    plain.write_text(plain_text.replace("tick_ms = 10", edited))
    before = load_cluster(plain)
    tls = LocalTls(Path("/certs/c.pem"), Path("/certs/k.pem"), Path("/certs/ca.pem"), "optional")
    cluster_file(3, 17000, tmp_path, tls)
    with_tls = load_cluster(plain)
    assert [r.tls_client and r.tls_client.port for r in with_tls.replicas] == [17010, 17011, 17012]
    assert {r.tls for r in with_tls.replicas} == {tls.settings}
    assert (with_tls.cluster_id, with_tls.secret, with_tls.tick_ms, with_tls.settings) == (
        before.cluster_id, b"s3", 5, {"batch_max": 7}
    )
    written = plain.read_text()
    assert cluster_file(3, 17000, tmp_path, tls) == plain
    assert plain.read_text() == written, "the same options keep the file as it is"
    cluster_file(3, 17000, tmp_path)
    again = load_cluster(plain)
    assert all(r.tls_client is None for r in again.replicas)
    assert (again.cluster_id, again.secret, again.settings) == (before.cluster_id, b"s3",
                                                                {"batch_max": 7})


def test_tls_peers_is_written_and_a_rerun_without_it_drops_it(tmp_path: Path) -> None:
    files = (Path("/certs/c.pem"), Path("/certs/k.pem"), Path("/certs/ca.pem"))
    path = cluster_file(3, 17000, tmp_path, LocalTls(*files, "yes", peers=True))
    assert load_cluster(path).tls_peers
    cluster_file(3, 17000, tmp_path, LocalTls(*files, "yes"))
    assert not load_cluster(path).tls_peers
    assert "tls_peers" not in path.read_text()


def test_a_named_cluster_is_not_rewritten_for_tls(tmp_path: Path) -> None:
    path = cluster_file(3, 17000, tmp_path)
    path.write_text(path.read_text().replace("tick_ms = 10", 'tick_ms = 10\nid = "prod"'))
    named = path.read_text()
    tls = LocalTls(Path("/c.pem"), Path("/k.pem"), Path("/ca.pem"))
    with pytest.raises(LocalRefused, match="names its cluster"):
        cluster_file(3, 17000, tmp_path, tls)
    assert path.read_text() == named
