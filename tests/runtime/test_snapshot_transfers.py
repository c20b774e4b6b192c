"""Snapshot transfers between two replicas' runtimes, in one process (``runtime.snapshots``).

Two ``SnapshotTransfers`` wired back to back: the joiner pulls the source's
LMDB copy part by part (parts made small here, so there are many) and installs
it; a source that is rebuilding itself refuses, and the joiner tries the next.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from epaxosdb.core.ready import SnapshotWanted
from epaxosdb.core.state import META_JOIN_BOUND
from epaxosdb.runtime import snapshots
from epaxosdb.runtime.snapshots import SnapshotTransfers
from protocol.messages import ReplicaId
from protocol.peer import PeerFrame, SnapshotFetch, SnapshotPart
from storage.interface import Txn, Value, ValueType
from storage.lmdb_store import LmdbStore

CLUSTER = b"transfer-test"
DONE_S = 30.0
LIBRARIES = b"the function registry, opaque to storage"


def open_store(path: Path, replica: int) -> LmdbStore:
    return LmdbStore.open(path, replica_id=replica, cluster_id=CLUSTER)


class Pair:
    """Replica 1 (the joiner) and replicas 2 and 3 (sources), each with its transfers."""

    def __init__(self, tmp: Path, rebuilding: set[int], dead: frozenset[int] = frozenset()) -> None:
        self.dead = dead
        """Replicas that receive nothing (killed, or stopped)."""
        self.stores = {r: open_store(tmp / f"data-{r}", r) for r in (1, 2, 3)}
        self.installed = trio.Event()
        self.sent: list[tuple[int, int, PeerFrame]] = []
        self.ends = {
            r: SnapshotTransfers(
                r, r - 1, self.stores[r], tmp / f"data-{r}",
                lambda dst, m, src=r: self.send(src, dst, m),
                self.installed.set if r == 1 else (lambda: None),
                rebuilding=lambda r=r: r in rebuilding,
            )
            for r in (1, 2, 3)
        }  # fmt: skip

    def send(self, src: ReplicaId, dst: ReplicaId, m: PeerFrame) -> None:
        self.sent.append((src, dst, m))
        if dst in self.dead:
            return
        end = self.ends[dst]
        if isinstance(m, SnapshotFetch):
            end.on_fetch(m)
        elif isinstance(m, SnapshotPart):
            end.on_part(m)

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


def fill(store: LmdbStore, keys: int) -> None:
    def write(txn: Txn) -> None:
        for n in range(keys):
            txn.put(b"key:%05d" % n, Value(ValueType.STRING, 0, b"v" * 100))

    store.write(write)


async def fetch(pair: Pair, sources: tuple[int, ...]) -> None:
    async with trio.open_nursery() as nursery:
        for end in pair.ends.values():
            await nursery.start(end.run)
        pair.ends[1].want(SnapshotWanted((4, 9, 2), sources))
        with trio.fail_after(DONE_S):
            await pair.installed.wait()
        nursery.cancel_scope.cancel()


def test_a_joiner_pulls_a_peers_copy_part_by_part_and_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "PART_BYTES", 16 << 10)
    pair = Pair(tmp_path, rebuilding=set())
    try:
        fill(pair.stores[2], 2000)
        pair.stores[2].write(lambda txn: txn.set_functions(LIBRARIES))
        trio.run(fetch, pair, (2,))
        joiner = pair.stores[1]
        assert joiner.kv_items() == pair.stores[2].kv_items()
        assert joiner.read(lambda view: view.functions()) == LIBRARIES
        assert joiner.get_meta(META_JOIN_BOUND) == b"4,9,2"
        parts = [m for _, dst, m in pair.sent if dst == 1 and isinstance(m, SnapshotPart)]
        assert len(parts) > 5 and parts[-1].offset + len(parts[-1].data) == parts[-1].total
        assert not (tmp_path / "data-1" / snapshots.IN_DIR).exists()
    finally:
        pair.close()


def test_a_source_rebuilding_itself_refuses_and_the_joiner_takes_the_next(
    tmp_path: Path,
) -> None:
    pair = Pair(tmp_path, rebuilding={2})
    try:
        fill(pair.stores[3], 50)
        trio.run(fetch, pair, (2, 3))
        assert len(pair.stores[1].kv_items()) == 50
        refusals = [m for src, _, m in pair.sent if src == 2 and isinstance(m, SnapshotPart)]
        assert refusals and all(m.total == snapshots.REFUSED for m in refusals)
    finally:
        pair.close()


def test_a_source_that_cannot_take_a_copy_serves_on_and_the_joiner_takes_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No room for the copy is the copy's failure, not the store's: the source used to
    stop (a storage failure), taking the cluster's write quorum with it while the joiner
    still rebuilt (found by a QA run on a full disk)."""
    pair = Pair(tmp_path, rebuilding=set())
    original = LmdbStore.copy_to

    def full_disk(store: LmdbStore, directory: Path) -> int:
        if store is pair.stores[2]:
            directory.mkdir(parents=True)
            (directory / "data.mdb").write_bytes(b"partial")
            raise OSError(28, "No space left on device")
        return original(store, directory)

    monkeypatch.setattr(LmdbStore, "copy_to", full_disk)
    try:
        fill(pair.stores[2], 50)
        fill(pair.stores[3], 50)
        trio.run(fetch, pair, (2, 3))
        assert len(pair.stores[1].kv_items()) == 50
        answers = [m.total for src, _, m in pair.sent if src == 2 and isinstance(m, SnapshotPart)]
        assert snapshots.REFUSED in answers
        assert set(answers) <= {snapshots.PREPARING, snapshots.REFUSED}
        assert not any((tmp_path / "data-2" / snapshots.OUT_DIR).iterdir()), "space freed"
        pair.stores[2].write(lambda txn: txn.put(b"after", Value(ValueType.STRING, 0, b"1")))
    finally:
        pair.close()


