"""MONITOR: a client that watches every command this replica's clients run.

Each command is sent, as it is dispatched, to every monitoring client of the
same replica, in Redis's line format — ``+<unix time> [0 <ip:port>] "arg"
...``, each argument quoted as Redis's ``sdscatrepr`` quotes it — with AUTH's
and HELLO's passwords redacted, as Redis redacts them. As in Redis 7.0,
admin commands (CONFIG, CLIENT LIST, SLOWLOG...) are not shown, and commands
queued in a MULTI show at EXEC, just before it.

A replica shows its own clients' commands, as a Redis server does: the writes
it applies for other replicas' clients are not shown, nor what a Lua script
calls (Redis shows those as ``[0 lua]``; here a script runs inside the
consensus loop, away from any client). While anyone monitors, this replica's
pipelined fast path is off, so every command passes where it is fed.

A monitoring client may still run connection commands (PING, RESET, QUIT...);
a data command gets Redis's "Replica can't interact with the keyspace", and
RESET ends monitoring.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from protocol.replies import Error

if TYPE_CHECKING:
    from .connection import Connection

KEYSPACE_REFUSED = Error("ERR Replica can't interact with the keyspace")
_REDACTED = b'"(redacted)"'
_ESCAPES = {
    ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r",
    ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b",
}  # fmt: skip


class Monitor(Protocol):
    def deliver_monitored(self, line: bytes) -> None: ...


def quoted(arg: bytes) -> bytes:
    """``arg`` between double quotes, escaped as Redis's ``sdscatrepr`` escapes it."""
    out = bytearray(b'"')
    for byte in arg:
        escape = _ESCAPES.get(byte)
        if escape is not None:
            out += escape
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\x%02x" % byte
    out += b'"'
    return bytes(out)


def _redacted(request: Sequence[bytes]) -> list[bytes]:
    """Each argument quoted, passwords replaced: all of AUTH's, HELLO's after AUTH."""
    name = request[0].lower()
    if name == b"auth":
        return [quoted(request[0]), *[_REDACTED] * (len(request) - 1)]
    words = [quoted(arg) for arg in request]
    if name == b"hello":
        for i in range(2, len(request) - 2):
            if request[i].lower() == b"auth":
                words[i + 1] = words[i + 2] = _REDACTED
    return words


def line(addr: str, request: Sequence[bytes], now: float) -> bytes:
    """One MONITOR line (a RESP simple string, in RESP2 and RESP3 alike, as in Redis)."""
    return b"+%.6f [0 %s] %s\r\n" % (now, addr.encode(), b" ".join(_redacted(request)))


def feed(
    monitors: Iterable[Monitor],
    source: Connection,
    request: Sequence[bytes],
    queued: Sequence[Sequence[bytes]] | None = None,
) -> None:
    """Send ``source``'s command to every monitoring client; for an EXEC, the commands
    it ``queued`` first, as Redis shows them when they run."""
    now = time.time()
    requests = [*queued, request] if queued and request[0].lower() == b"exec" else [request]
    text = b"".join(line(source.addr, each, now) for each in requests)
    for watcher in monitors:
        watcher.deliver_monitored(text)

