"""The build digest replicas compare in their handshake (``epaxosdb.build``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from epaxosdb.build import SOURCES, build_id, digest_of

REPO = Path(__file__).resolve().parent.parent


def _copy_of_the_tree(to: Path) -> Path:
    for source in (*SOURCES, "epaxosdb/runtime/connection.py"):
        src, dst = REPO / source, to / source
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    return to


def test_the_digest_is_this_trees() -> None:
    assert build_id() == digest_of(REPO)


def test_a_change_to_how_commands_execute_makes_another_build(tmp_path: Path) -> None:
    """Even a comment: the digest cannot tell behaviour from text, so any edit of the
    code replicas run counts."""
    tree = _copy_of_the_tree(tmp_path)
    before = digest_of(tree)
    for edited in ("epaxosdb/commands/strings.py", "epaxosdb/core/replica.py",
                   "epaxosdb/node.py", "storage/values.py", "protocol/peer.py"):  # fmt: skip
        path = tree / edited
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        assert digest_of(tree) != before, edited
        path.write_bytes(original)
    assert digest_of(tree) == before
    (tree / "epaxosdb/commands/new_module.py").write_text("X = 1\n")
    assert digest_of(tree) != before, "a new module counts too"


def test_the_client_front_end_is_not_part_of_the_build(tmp_path: Path) -> None:
    """Builds that differ only in how clients are served agree on every command."""
    tree = _copy_of_the_tree(tmp_path)
    before = digest_of(tree)
    path = tree / "epaxosdb/runtime/connection.py"
    path.write_bytes(path.read_bytes() + b"\n# edited\n")
    assert digest_of(tree) == before


def test_version_names_the_build_that_info_reports() -> None:
    from click.testing import CliRunner

    from epaxosdb.build import build_name
    from epaxosdb.cli import main

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("epaxosdb ") and f", build {build_name()}\n" in result.output
