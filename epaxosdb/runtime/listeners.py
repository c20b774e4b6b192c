"""Opening a listening socket with an error that names what could not listen, and where.

``trio.open_tcp_listeners`` raises the bare ``OSError`` of ``bind``
("Address already in use"); a replica binds two ports (clients, peers), so
the operator needs to know which one is taken.
"""

from __future__ import annotations

import trio


class ListenError(OSError):
    """A port could not be listened on; ``str()`` says for what, where and why."""

    def __init__(self, purpose: str, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.where = f"for {purpose} on {host}:{port}"

    def __str__(self) -> str:
        return f"{self.where}: {self.strerror}"


async def open_listeners(host: str, port: int, purpose: str) -> list[trio.SocketListener]:
    """Listeners on ``host:port`` for ``purpose`` ("RESP clients", "peers")."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise ListenError(purpose, host, port, exc) from exc
