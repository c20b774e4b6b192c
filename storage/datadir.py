"""The data directory's lock: one process per data dir.

LMDB lets several processes open one environment, and py-lmdb warns that
opening it twice in one process can corrupt it. Two replicas on one data dir
would both vote as the same replica, which breaks consensus. So a store takes
an exclusive ``flock`` on ``<dir>/LOCK`` before it opens LMDB, and fails fast
naming the holder's pid (what etcd settled on in etcd#6750). The kernel drops
the lock when the holder exits, however it exits, so a ``kill -9`` never
leaves a stale lock behind; the pid written into the file is only a hint for
the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from storage.interface import DataDirLocked, DataDirRefused, StorageError

LOCK_FILE_NAME = "LOCK"


class DataDirLock:
    """An exclusive hold on a data directory, released by ``release()`` or process exit."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Lock ``data_dir`` or raise ``DataDirLocked`` naming the process that holds it."""
        lock_path = data_dir / LOCK_FILE_NAME
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            # Not writable (a read-only mount, permissions): nothing was opened or changed.
            raise DataDirRefused(
                f"cannot open lock file {lock_path}: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_pid(fd)
            os.close(fd)
            raise DataDirLocked(
                f"another epaxosdb process is using data dir {data_dir} (pid {holder})"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot lock {lock_path}: {exc}") from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot write lock file {lock_path}: {exc}") from exc
        return cls(data_dir, fd)

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases the flock). Idempotent."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _holder_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
