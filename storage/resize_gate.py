"""Keeps LMDB map growth away from open read transactions.

``mdb_env_set_mapsize`` remaps the file, and LMDB's manual says it may only be
called while no transaction is active in the process; the library does not
check. The writer grows the map only inside ``write()`` after aborting its own
transaction, but ``read()`` may run in other threads (the runtime calls the
store from trio worker threads). Readers therefore hold this gate shared and
a resize holds it exclusive. Waits are bounded: a reader stuck for longer than
the limit turns into a clear ``StorageError`` instead of a hang.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from storage.interface import StorageError

GATE_WAIT_S_MAX = 120.0
"""Longest a reader waits for a resize, or a resize for readers to finish."""


class ResizeGate:
    def __init__(self, wait_s_max: float = GATE_WAIT_S_MAX) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._resizing = False
        self._wait_s_max = wait_s_max

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the gate shared for the life of one read transaction."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._resizing, timeout=self._wait_s_max):
                raise StorageError(f"a map resize did not finish within {self._wait_s_max} s")
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    def exclusive(self, action: Callable[[], None]) -> None:
        """Run ``action`` once no read transaction is open; new readers wait meanwhile."""
        with self._cond:
            self._resizing = True
            try:
                if not self._cond.wait_for(lambda: self._readers == 0, timeout=self._wait_s_max):
                    raise StorageError(
                        f"{self._readers} read transaction(s) stayed open for "
                        f"{self._wait_s_max} s; cannot resize or close the LMDB map"
                    )
                action()
            finally:
                self._resizing = False
                self._cond.notify_all()
