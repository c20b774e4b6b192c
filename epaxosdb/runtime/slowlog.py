"""SLOWLOG: this replica's record of the commands that took long to *execute*.

Execution time, as Redis measures it, not the time a client waits: for a data
command, how long its handler ran in the consensus loop (``node`` times each
op of this replica's own clients' commands as it executes them), not the
round trip and fsync that precede it — INFO commandstats counts those; for a
connection command (CLIENT LIST, INFO...), how long its handler ran. A slow
handler holds the one loop that executes every command, so it delays every
client of the replica; finding it is what the log is for.

Each replica logs what its own clients sent, with their address and name, as
Redis logs its own clients: a write proposed elsewhere runs here too, but its
client is another replica's to name. Entries keep Redis's shape and limits:
at most 32 arguments (the last saying how many more there were) of at most
128 bytes each, ``slowlog-log-slower-than`` microseconds (10,000; 0 logs
every command, -1 none) and ``slowlog-max-len`` entries (128), newest first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from epaxosdb.commands.integers import parse_ll
from protocol.replies import OK, Error, Reply, help_reply

if TYPE_CHECKING:
    from .connection import Connection

ARGS_MAX = 32
"""Arguments kept per entry (Redis's ``SLOWLOG_ENTRY_MAX_ARGC``)."""
ARG_BYTES_MAX = 128
"""Bytes kept per argument (Redis's ``SLOWLOG_ENTRY_MAX_STRING``)."""
THRESHOLD_US_DEFAULT = 10_000
MAX_LEN_DEFAULT = 128


@dataclass(frozen=True, slots=True)
class SlowEntry:
    id: int
    time_s: int
    """Unix time the command ran."""
    duration_us: int
    args: tuple[bytes, ...]
    addr: str
    """The client's ``ip:port``."""
    name: bytes
    """The client's name when the command ran."""


def logged_args(args: Sequence[bytes]) -> tuple[bytes, ...]:
    """``args`` cut to what an entry keeps, marked as Redis marks the cuts."""
    count = len(args)
    kept: list[bytes] = []
    for index, arg in enumerate(args[:ARGS_MAX]):
        if count > ARGS_MAX and index == ARGS_MAX - 1:
            kept.append(b"... (%d more arguments)" % (count - ARGS_MAX + 1))
        elif len(arg) > ARG_BYTES_MAX:
            kept.append(arg[:ARG_BYTES_MAX] + b"... (%d more bytes)" % (len(arg) - ARG_BYTES_MAX))
        else:
            kept.append(arg)
    return tuple(kept)


class SlowLog:
    """The entries, newest first, and the two settings CONFIG SET changes."""

    def __init__(
        self, threshold_us: int = THRESHOLD_US_DEFAULT, max_len: int = MAX_LEN_DEFAULT
    ) -> None:
        self.threshold_us = threshold_us
        """``slowlog-log-slower-than``: negative logs nothing."""
        self.max_len = max_len
        """``slowlog-max-len``: a smaller value takes effect at the next entry, as in Redis."""
        self._entries: deque[SlowEntry] = deque()
        self._next_id = 0

    def threshold_s(self) -> float:
        """The threshold in seconds, negative when the log is off (what ``node`` reads
        each turn)."""
        return self.threshold_us / 1_000_000 if self.threshold_us >= 0 else -1.0

    def slow(self, seconds: float) -> bool:
        """Whether ``seconds`` reach the threshold as it is now: after a command that
        changed it, its new value (Redis judges CONFIG SET slowlog-log-slower-than so)."""
        return self.threshold_us >= 0 and seconds * 1_000_000 >= self.threshold_us

    def add(
        self, args: Sequence[bytes], seconds: float, addr: str, name: bytes, time_s: int
    ) -> None:
        """Log a command that ran for ``seconds`` (the caller checked ``slow``)."""
        entry = SlowEntry(
            self._next_id, time_s, int(seconds * 1_000_000), logged_args(args), addr, name
        )
        self._next_id += 1
        self._entries.appendleft(entry)
        while len(self._entries) > self.max_len:
            self._entries.pop()

    def latest(self, count: int) -> list[SlowEntry]:
        """The ``count`` newest entries (all of them for a negative count)."""
        entries = self._entries
        if count < 0 or count >= len(entries):
            return list(entries)
        return [entries[i] for i in range(count)]

    def __len__(self) -> int:
        return len(self._entries)

    def reset(self) -> None:
        self._entries.clear()


# --- SLOWLOG GET / LEN / RESET / HELP -------------------------------------------------

HELP = (
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
)
GET_COUNT_DEFAULT = 10
_BAD_COUNT = Error("ERR count should be greater than or equal to -1")


def cmd_slowlog_get(conn: Connection, args: list[bytes]) -> Reply:
    if len(args) > 3:
        return Error(
            "ERR unknown subcommand or wrong number of arguments for "
            f"'{args[1].decode('latin-1')}'. Try SLOWLOG HELP."
        )
    count = GET_COUNT_DEFAULT
    if len(args) == 3:
        parsed = parse_ll(args[2])
        if parsed is None or parsed < -1:
            return _BAD_COUNT
        count = parsed
    return [
        [e.id, e.time_s, e.duration_us, list(e.args), e.addr.encode(), e.name]
        for e in conn.registry.slowlog.latest(count)
    ]


def cmd_slowlog_len(conn: Connection, args: list[bytes]) -> Reply:
    return len(conn.registry.slowlog)


def cmd_slowlog_reset(conn: Connection, args: list[bytes]) -> Reply:
    conn.registry.slowlog.reset()
    return OK


def cmd_slowlog_help(conn: Connection, args: list[bytes]) -> Reply:
    return help_reply(HELP)
