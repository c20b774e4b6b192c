"""``LogThrottle``: a flood of one kind of event costs a few log lines and a count.

Connections a replica refuses (silent peers, clients past ``maxclients``) can
arrive by the thousand; a line for each would bury the log.
"""

from __future__ import annotations

from collections.abc import Callable


class LogThrottle:
    """Lets ``burst`` events a window be logged one by one and counts the rest, to be
    summed up by ``take_summary`` a window after the first of them (so at most once a
    window)."""

    def __init__(self, burst: int, window_s: float, clock: Callable[[], float]) -> None:
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        self._window_start = -window_s
        self._logged = 0
        self._suppressed = 0
        self._first_suppressed = 0.0

    def allow(self) -> bool:
        """One more event: whether to log it (otherwise it is counted)."""
        now = self._clock()
        if now - self._window_start >= self.window_s:
            self._window_start, self._logged = now, 0
        if self._logged < self.burst:
            self._logged += 1
            return True
        if not self._suppressed:
            self._first_suppressed = now
        self._suppressed += 1
        return False

    def take_summary(self) -> int:
        """The events not logged since the last summary, once a window has passed since
        the first of them (0 otherwise: nothing to say yet)."""
        if not self._suppressed or self._clock() - self._first_suppressed < self.window_s:
            return 0
        count, self._suppressed = self._suppressed, 0
        return count