def test_a_joiner_without_room_for_the_snapshot_frees_it_and_tries_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its disk full mid-download: the partial copy goes and the transfer is retried,
    instead of the process dying with a traceback (found by a QA run)."""
    monkeypatch.setattr(snapshots, "PART_BYTES", 16 << 10)
    monkeypatch.setattr(snapshots, "RETRY_PAUSE_S", 0.01)
    failures = iter([OSError(28, "No space left on device")])
    original = snapshots._append

    def append(path: Path, offset: int, data: bytes) -> None:
        if offset > 0:
            failure = next(failures, None)
            if failure is not None:
                raise failure
        original(path, offset, data)

    monkeypatch.setattr(snapshots, "_append", append)
    pair = Pair(tmp_path, rebuilding=set())
    try:
        fill(pair.stores[2], 2000)
        trio.run(fetch, pair, (2,))
        assert pair.stores[1].kv_items() == pair.stores[2].kv_items()
    finally:
        pair.close()


def test_a_source_that_went_silent_is_given_up_after_a_few_silences_not_minutes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a QA run: a replacement whose source was killed (or stopped) just as it
    asked waited 5 × 60 s before it turned to the next source, the cluster one replica
    short of its fault tolerance meanwhile. A source now says it is preparing the copy,
    so silence means it is gone: ``ATTEMPTS_PER_PART`` silences of ``PART_TIMEOUT_S``."""
    monkeypatch.setattr(snapshots, "PART_TIMEOUT_S", 0.2)
    pair = Pair(tmp_path, rebuilding=set(), dead=frozenset({2}))
    try:
        fill(pair.stores[3], 50)
        trio.run(fetch, pair, (2, 3))
        assert len(pair.stores[1].kv_items()) == 50
        asks = [m for _, dst, m in pair.sent if dst == 2 and isinstance(m, SnapshotFetch)]
        assert len(asks) == snapshots.ATTEMPTS_PER_PART
    finally:
        pair.close()


def test_a_copy_slower_than_the_silence_timeout_is_waited_for_not_taken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the source copies its file it says so every ``PREPARING_EVERY_S``: the
    joiner waits for that one copy however long it takes, and asks for no other."""
    monkeypatch.setattr(snapshots, "PART_TIMEOUT_S", 0.3)
    monkeypatch.setattr(snapshots, "PREPARING_EVERY_S", 0.05)
    original = LmdbStore.copy_to

    def slow_copy(store: LmdbStore, directory: Path) -> int:
        import time

        time.sleep(1.5)  # five silence timeouts
        return original(store, directory)

    monkeypatch.setattr(LmdbStore, "copy_to", slow_copy)
    pair = Pair(tmp_path, rebuilding=set())
    try:
        fill(pair.stores[2], 50)
        trio.run(fetch, pair, (2,))
        assert len(pair.stores[1].kv_items()) == 50
        first_asks = [
            m for _, dst, m in pair.sent
            if dst == 2 and isinstance(m, SnapshotFetch) and m.transfer == 0
        ]  # fmt: skip
        assert len(first_asks) == 1, "one copy, waited for"
        preparing = [m for src, _, m in pair.sent if src == 2 and isinstance(m, SnapshotPart)]
        assert sum(m.total == snapshots.PREPARING for m in preparing) >= 5
    finally:
        pair.close()
