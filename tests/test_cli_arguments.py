"""The command line refuses bad arguments with a usage error (exit 2), not a traceback."""

from __future__ import annotations

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
