"""The command line refuses bad arguments with a usage error (exit 2), not a traceback."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from epaxosdb.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicas", "4"], "a cluster has 1, 3, 5 or 7 replicas"),
        (["--replicas", "0"], "a cluster has 1, 3, 5 or 7 replicas"),
        (["--replicas", "abc"], "not a comma-separated list of sizes"),
        (["--steps", "0"], "0 is not in the range x>=1"),
        (["--seeds", "-1"], "-1 is not in the range x>=1"),
        (["--seed", "1", "--seeds", "2"], "--seed replays one seed"),
    ],
)
def test_simulate_refuses_bad_arguments_with_a_usage_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["simulate", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_storage_failure_says_when_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LMDB often reports a full disk as an I/O error; the stop line says it plainly."""
    from epaxosdb import cli

    assert "MB free on its disk" in cli._free_space(tmp_path)
    full = SimpleNamespace(total=1, used=1, free=0)
    monkeypatch.setattr(cli.shutil, "disk_usage", lambda path: full)
    assert cli._free_space(tmp_path) == "its disk is FULL: 0 bytes free"
