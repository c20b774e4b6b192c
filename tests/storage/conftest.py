"""Fixtures that run one test against both stores, the way trio's
``check_two_way_stream`` runs one conformance suite against every stream."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import pytest

from storage.interface import Store, Value
from storage.lmdb_store import LmdbStore
from storage.memory import MemoryStore

STORE_KINDS = ("memory", "lmdb")


class CheckedStore(Store, Protocol):
    """A Store that can also dump its keyspace, as both implementations do."""

    def kv_items(self) -> list[tuple[bytes, Value]]: ...


class Opened:
    """A store under test, and the restart a crash forces on it.

    ``reopen`` is what a replica does after a crash: the memory store keeps
    only its committed state, the LMDB store is closed and its data dir
    opened again.
    """

    def __init__(self, kind: str, path: Path) -> None:
        self.kind = kind
        self.path = path
        self.store: CheckedStore = self._open_first()

    def _open_first(self) -> CheckedStore:
        if self.kind == "memory":
            return MemoryStore()
        return LmdbStore.open(self.path, replica_id=1, cluster_id=b"test-cluster")

    def reopen(self) -> None:
        if isinstance(self.store, MemoryStore):
            self.store = self.store.reopen()
        else:
            self.store.close()
            self.store = LmdbStore.open(self.path, replica_id=1, cluster_id=b"test-cluster")

    def close(self) -> None:
        self.store.close()


@pytest.fixture(params=STORE_KINDS)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    handle = Opened(request.param, tmp_path / "data")
    try:
        yield handle
    finally:
        handle.close()


FreshStore = Callable[[], AbstractContextManager[CheckedStore]]


@pytest.fixture(params=STORE_KINDS)
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> FreshStore:
    """A factory of empty stores of one kind, for property tests that need one per example."""
    kind: str = request.param

    @contextmanager
    def make() -> Iterator[CheckedStore]:
        with tempfile.TemporaryDirectory(dir=tmp_path) as where:
            handle = Opened(kind, Path(where) / "data")
            try:
                yield handle.store
            finally:
                handle.close()

    return make
