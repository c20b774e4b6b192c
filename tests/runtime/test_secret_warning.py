"""A cluster without a secret whose peers are reachable off this machine is warned about."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from epaxosdb.clusterfile import load_cluster
from epaxosdb.runtime.serve import _warn_without_secret


def cluster_file(tmp_path: Path, host: str, secret: str = "") -> Path:
    path = tmp_path / "cluster.toml"
    header = f'[cluster]\nsecret = "{secret}"\n\n' if secret else ""
    path.write_text(
        header
        + "".join(
            f'[[replica]]\nid = {i}\nclient = "{host}:{6000 + i}"\npeer = "{host}:{7000 + i}"\n\n'
            for i in (1, 2, 3)
        )
    )
    return path


@pytest.mark.parametrize(
    ("host", "secret", "warned"),
    [("10.1.2.3", "", True), ("127.0.0.1", "", False), ("10.1.2.3", "s3cret", False)],
)
def test_no_secret_is_warned_about_unless_every_peer_is_on_loopback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, host: str, secret: str, warned: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="epaxosdb.serve"):
        _warn_without_secret(load_cluster(cluster_file(tmp_path, host, secret)))
    assert ("no [cluster] secret" in caplog.text) is warned
