"""Replica-to-replica transport: one authenticated TCP connection per pair of replicas.

* **Who dials.** The replica with the lower id dials the higher one, with
  capped exponential back-off and jitter; the higher one accepts. A new
  connection from a peer replaces its old one.
* **Handshake before anything else.** The dialer says who it is and which
  cluster it belongs to; the acceptor answers with a proof (an HMAC, keyed
  with the cluster's shared secret, over the dialer's nonce) and its own
  nonce; the dialer answers with its proof. A wrong cluster id, an unknown or
  unexpected replica id, a bad proof, an oversize or malformed frame, or
  silence for ``handshake_timeout_s`` closes that connection and is logged —
  nothing else is affected. A refusal that repeats (a replica left on another
  build during an upgrade redials every back-off) is logged a few times a
  window for each reason, then counted (``ReasonThrottle``).
* **Sending never blocks the consensus loop.** ``send`` appends an encoded
  frame to the peer's bounded outbound queue; one sender task per peer writes
  everything queued with one ``send_all``. With the queue full or the peer
  disconnected the message is dropped and counted: the protocol retransmits
  and recovers what is lost.
* **Receiving.** One reader task per connection splits frames (size checked
  before buffering), decodes them strictly and hands messages to the loop;
  a message claiming another sender is a protocol error.
* **Keepalives.** A sender that has sent nothing for ``KEEPALIVE_S`` sends a
  ``Keepalive`` frame, and every read from an established connection tells
  ``on_heard`` which peer spoke. So a replica hears every reachable peer a
  few times a second even in an idle cluster, and silence means the peer
  cannot be reached (stopped, partitioned away, refusing this build), which
  lets the loop refuse commands that could not commit at once
  (``ConsensusLoop.quorum_silence``) instead of after a command timed out.

**Mutual TLS** (``[cluster] tls_peers``, opt-in; without it the bytes on the
wire are exactly those above, in clear). Every connection is wrapped in a
``trio.SSLStream`` before the first frame: the acceptor and the dialer each
present the replica's certificate and require the other's, chained to
``tls_ca_cert_file`` (``certificates.PeerContexts`` says why no hostname is
checked). The handshake above then runs inside the encrypted channel,
unchanged: TLS keeps strangers and eavesdroppers out, the secret, the
cluster id and the replica id still say which replica is calling (defence
in depth: a certificate from the CA alone makes nobody a replica).

* The TLS handshake counts against the same ``handshake_timeout_s`` as the
  rest of the handshake, on both sides: a silent or slow peer holds one
  task and one socket that long, then is closed like a silent plain one.
* A failed TLS handshake (plain text on a TLS peer port, a certificate
  another CA signed, none at all, or our certificate refused by the other
  side) closes that connection alone and is logged with OpenSSL's reason
  and what it likely means, throttled like the TLS client port (a burst one
  by one, then a count a window). A dialer retries with its usual back-off.
* ``SSLStream`` allows one ``send_all`` and one ``receive_some`` at a time,
  which is already the shape of a connection here: the handshake runs in
  one task, strictly alternating; once established, only the peer's
  sender task writes and only the connection's reader task reads. A
  replaced or lost connection is closed with ``aclose_forcefully`` while
  the sender may be inside ``send_all`` on it: that write fails, and the
  sender drops the stream and waits for the link's next one, as over TCP.
* ``https_compatible=True``: closing does not send ``close_notify`` and an
  EOF without one is an ordinary EOF. Truncation cannot pass for a whole
  message (frames are length-prefixed, a partial one is discarded), and a
  close that needs no write cannot wait on a peer that stopped reading.
* The sender task, its bounded queue, several frames per ``send_all`` and
  the frame size limit are the same over TLS: OpenSSL cuts each
  ``send_all`` into records.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import trio

from epaxosdb.build import build_id, build_name
from epaxosdb.certificates import PeerContexts
from epaxosdb.clusterfile import ClusterConfig
from protocol.messages import ReplicaId
from protocol.peer import (
    FRAME_SIZE_MAX,
    HANDSHAKE_FRAME_MAX,
    Delivered,
    FrameDecoder,
    Hello,
    Keepalive,
    PeerFrame,
    PeerProtocolError,
    decode_hello,
    decode_message,
    encode_frame,
    encode_hello,
    encode_message,
)

from .identities import Identity, NumberedBehind, PeerIdentities, PeerIdentityError
from .listeners import open_listeners
from .throttle import LogThrottle, ReasonThrottle
from .tls import handshake_failure

log = logging.getLogger("epaxosdb.peers")

OUTBOUND_FRAMES_MAX = 65536
"""Frames queued for one peer before new ones are dropped (the protocol retransmits)."""
OUTBOUND_BYTES_MAX = 256 << 20
SEND_CHUNK_MAX = 4 << 20
"""Most bytes written by one ``send_all``: keeps one slow peer from holding huge buffers."""
RECEIVE_CHUNK = 256 << 10
HANDSHAKE_TIMEOUT_S = 5.0
SILENT_LOG_BURST = 10
SILENT_LOG_WINDOW_S = 60.0
"""Connections rejected for silence (no handshake in time) are logged one by one up to
``SILENT_LOG_BURST`` per ``SILENT_LOG_WINDOW_S``, then counted and summed up in one line
at most once per window: anybody who reaches a peer port can open thousands."""
REFUSED_LOG_BURST = 3
"""Handshakes refused for one reason that are logged one by one per ``SILENT_LOG_WINDOW_S``
(``ReasonThrottle``)."""
KEEPALIVE_S = 0.5
"""A connection's sender sends a ``Keepalive`` after this long without sending anything:
several of them fit in the loop's ``NO_QUORUM_AFTER_S``, so one late or lost is no
silence."""
DIAL_BACKOFF_MIN_S = 0.05
DIAL_BACKOFF_MAX_S = 2.0
TLS_HINTS = {
    "WRONG_VERSION_NUMBER": "not TLS: a replica without tls_peers, or something else, on "
    "a TLS peer port?",
    "HTTP_REQUEST": "an HTTP request on the peer port",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "the peer sent no certificate; peers must",
    "CERTIFICATE_VERIFY_FAILED": "the peer's certificate is not signed by tls_ca_cert_file",
    "TLSV1_ALERT_UNKNOWN_CA": "the peer does not trust this replica's certificate (another "
    "tls_ca_cert_file?)",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the peer wants a certificate from this replica",
    "UNEXPECTED_EOF_WHILE_READING": "the peer hung up during the TLS handshake (a replica "
    "without tls_peers?)",
}
"""What OpenSSL's most common reasons mean on a peer port (both ends of it)."""

