"""Refusing writes while the data dir's disk is nearly full, instead of dying when it is.

Why: LMDB cannot commit a turn once the disk has no room for the pages it
writes, and a replica that cannot persist a vote or a commit must stop (see
``serve``). When every replica's data dir is on one disk — ``make run`` —
they all stop together, clients see only closed connections, and a restart
on the still-full disk stops again while it replays. So each replica watches
the free space of its data dir's filesystem and, below a reserve, answers
its clients' writes with ``-MISCONF`` (what Redis answers when it cannot
write its AOF) while it still serves reads, and DEL, UNLINK, FLUSHDB and
FLUSHALL, which let the user make room: LMDB never shrinks its file, but the
pages they free are reused before it grows, so they count as free space.

It cannot stop a peer's writes: those still arrive through consensus, and a
replica whose disk does fill stops as before (what it acknowledged is safe).
Nor can it refuse a single write larger than what is left above the reserve.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from protocol.replies import Error

if TYPE_CHECKING:
    from .clients import ClientRegistry

log = logging.getLogger(__name__)

RESERVE_BYTES = 64 << 20
"""Free space under which this replica's clients may not write."""

CHECK_INTERVAL_S = 0.05
"""statvfs is cheap; a burst of writes between two looks can still use up the reserve."""

FREES_SPACE = frozenset({b"del", b"unlink", b"flushdb", b"flushall"})
"""Writes still allowed while the disk is low: they are how a user makes room."""


class DiskSpace:
    """Free space of the filesystem holding ``path``, judged against ``reserve``."""

    def __init__(
        self,
        path: Path,
        reserve: int = RESERVE_BYTES,
        statvfs: Callable[[Path], os.statvfs_result] = os.statvfs,
        reusable: Callable[[], int] = lambda: 0,
    ) -> None:
        """``reusable``: the bytes of the data file that LMDB will fill again before it
        grows the file (``LmdbStore.reusable_bytes``), which count as free: else space
        made by DEL or FLUSHALL would never let writes in again."""
        self._path = path
        self._reserve = reserve
        self._statvfs = statvfs
        self._reusable = reusable
        self.refusal: Error | None = None
        """The reply to a client's write while space is low; ``None`` otherwise."""

    def check(self) -> Error | None:
        """Look again; say so in the log when writes stop or resume being accepted."""
        try:
            stat = self._statvfs(self._path)
        except OSError as exc:
            log.warning("cannot tell the free space of %s: %s", self._path, exc)
            return self.refusal
        free = stat.f_bavail * stat.f_frsize
        if free < self._reserve:
            free += self._reusable()
        low = free < self._reserve
        if low and self.refusal is None:
            log.warning(
                "the disk of %s has %d MB free, under the %d MB reserve: refusing clients'"
                " writes (reads, DEL, UNLINK, FLUSHDB and FLUSHALL still work)",
                self._path, free >> 20, self._reserve >> 20,
            )  # fmt: skip
        elif not low and self.refusal is not None:
            log.info("the disk of %s has %d MB free: writes accepted again", self._path, free >> 20)
        self.refusal = (
            Error(
                f"MISCONF the disk of this replica's data dir is nearly full ({free >> 20} MB"
                f" free, under the {self._reserve >> 20} MB reserve): writes are refused until"
                " space is freed; reads, DEL, UNLINK, FLUSHDB and FLUSHALL still work"
            )
            if low
            else None
        )
        return self.refusal


async def watch_disk(disk: DiskSpace, registry: ClientRegistry) -> None:
    """Keep ``registry.writes_refused`` up to date (a statvfs every ``CHECK_INTERVAL_S``)."""
    while True:
        registry.writes_refused = disk.check()
        await trio.sleep(CHECK_INTERVAL_S)
