"""Snapshot transfers between replicas: how a replica on an empty disk gets its state.

A joining replica (``epaxosdb.core.joining``) that must rebuild asks its
driver for a snapshot of a peer (``Ready.snapshot``). Both ends live here.

* **The source** takes a consistent, compacted copy of its whole LMDB file
  (``LmdbStore.copy_to``: one read transaction, writers go on) into
  ``<data dir>/snapshot-out/``, and serves it in parts of ``PART_BYTES``.
  Copies nobody asked about for ``IDLE_EXPIRY_S`` are deleted, and at most
  ``OUTGOING_MAX`` exist at once (each is the size of the database).
* **The joiner** pulls the parts in order over the ordinary peer connection
  (``SnapshotFetch`` → ``SnapshotPart``), one at a time, asking again after a
  silence; it writes them to ``<data dir>/snapshot-in/``, then reads that file
  as a store of its own and installs it (``epaxosdb.snapshot.install``), and
  the loop restores the core from the store. A source that cannot finish is
  left for the next one the core named.

Pulling part by part keeps the peer's outbound queue, and memory on both sides,
bounded by one part whatever the size of the database; a lost part costs one
timeout. Copying the file rather than walking the keyspace makes the snapshot
one committed state of the source without holding its loop.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from epaxosdb import snapshot
from epaxosdb.core.ready import SnapshotWanted
from protocol.messages import ReplicaId
from protocol.peer import PeerFrame, SnapshotFetch, SnapshotPart
from storage.interface import StorageError
from storage.lmdb_store import DATA_FILE_NAME, LmdbStore

log = logging.getLogger("epaxosdb.snapshots")

PART_BYTES = 1 << 20
PART_TIMEOUT_S = 10.0
"""Silence after which the joiner asks again: for a part, or while the source copies its
file for the first part (it says ``PREPARING`` every ``PREPARING_EVERY_S`` meanwhile)."""
ATTEMPTS_PER_PART = 3
"""Silences in a row after which the joiner turns to the next source: a source that died
or stopped costs ``ATTEMPTS_PER_PART × PART_TIMEOUT_S``, however long copies take."""
PREPARING_EVERY_S = 2.0
IDLE_EXPIRY_S = 120.0
OUTGOING_MAX = 2
"""Copies kept at once; a new request replaces the least recently used."""
RETRY_PAUSE_S = 2.0
REFUSED = -1
"""``SnapshotPart.total`` of a source that has no snapshot to give (it is joining)."""
PREPARING = -2
"""``SnapshotPart.total`` of a source still copying its file for the first part: it is
alive, keep waiting."""
OUT_DIR = "snapshot-out"
IN_DIR = "snapshot-in"


class _TransferFailed(Exception):
    pass


@dataclass
class _Outgoing:
    path: Path
    size: int
    last_used: float


def clear_leftovers(data_dir: Path) -> None:
    """Remove transfer files a previous run left behind (they are never reused)."""
    for name in (OUT_DIR, IN_DIR):
        shutil.rmtree(data_dir / name, ignore_errors=True)


def _read_part(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(PART_BYTES)


def _append(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b" if offset else "wb") as f:
        f.seek(offset)
        f.write(data)
        f.truncate()


class SnapshotTransfers:
    """Both ends of this replica's snapshot transfers (see the module docstring)."""

    def __init__(
        self,
        me: ReplicaId,
        own_position: int,
        store: LmdbStore,
        data_dir: Path,
        send: Callable[[ReplicaId, PeerFrame], None],
        installed: Callable[[], None],
        rebuilding: Callable[[], bool],
    ) -> None:
        """``installed`` is called once a snapshot is in the store (restore the core);
        ``rebuilding`` says whether this replica is joining itself (then it serves none)."""
        self._me = me
        self._position = own_position
        self._store = store
        self._dir = data_dir
        self._send = send
        self._installed = installed
        self._rebuilding = rebuilding
        self._nursery: trio.Nursery | None = None
        self._outgoing: dict[int, _Outgoing] = {}
        self._copying = False
        self._fetching = False
        self._parts_in, self._parts_out = trio.open_memory_channel[SnapshotPart](16)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the transfer tasks; runs until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            while True:
                await trio.sleep(IDLE_EXPIRY_S / 4)
                await self._expire()

    # --- the source's side ---------------------------------------------------------

    def on_fetch(self, m: SnapshotFetch) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._serve, m)

    async def _serve(self, m: SnapshotFetch) -> None:
        transfer, offset = m.transfer, m.offset
        if self._rebuilding():
            # It answered the joiner as a member, then lost its own disk: it has nothing.
            self._send(m.sender, SnapshotPart(self._me, 0, 0, REFUSED, b""))
            return
        if transfer == 0:
            if self._copying:
                # One copy at a time; the joiner waits for it (or asks again later).
                self._send(m.sender, SnapshotPart(self._me, 0, 0, PREPARING, b""))
                return
            self._copying = True
            assert self._nursery is not None
            self._nursery.start_soon(self._say_preparing, m.sender)
            try:
                while len(self._outgoing) >= OUTGOING_MAX:  # a copy of the file each: bound them
                    oldest = min(self._outgoing, key=lambda t: self._outgoing[t].last_used)
                    gone = self._outgoing.pop(oldest)
                    await trio.to_thread.run_sync(shutil.rmtree, gone.path, True)
                transfer = random.getrandbits(62) + 1
                path = self._dir / OUT_DIR / f"{transfer:x}"
                log.info("taking a snapshot for replica %d", m.sender)
                try:
                    size = await trio.to_thread.run_sync(self._store.copy_to, path)
                except (StorageError, OSError) as exc:
                    # The copy, not the store, failed (most often: no room for it beside
                    # the data). This replica serves on; the joiner asks another peer.
                    await trio.to_thread.run_sync(shutil.rmtree, path, True)
                    log.warning(
                        "cannot take a snapshot for replica %d: %s (the copy needs as much "
                        "free disk as the data it copies)", m.sender, exc,
                    )  # fmt: skip
                    self._send(m.sender, SnapshotPart(self._me, 0, 0, REFUSED, b""))
                    return
            finally:
                self._copying = False
            self._outgoing[transfer] = _Outgoing(path, size, trio.current_time())
            offset = 0
        out = self._outgoing.get(transfer)
        if out is None or not 0 <= offset <= out.size:
            self._send(m.sender, SnapshotPart(self._me, 0, 0, 0, b""))
            return
        out.last_used = trio.current_time()
        data = await trio.to_thread.run_sync(_read_part, out.path / DATA_FILE_NAME, offset)
        self._send(m.sender, SnapshotPart(self._me, transfer, offset, out.size, data))
        if offset + len(data) >= out.size:
            log.info("sent replica %d a snapshot of %d bytes", m.sender, out.size)

    async def _say_preparing(self, joiner: ReplicaId) -> None:
        """While the copy for ``joiner`` runs, tell it now and then that it is coming."""
        while self._copying:
            self._send(joiner, SnapshotPart(self._me, 0, 0, PREPARING, b""))
            await trio.sleep(PREPARING_EVERY_S)

    async def _expire(self) -> None:
        now = trio.current_time()
        for transfer, out in list(self._outgoing.items()):
            if now - out.last_used > IDLE_EXPIRY_S:
                del self._outgoing[transfer]
                await trio.to_thread.run_sync(shutil.rmtree, out.path, True)

    # --- the joiner's side ---------------------------------------------------------

    def want(self, wanted: SnapshotWanted) -> None:
        """The core asks for a snapshot (again and again until it has one): fetch one."""
        if self._fetching or self._nursery is None:
            return
        self._fetching = True
        self._nursery.start_soon(self._fetch, wanted)

    def on_part(self, m: SnapshotPart) -> None:
        # Full: nobody is reading, so a stale part; the joiner asks again if it was not.
        with contextlib.suppress(trio.WouldBlock):
            self._parts_in.send_nowait(m)

    async def _fetch(self, wanted: SnapshotWanted) -> None:
        try:
            for attempt in itertools.count():
                for source in wanted.sources:
                    try:
                        path = await self._download(source)
                    except _TransferFailed as exc:
                        log.warning("snapshot from replica %d failed: %s", source, exc)
                        continue
                    await trio.to_thread.run_sync(self._install, path, wanted)
                    self._installed()
                    return
                await trio.sleep(min(RETRY_PAUSE_S * (attempt + 1), 30.0))
        finally:
            self._fetching = False

    async def _download(self, source: ReplicaId) -> Path:
        directory = self._dir / IN_DIR
        await trio.to_thread.run_sync(shutil.rmtree, directory, True)
        directory.mkdir(parents=True)
        path = directory / DATA_FILE_NAME
        transfer, offset, total = 0, 0, -1
        failures = 0
        reported = 0
        log.info("fetching a snapshot from replica %d", source)
        while offset < total or total < 0:
            self._send(source, SnapshotFetch(self._me, transfer, offset))
            part = await self._next_part(source, transfer, offset, PART_TIMEOUT_S)
            while part is not None and part.total == PREPARING:
                failures = 0  # alive, and copying: wait without asking for another copy
                part = await self._next_part(source, transfer, offset, PART_TIMEOUT_S)
            if part is not None and part.total == REFUSED:
                raise _TransferFailed(
                    f"replica {source} cannot give one now (it is rebuilding itself, or "
                    "could not take a copy: its log says which)"
                )
            if part is None or part.transfer == 0:
                failures += 1
                if failures >= ATTEMPTS_PER_PART:
                    raise _TransferFailed("the source stopped answering")
                if part is not None:
                    transfer, offset, total = 0, 0, -1  # it forgot the snapshot: start over
                continue
            failures = 0
            if transfer == 0:
                transfer, total = part.transfer, part.total
            try:
                await trio.to_thread.run_sync(_append, path, offset, part.data)
            except OSError as exc:
                # No room for the copy (or a failing disk): let the space go at once, and
                # try again later — freeing space needs no restart.
                await trio.to_thread.run_sync(shutil.rmtree, directory, True)
                raise _TransferFailed(
                    f"cannot write the snapshot into {directory}: {exc} (it needs as much "
                    "free disk as the source's data)"
                ) from None
            offset += len(part.data)
            if not part.data and offset < total:
                raise _TransferFailed("the source's snapshot ended early")
            if total and offset * 10 // total > reported:
                reported = offset * 10 // total
                log.info("snapshot from replica %d: %d of %d bytes", source, offset, total)
        return directory

    async def _next_part(
        self, source: ReplicaId, transfer: int, offset: int, timeout_s: float
    ) -> SnapshotPart | None:
        """The part answering this request (stale ones from earlier asks are skipped)."""
        with trio.move_on_after(timeout_s):
            while True:
                part = await self._parts_out.receive()
                if part.sender != source:
                    continue
                if part.transfer == 0 or (
                    part.offset == offset and (transfer == 0 or part.transfer == transfer)
                ):
                    return part
        return None

    def _install(self, directory: Path, wanted: SnapshotWanted) -> None:
        """Blocking: read the fetched copy as a store and install it into ours."""
        copy = LmdbStore.open_readonly(directory)
        try:
            taken = snapshot.snapshot_of(copy)
            snapshot.install(self._store, taken, wanted.bound, self._position)
            log.info(
                "installed the snapshot: %d committed instances, %d keys; catching up to %s",
                len(taken.records),
                self._store.key_counts()[0],
                ",".join(map(str, wanted.bound)),
            )
        finally:
            copy.close()
            shutil.rmtree(directory, ignore_errors=True)