TLS_RECORD_HANDSHAKE = b"\x16\x03"
"""How a TLS ClientHello starts (a handshake record, protocol 3.x): on a plain peer port
it is read as a frame header of some 370 MB, which says nothing of the cause."""

PeerStream = trio.SocketStream | trio.SSLStream[trio.SocketStream]
"""A peer connection: plain TCP, or TLS over it with ``tls_peers``."""


def _proof(secret: bytes, who: bytes, nonce: bytes, cluster_id: bytes) -> bytes:
    return hmac.new(secret, who + nonce + cluster_id, hashlib.sha256).digest()


@dataclass
class PeerStatistics:
    connected: int
    frames_sent: int
    frames_received: int
    dropped_full: int
    dropped_disconnected: int
    rejected_connections: int
    protocol_errors: int
    tls_failures: int = 0
    """TLS handshakes that failed, either side (``tls_peers``)."""


class _Link:
    """The current connection to one peer and its outbound queue."""

    def __init__(self, peer: ReplicaId) -> None:
        self.peer = peer
        self.stream: PeerStream | None = None
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.wake = trio.Event()


def _hello(
    cid: bytes, me: ReplicaId, nonce: bytes, proof: bytes, mine: Identity, build: bytes
) -> Hello:
    return Hello(
        cid, me, nonce, proof, mine.data_dir, mine.incarnation, mine.run, mine.next_instance,
        mine.joining, build,
    )  # fmt: skip


def _check_build(peer: ReplicaId, theirs: bytes, ours: bytes) -> None:
    """Refuse a peer that runs other code: it would execute the same commands otherwise
    (``epaxosdb.build``)."""
    if theirs != ours:
        raise PeerProtocolError(
            f"replica {peer} runs another build of epaxosdb ({build_name(theirs)}, this "
            f"replica {build_name(ours)}): every replica executes every command itself, so "
            "all must run the same build; this one talks to it again once they do"
        )


def _identity(hello: Hello) -> Identity:
    return Identity(
        hello.data_dir, hello.incarnation, hello.run, hello.next_instance, hello.joining
    )


