"""The TLS port: RESP clients over ``trio.SSLStream``, served like every other client.

``serve_tls_clients`` listens on the replica's ``tls_client`` address (Redis's
``tls-port``). Each accepted socket gets a task of its own that wraps it in
an ``SSLStream`` and completes the handshake there, so one slow or hostile
client never holds up the accept loop or anybody else's handshake; then the
connection is handed to ``clients.handle_client`` — the same code as the
plain port, so AUTH, limits, pipelining, pub/sub, blocking commands, CLIENT
LIST and INFO behave the same over TLS.

A handshake that fails (a plain-text client on the TLS port, a certificate
the CA did not sign, none where one is required) or does not finish within
``handshake_timeout_s`` (a client that connects and says nothing) closes that
connection alone and is logged in one line; a flood of them is throttled to
a few lines and a count. Connections still in their handshake count toward
``maxclients``, as they hold a socket each: past it, a new one is closed
before its handshake (there is no TLS session yet to send Redis's error on).
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass, field
from functools import partial

import trio

from .backend import Backend
from .clients import ClientRegistry, handle_client, stream_addresses
from .listeners import open_listeners
from .throttle import LogThrottle

log = logging.getLogger("epaxosdb.tls")


@dataclass
class TlsPort:
    """What the TLS port's connections share: the context, the handshake bound, and how
    many are still shaking hands."""

    context: ssl.SSLContext
    handshake_timeout_s: float
    handshaking: int = 0
    failures: LogThrottle = field(default_factory=lambda: LogThrottle(10, 60.0, time.monotonic))
    """Failed handshakes: a few logged one by one, the rest counted."""
    failed: int = 0
    """Handshakes that failed or timed out since start (tests and debugging look)."""

    def log_failure(self, address: str, why: str) -> None:
        self.failed += 1
        if self.failures.allow():
            log.warning("TLS client %s: %s; connection closed", address, why)
        if more := self.failures.take_summary():
            log.warning("%d more TLS handshakes failed; connections closed", more)


async def serve_tls_clients(
    backend: Backend,
    registry: ClientRegistry,
    port: TlsPort,
    *,
    host: str,
    port_number: int,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept TLS clients on ``host:port_number`` forever (0: the OS picks a port);
    ``task_status.started(bound port)``."""
    listeners = await open_listeners(host, port_number, "TLS clients")
    bound: int = listeners[0].socket.getsockname()[1]
    registry.settings.tls_port = bound
    log.info("accepting TLS clients on %s:%d", host, bound)
    task_status.started(bound)
    await trio.serve_listeners(
        partial(handle_tls_client, registry=registry, backend=backend, port=port), listeners
    )


async def handle_tls_client(
    stream: trio.SocketStream, registry: ClientRegistry, backend: Backend, port: TlsPort
) -> None:
    """Shake hands (bounded), then serve the client as on the plain port; always closes."""
    address = stream_addresses(stream)[0]
    if len(registry.clients) + port.handshaking >= registry.settings.maxclients:
        registry.stats.rejected_connections += 1
        if registry.rejections.allow():
            log.warning("rejected a TLS connection: max number of clients reached")
        await trio.aclose_forcefully(stream)
        return
    tls = trio.SSLStream(stream, port.context, server_side=True)
    port.handshaking += 1
    try:
        with trio.move_on_after(port.handshake_timeout_s) as waited:
            await tls.do_handshake()
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        port.log_failure(address, f"TLS handshake failed: {handshake_failure(exc)}")
        await trio.aclose_forcefully(tls)
        return
    finally:
        port.handshaking -= 1
    if waited.cancelled_caught:
        port.log_failure(
            address, f"no TLS handshake within {port.handshake_timeout_s:g}s"
        )
        await trio.aclose_forcefully(tls)
        return
    await handle_client(tls, registry, backend)


_HINTS = {
    "WRONG_VERSION_NUMBER": "not TLS: a plain-text client on the TLS port?",
    "HTTP_REQUEST": "an HTTP request on the TLS port",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "the client sent no certificate, and tls_auth_clients "
    "is yes",
    "CERTIFICATE_VERIFY_FAILED": "the client's certificate is not signed by tls_ca_cert_file",
    "TLSV1_ALERT_UNKNOWN_CA": "the client does not trust this replica's certificate",
}
"""What OpenSSL's most common reasons mean on this port."""


def handshake_failure(exc: BaseException, hints: dict[str, str] = _HINTS) -> str:
    """OpenSSL's reason for a failed handshake, with what it likely means on this port
    (``hints``: the peer port reads the same reasons differently)."""
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLError):
        reason = cause.reason or str(cause)
        hint = hints.get(reason)
        return f"{reason} ({hint})" if hint else reason
    if cause is not None:
        return str(cause) or type(cause).__name__
    return str(exc) or "connection closed"
