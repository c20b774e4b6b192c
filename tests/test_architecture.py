"""The import rules of DESIGN.md §2, enforced by parsing every module.

* ``protocol`` imports only the standard library, hiredis and msgpack;
* ``storage`` never imports ``epaxosdb`` or trio, and only ``lmdb_store`` imports lmdb;
* ``epaxosdb.core`` imports no time, socket, os, threading, asyncio, trio, lmdb,
  storage, and never calls the ``random`` module's global functions;
* ``epaxosdb.sim`` imports no trio, lmdb or runtime;
* only ``epaxosdb.runtime`` imports trio.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names)


def modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def top(name: str) -> str:
    return name.split(".")[0]


def violations(package: str, allowed: object) -> list[str]:
    bad = []
    for path in modules(package):
        for name, line in imports(path):
            if not allowed(path, name):  # type: ignore[operator]
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return bad


def test_protocol_imports_only_the_standard_library_hiredis_and_msgpack() -> None:
    ok = {"hiredis", "msgpack", "protocol"} | STDLIB
    assert violations("protocol", lambda p, n: top(n) in ok) == []


def test_storage_imports_no_epaxosdb_no_trio_and_lmdb_only_in_lmdb_store() -> None:
    def allowed(path: Path, name: str) -> bool:
        if top(name) in ("epaxosdb", "trio"):
            return False
        if top(name) == "lmdb":
            return path.name == "lmdb_store.py"
        return top(name) in STDLIB | {"protocol", "storage"}

    assert violations("storage", allowed) == []


CORE_BANNED = {"time", "socket", "os", "threading", "asyncio", "trio", "lmdb", "storage",
               "datetime", "secrets", "subprocess", "selectors"}


def test_core_imports_no_io_clock_threads_or_storage() -> None:
    def allowed(path: Path, name: str) -> bool:
        return top(name) not in CORE_BANNED and top(name) in STDLIB | {"protocol", "epaxosdb"} and (
            not name.startswith("epaxosdb.") or name.startswith("epaxosdb.core")
        )

    assert violations("epaxosdb/core", allowed) == []


def test_core_never_uses_module_level_random() -> None:
    bad = []
    for path in modules("epaxosdb/core"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "random":
                names = {a.name for a in node.names}
                if names - {"Random"}:
                    bad.append(f"{path.name}: from random import {names}")
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "random"
                and node.attr != "Random"
            ):
                bad.append(f"{path.name}:{node.lineno} random.{node.attr}")
    assert bad == []


def test_simulator_imports_no_trio_lmdb_or_runtime() -> None:
    def allowed(path: Path, name: str) -> bool:
        return top(name) not in ("trio", "lmdb") and not name.startswith("epaxosdb.runtime") and (
            name != "storage.lmdb_store"
        )

    assert violations("epaxosdb/sim", allowed) == []


def test_only_the_runtime_imports_trio() -> None:
    bad = []
    for path in modules("epaxosdb"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("epaxosdb/runtime/"):
            continue
        for name, line in imports(path):
            if top(name) == "trio":
                bad.append(f"{rel}:{line}")
    for package in ("protocol", "storage"):
        for p in modules(package):
            bad += [f"{p}:{line}" for n, line in imports(p) if top(n) == "trio"]
    assert bad == []


def test_commands_and_node_import_no_trio_lmdb_or_core_internals() -> None:
    def allowed(path: Path, name: str) -> bool:
        return top(name) not in ("trio", "lmdb") and name != "storage.lmdb_store"

    assert violations("epaxosdb/commands", allowed) == []
    node = ROOT / "epaxosdb" / "node.py"
    assert [n for n, _ in imports(node) if top(n) in ("trio", "lmdb")] == []


@pytest.mark.parametrize("banned", ["time", "socket", "trio", "storage.memory"])
def test_the_architecture_check_catches_a_forbidden_core_import(
    banned: str, tmp_path: Path
) -> None:
    """The checker itself can fail: a core module importing ``banned`` is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text(f"import {banned}\n")
    names = [n for n, _ in imports(bad)]
    assert any(top(n) in CORE_BANNED for n in names)