class PeerNetwork:
    def __init__(
        self,
        me: ReplicaId,
        cluster: ClusterConfig,
        deliver: Callable[[Delivered], None],
        identities: PeerIdentities,
        *,
        frame_size_max: int = FRAME_SIZE_MAX,
        handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
        tls: PeerContexts | None = None,
        build: bytes | None = None,
        on_heard: Callable[[ReplicaId], None] | None = None,
    ) -> None:
        """``tls``: the contexts of mutual TLS (``[cluster] tls_peers``), or plain TCP;
        ``build``: the digest of the code this replica runs (``epaxosdb.build``, by
        default this process's), which every peer must share; ``on_heard``: told the
        peer's id whenever bytes arrive on an established connection."""
        self._me = me
        self._on_heard = on_heard
        self._keepalive = encode_frame(encode_message(Keepalive(me)))
        self._build = build_id() if build is None else build
        self._cluster = cluster
        self._deliver = deliver
        self._identities = identities
        self._frame_size_max = frame_size_max
        self._handshake_timeout_s = handshake_timeout_s
        self._tls = tls
        self._links = {r.id: _Link(r.id) for r in cluster.replicas if r.id != me}
        self._rng = random.Random()
        self._last_msg: PeerFrame | None = None
        self._last_frame = b""
        self._c = {
            "sent": 0, "received": 0, "full": 0, "down": 0, "rejected": 0, "errors": 0, "tls": 0
        }  # fmt: skip
        self._silent = LogThrottle(SILENT_LOG_BURST, SILENT_LOG_WINDOW_S, trio.current_time)
        self._tls_failed = LogThrottle(SILENT_LOG_BURST, SILENT_LOG_WINDOW_S, trio.current_time)
        """Failed TLS handshakes, accepted or dialled: a misconfigured replica redials
        every back-off, and anybody can knock on the port."""
        self._refused = ReasonThrottle(
            REFUSED_LOG_BURST, SILENT_LOG_WINDOW_S, trio.current_time
        )
        """Handshakes refused with a reason, accepted or dialled (another cluster, build
        or secret), per reason: a replica left on an old build during an upgrade is
        refused at every back-off of every dial, about once a second per pair, for as
        long as the upgrade takes."""
        self._behind_seen: set[tuple[int, tuple[int, bytes]]] = set()
        """Peer runs refused once for numbering behind (``NumberedBehind``): a second
        refusal is no race, and is logged as a warning."""

    # --- the consensus loop's side -------------------------------------------------

    def send(self, dst: ReplicaId, msg: PeerFrame) -> None:
        link = self._links.get(dst)
        if link is None:
            return
        if link.stream is None:
            self._c["down"] += 1
            return
        if len(link.queue) >= OUTBOUND_FRAMES_MAX or link.queued_bytes >= OUTBOUND_BYTES_MAX:
            self._c["full"] += 1
            return
        if msg is not self._last_msg:  # a broadcast is encoded once
            self._last_msg = msg
            self._last_frame = encode_frame(encode_message(msg))
        frame = self._last_frame
        link.queue.append(frame)
        link.queued_bytes += len(frame)
        link.wake.set()

    def connected_count(self) -> int:
        return sum(1 for link in self._links.values() if link.stream is not None)

    def statistics(self) -> PeerStatistics:
        c = self._c
        return PeerStatistics(
            self.connected_count(),
            c["sent"],
            c["received"],
            c["full"],
            c["down"],
            c["rejected"],
            c["errors"],
            c["tls"],
        )

    # --- tasks -----------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        entry = self._cluster.replica(self._me)
        listeners = await open_listeners(entry.peer.host, entry.peer.port, "peers")
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            for link in self._links.values():
                nursery.start_soon(self._sender, link)
                if link.peer > self._me:
                    nursery.start_soon(self._dialer, link)
            nursery.start_soon(self._summarise_silent)
            await nursery.start(trio.serve_listeners, self._accept, listeners)
            log.info(
                "peer listener on %s:%d%s", entry.peer.host, port,
                " (mutual TLS)" if self._tls is not None else "",
            )  # fmt: skip
            task_status.started(port)

    async def _sender(self, link: _Link) -> None:
        while True:
            with trio.move_on_after(KEEPALIVE_S) as quiet:
                await link.wake.wait()
            if not quiet.cancelled_caught:
                link.wake = trio.Event()
            elif link.stream is not None:
                link.queue.append(self._keepalive)  # nothing sent for a while
                link.queued_bytes += len(self._keepalive)
            stream = link.stream
            if stream is None:
                link.queue.clear()
                link.queued_bytes = 0
                continue
            while link.queue and link.stream is stream:
                chunk: list[bytes] = []
                size = 0
                while link.queue and size < SEND_CHUNK_MAX:
                    frame = link.queue.popleft()
                    chunk.append(frame)
                    size += len(frame)
                link.queued_bytes -= size
                try:
                    await stream.send_all(b"".join(chunk))
                    self._c["sent"] += len(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    log.info("connection to replica %d lost while sending: %s", link.peer, exc)
                    self._disconnect(link, stream)
                    break

    async def _dialer(self, link: _Link) -> None:
        entry = self._cluster.replica(link.peer)
        backoff = DIAL_BACKOFF_MIN_S
        while True:
            stream: PeerStream | None = None
            try:
                with trio.fail_after(self._handshake_timeout_s):
                    stream = await trio.open_tcp_stream(entry.peer.host, entry.peer.port)
                    if self._tls is not None:
                        stream = trio.SSLStream(stream, self._tls.dial, https_compatible=True)
                        await stream.do_handshake()
                    decoder = FrameDecoder(HANDSHAKE_FRAME_MAX)
                    await self._dial_handshake(stream, decoder, link.peer)
            except (
                OSError,
                trio.TooSlowError,
                trio.BrokenResourceError,
                trio.ClosedResourceError,
                PeerProtocolError,
            ) as exc:
                if stream is not None:
                    await trio.aclose_forcefully(stream)
                tls_failure = _tls_failure(exc)
                if tls_failure is not None:
                    # Our certificate refused (the alert may come only with the first
                    # frame, in TLS 1.3), or theirs: said a few times a window.
                    self._c["tls"] += 1
                    if self._tls_failed.allow():
                        log.warning("TLS with replica %d failed: %s", link.peer, tls_failure)
                    self._log_tls_summary()
                elif isinstance(exc, PeerIdentityError):
                    self._c["rejected"] += 1
                    if self._refused.allow(f"{link.peer}: {exc}"):
                        log.warning("refusing replica %d: %s", link.peer, exc)
                    self._log_refused_summary()
                elif isinstance(exc, PeerProtocolError):
                    # Not a peer that is down: one that answers and refuses, or is not ours.
                    if self._refused.allow(f"{link.peer}: {exc}"):
                        log.warning("handshake with replica %d failed: %s", link.peer, exc)
                    self._log_refused_summary()
                else:
                    log.debug("dialing replica %d failed: %s", link.peer, exc)
                await trio.sleep(backoff * (0.5 + self._rng.random()))
                backoff = min(backoff * 2, DIAL_BACKOFF_MAX_S)
                continue
            backoff = DIAL_BACKOFF_MIN_S
            await self._run_connection(link, stream, decoder)
            await trio.sleep(DIAL_BACKOFF_MIN_S * (0.5 + self._rng.random()))

    async def _accept(self, sock: trio.SocketStream) -> None:
        decoder = FrameDecoder(HANDSHAKE_FRAME_MAX)
        stream: PeerStream = sock
        if self._tls is not None:
            stream = trio.SSLStream(sock, self._tls.accept, server_side=True, https_compatible=True)
        try:
            with trio.fail_after(self._handshake_timeout_s):
                if isinstance(stream, trio.SSLStream):
                    await stream.do_handshake()
                peer = await self._accept_handshake(stream, decoder)
        except (
            trio.TooSlowError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            PeerProtocolError,
            OSError,
        ) as exc:
            self._c["rejected"] += 1
            silent = isinstance(exc, trio.TooSlowError)
            tls_failure = _tls_failure(exc)
            reason = (
                f"no handshake within {self._handshake_timeout_s:g}s"
                if silent
                else tls_failure or str(exc) or type(exc).__name__
            )
            if tls_failure is not None:
                self._c["tls"] += 1
                if self._tls_failed.allow():
                    log.warning("rejected a peer connection from %s: %s", _remote(sock), reason)
                self._log_tls_summary()
            elif isinstance(exc, NumberedBehind) and (exc.peer, exc.run) not in self._behind_seen:
                self._behind_seen.add((exc.peer, exc.run))
                log.info(
                    "refused a peer connection from %s for now: %s — or instances it "
                    "numbered since its handshake reached here first; its next handshake "
                    "will tell (this is logged as a warning if it repeats)",
                    _remote(sock), reason,
                )  # fmt: skip
            elif self._silent.allow() if silent else self._refused.allow(reason):
                log.warning("rejected a peer connection from %s: %s", _remote(sock), reason)
            self._log_silent_summary()
            self._log_refused_summary()
            await trio.aclose_forcefully(stream)
            return
        await self._run_connection(self._links[peer], stream, decoder)

    async def _summarise_silent(self) -> None:
        while True:
            await trio.sleep(self._silent.window_s)
            self._log_silent_summary()
            self._log_tls_summary()
            self._log_refused_summary()

    def _log_refused_summary(self) -> None:
        _log_summary(
            self._refused,
            "%d more peer handshakes refused or failed (a reason repeated more than %d "
            "times a %gs is not logged one by one)",
        )

    def _log_tls_summary(self) -> None:
        _log_summary(
            self._tls_failed,
            "%d more peer TLS handshakes failed; connections closed (more than %d a %gs "
            "are not logged one by one)",
        )

    def _log_silent_summary(self) -> None:
        _log_summary(
            self._silent,
            "rejected %d more peer connections with no handshake within %gs (more than "
            "%d a %gs are not logged one by one)",
            self._handshake_timeout_s,
        )

    # --- handshake ---------------------------------------------------------------------

    async def _read_frame(
        self,
        stream: PeerStream,
        decoder: FrameDecoder,
        hung_up: str = "peer closed the connection during the handshake",
    ) -> bytes:
        while True:
            frame = decoder.next_frame()
            if frame is not None:
                return frame
            data = await stream.receive_some(4096)
            if not data:
                raise PeerProtocolError(hung_up)
            decoder.feed(data)

    async def _dial_handshake(
        self, stream: PeerStream, decoder: FrameDecoder, peer: ReplicaId
    ) -> None:
        cid, secret = self._cluster.cluster_id, self._cluster.secret
        nonce = os.urandom(16)
        me = self._identities.mine
        await stream.send_all(
            encode_frame(encode_hello(_hello(cid, self._me, nonce, b"", me, self._build)))
        )
        reply = decode_hello(
            await self._read_frame(
                stream, decoder,
                hung_up=f"replica {peer} closed the connection without answering: it "
                "refuses this replica (its log says why: another cluster file, tls_peers "
                "on one of the two only, another build of epaxosdb, or this data directory "
                "is not the one this replica last ran on)",
            )
        )  # fmt: skip
        if reply.cluster_id != cid:
            raise PeerProtocolError("the peer belongs to another cluster")
        if reply.replica_id != peer:
            raise PeerProtocolError(f"expected replica {peer}, reached replica {reply.replica_id}")
        _check_build(peer, reply.build, self._build)
        expected = _proof(secret, b"A%d" % peer, nonce, cid)
        if not hmac.compare_digest(reply.proof, expected):
            raise PeerProtocolError("the peer failed to prove the cluster secret")
        await self._check_identity(peer, reply)
        mine = _proof(secret, b"D%d" % self._me, reply.nonce, cid)
        await stream.send_all(
            encode_frame(encode_hello(_hello(cid, self._me, b"", mine, me, self._build)))
        )

    async def _accept_handshake(
        self, stream: PeerStream, decoder: FrameDecoder
    ) -> ReplicaId:
        cid, secret = self._cluster.cluster_id, self._cluster.secret
        first = await stream.receive_some(4096)
        if not first:
            raise PeerProtocolError("peer closed the connection during the handshake")
        if self._tls is None and first.startswith(TLS_RECORD_HANDSHAKE):
            raise PeerProtocolError(
                "a TLS handshake on a plain peer port: the dialing replica has [cluster] "
                "tls_peers = true and this one does not (every replica needs the same)"
            )
        decoder.feed(first)
        hello = decode_hello(await self._read_frame(stream, decoder))
        if hello.cluster_id != cid:
            raise PeerProtocolError("wrong cluster id")
        peer = hello.replica_id
        if peer not in self._links or peer > self._me:
            raise PeerProtocolError(f"replica {peer} is not a peer that dials this replica")
        _check_build(peer, hello.build, self._build)
        # Refuse a replica that forgot its votes before answering at all: it then fails
        # its own handshake and backs off, instead of redialling at once, forever.
        # ``_check_identity`` judges it again once it proved the secret: another
        # connection of the same replica may have been remembered during the awaits.
        self._identities.is_new(peer, _identity(hello))
        nonce = os.urandom(16)
        proof = _proof(secret, b"A%d" % self._me, hello.nonce, cid)
        hello_back = _hello(cid, self._me, nonce, proof, self._identities.mine, self._build)
        await stream.send_all(encode_frame(encode_hello(hello_back)))
        final = decode_hello(
            await self._read_frame(
                stream, decoder,
                hung_up=f"replica {peer} closed the connection after this replica proved "
                "the cluster secret: it refuses this replica (do both cluster files hold "
                "the same secret? its log says why)",
            )
        )  # fmt: skip
        expected = _proof(secret, b"D%d" % peer, nonce, cid)
        if final.replica_id != peer or not hmac.compare_digest(final.proof, expected):
            raise PeerProtocolError(f"replica {peer} failed to prove the cluster secret")
        await self._check_identity(peer, hello)
        return peer

    async def _check_identity(self, peer: ReplicaId, hello: Hello) -> None:
        """Only a peer that proved the secret gets here; a new data directory id or
        run is made durable before any of its messages is accepted."""
        shown = _identity(hello)
        if self._identities.is_new(peer, shown):
            await trio.to_thread.run_sync(self._identities.remember, peer, shown)

    # --- an established connection -----------------------------------------------------

    async def _run_connection(
        self, link: _Link, stream: PeerStream, handshake_decoder: FrameDecoder
    ) -> None:
        old = link.stream
        if old is not None:
            await trio.aclose_forcefully(old)
        link.stream = stream
        link.queue.clear()
        link.queued_bytes = 0
        if isinstance(stream, trio.SSLStream):
            log.info("connected to replica %d over %s", link.peer, stream.version())
        else:
            log.info("connected to replica %d", link.peer)
        decoder = FrameDecoder(self._frame_size_max)
        leftover = handshake_decoder.remaining()
        try:
            if leftover:
                decoder.feed(leftover)
            await self._reader(link, stream, decoder)
        except PeerProtocolError as exc:
            self._c["errors"] += 1
            log.warning("closing the connection to replica %d: %s", link.peer, exc)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            log.info("connection to replica %d lost: %s", link.peer, exc)
        finally:
            self._disconnect(link, stream)
            await trio.aclose_forcefully(stream)

    async def _reader(self, link: _Link, stream: PeerStream, decoder: FrameDecoder) -> None:
        deliver = self._deliver
        while True:
            while True:
                frame = decoder.next_frame()
                if frame is None:
                    break
                msg = decode_message(frame)
                if msg.sender != link.peer:
                    raise PeerProtocolError(
                        f"replica {link.peer} sent a message signed by {msg.sender}"
                    )
                self._c["received"] += 1
                if not isinstance(msg, Keepalive):
                    deliver(msg)
            data = await stream.receive_some(RECEIVE_CHUNK)
            if not data:
                log.info("replica %d closed the connection", link.peer)
                return
            if self._on_heard is not None:
                self._on_heard(link.peer)
            decoder.feed(data)

    def _disconnect(self, link: _Link, stream: PeerStream) -> None:
        if link.stream is stream:
            link.stream = None
            link.queue.clear()
            link.queued_bytes = 0
            link.wake.set()


def _log_summary(throttle: LogThrottle | ReasonThrottle, text: str, *args: object) -> None:
    """Say how many events ``throttle`` held back, once it has something to say: ``text``
    takes the count, ``args``, then the throttle's burst and window."""
    count = throttle.take_summary()
    if count:
        log.warning(text, count, *args, throttle.burst, throttle.window_s)


def _tls_failure(exc: BaseException) -> str | None:
    """Why TLS failed, if that is what ``exc`` is: trio reports OpenSSL's error as the
    cause of a ``BrokenResourceError``, in the handshake or (our certificate refused
    under TLS 1.3) at the first read after it."""
    if isinstance(exc, trio.BrokenResourceError) and isinstance(exc.__cause__, ssl.SSLError):
        return f"TLS handshake failed: {handshake_failure(exc, TLS_HINTS)}"
    return None


def _remote(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "?"
