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

    def quiet(self, now: float) -> bool:
        """Nothing held back and the window passed: in the state of a new throttle."""
        return not self._suppressed and now - self._window_start >= self.window_s

    def take_summary(self) -> int:
        """The events not logged since the last summary, once a window has passed since
        the first of them (0 otherwise: nothing to say yet)."""
        if not self._suppressed or self._clock() - self._first_suppressed < self.window_s:
            return 0
        count, self._suppressed = self._suppressed, 0
        return count


class ReasonThrottle:
    """``LogThrottle`` per distinct reason: the first ``burst`` events of each reason a
    window are logged, repeats beyond that counted. One repeating refusal (a replica
    left on an old build during an upgrade, redialling every back-off) then costs a
    few lines a window, while a new reason is still logged at once. At most
    ``reasons_max`` reasons get a throttle of their own (anybody can vary a reason, an
    oversize frame's length say); the rest share one."""

    def __init__(
        self, burst: int, window_s: float, clock: Callable[[], float], reasons_max: int = 64
    ) -> None:
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        self._reasons_max = reasons_max
        self._by_reason: dict[str, LogThrottle] = {}
        self._others = LogThrottle(burst, window_s, clock)

    def allow(self, reason: str) -> bool:
        """One more event for ``reason``: whether to log it (otherwise it is counted)."""
        throttle = self._by_reason.get(reason)
        if throttle is None:
            if len(self._by_reason) >= self._reasons_max:
                self._forget_quiet()
            if len(self._by_reason) >= self._reasons_max:
                return self._others.allow()
            throttle = self._by_reason[reason] = LogThrottle(
                self.burst, self.window_s, self._clock
            )
        return throttle.allow()

    def take_summary(self) -> int:
        """``LogThrottle.take_summary`` summed over every reason."""
        return self._others.take_summary() + sum(
            t.take_summary() for t in self._by_reason.values()
        )

    def _forget_quiet(self) -> None:
        """Drop the reasons with nothing held back whose window has passed: what they
        would allow next is what a new throttle allows."""
        now = self._clock()
        for reason, throttle in list(self._by_reason.items()):
            if throttle.quiet(now):
                del self._by_reason[reason]
