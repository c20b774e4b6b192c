"""Mutual TLS between replicas (``[cluster] tls_peers``), against real replica processes.

One 3-replica cluster with ``tls_peers = true`` and a secret, its certificates
from ``trustme`` (``test_tls.make_certificates``: one CA signs the replicas'
certificate and a client certificate; another CA signs an "untrusted" one).
The replicas have no TLS client port: their clients talk plain RESP, only
the peer links are TLS.

Each stranger on a peer port — plain TCP speaking the peer protocol, TLS
with a certificate from another CA or with none, TLS with a good certificate
but without the secret, or silence — must be closed and logged while the
replicas stay connected to each other (``peers_connected`` 2 everywhere)
and keep acknowledging writes that the others read back. The last test
kills one replica with ``kill -9`` and restarts it: it reconnects over TLS
and catches up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from functools import partial

import pytest
import redis

from epaxosdb.build import build_id
from protocol.peer import Hello, encode_frame, encode_hello
from tests.integration.cluster import STOP_TIMEOUT_S, ProcessCluster, wait_until
from tests.integration.conftest import module_cluster
from tests.integration.test_peer_transport import (
    CLOSE_TIMEOUT_S,
    _connected_to_both,
    assert_cluster_unharmed,
    read_until_closed,
)
from tests.integration.test_tls import Certificates, make_certificates

CATCH_UP_S = 60.0
"""A restarted replica serves and holds the others' data within this (liveness bound)."""
WRITES_WHILE_DOWN = 200


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("peer-certs"))


@pytest.fixture(scope="module")
def tls_peers3(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    certs: Certificates,
) -> Iterator[ProcessCluster]:
    yield from module_cluster(
        request, tmp_path_factory, 3, tls=False, tls_peers=True, **certs.settings()
    )


def _hello(cluster: ProcessCluster, i: int) -> bytes:
    """What a peer would send first: a well-formed hello claiming a replica that dials
    ``i`` (no proof of the secret, which the sender does not know)."""
    claimed = 1 if i != 1 else 2
    return encode_frame(
        encode_hello(Hello(cluster.cluster_id, claimed, os.urandom(16), b"", os.urandom(16)))
    )


def _tls_context(certs: Certificates, cert: str) -> ssl.SSLContext:
    """A client context that trusts the cluster's CA and presents ``cert`` ("client",
    "untrusted", "server" — the replicas' own — or "none")."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(str(certs.ca))
    if cert != "none":
        context.load_cert_chain(
            str(getattr(certs, f"{cert}_cert")), str(getattr(certs, f"{cert}_key"))
        )
    return context


def _tls_stranger(port: int, context: ssl.SSLContext, payload: bytes) -> bool:
    """Connect over TLS, send ``payload`` once the handshake is through, and read until
    the replica closes. Whether our TLS handshake completed (under TLS 1.3 a client's
    handshake completes before the server has judged its certificate); fails if the
    replica never closes."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=CLOSE_TIMEOUT_S)
    try:
        try:
            tls = context.wrap_socket(raw)
        except TimeoutError:
            raise AssertionError("the replica neither finished nor failed the handshake") from None
        except (ssl.SSLError, ConnectionResetError):
            return False
        try:
            tls.sendall(payload)
            while tls.recv(4096):
                pass
        except TimeoutError:
            raise AssertionError(
                f"the replica kept a TLS stranger connected for {CLOSE_TIMEOUT_S}s"
            ) from None
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        return True
    finally:
        raw.close()


def _wait_logged_more(cluster: ProcessCluster, i: int, text: str, before: int) -> None:
    wait_until(
        lambda: cluster.log_count(i, text) > before,
        CLOSE_TIMEOUT_S,
        f"replica {i} logging {text!r}",
    )


def test_writes_through_one_replica_are_read_through_the_others_over_tls(
    tls_peers3: ProcessCluster,
) -> None:
    for i in tls_peers3:
        wait_until(
            partial(_connected_to_both, tls_peers3, i),
            CLOSE_TIMEOUT_S,
            f"replica {i} connected to both peers",
        )
        assert tls_peers3.logged(i, "peer listener on 127.0.0.1:"), i
        assert tls_peers3.logged(i, "(mutual TLS)"), i
    # Each link is TLS, seen from both of its ends.
    for i, j in ((1, 2), (1, 3), (2, 3)):
        assert tls_peers3.logged(i, f"connected to replica {j} over TLSv1."), (i, j)
        assert tls_peers3.logged(j, f"connected to replica {i} over TLSv1."), (j, i)
    writer = tls_peers3.client(1)
    for n in range(50):
        assert writer.set(f"peer-tls:{n}", f"value {n}") is True
    for i in (2, 3):
        reader = tls_peers3.client(i)
        assert reader.get("peer-tls:49") == b"value 49"
        assert reader.mget([f"peer-tls:{n}" for n in range(50)]) == [
            f"value {n}".encode() for n in range(50)
        ]
    # CONFIG GET says so, under Redis's names, and CONFIG SET cannot change it.
    settings = writer.config_get("tls-*")
    assert settings["tls-replication"] == settings["tls-cluster"] == "yes"
    assert settings["tls-cert-file"] and settings["tls-ca-cert-file"]
    with pytest.raises(redis.ResponseError, match="the cluster file sets it"):
        writer.config_set("tls-replication", "no")


def test_plain_tcp_speaking_the_peer_protocol_is_refused_before_the_handshake(
    tls_peers3: ProcessCluster,
) -> None:
    """A replica without tls_peers, or an attacker, on a TLS peer port: its hello never
    reaches the peer handshake (no "rejected ... wrong cluster id" or secret failure)."""
    text = "TLS handshake failed"
    before = {i: tls_peers3.log_count(i, text) for i in tls_peers3}
    secret = "failed to prove the cluster secret"
    secret_before = {i: tls_peers3.log_count(i, secret) for i in tls_peers3}
    sockets = {
        i: socket.create_connection(("127.0.0.1", tls_peers3.peer_port(i))) for i in tls_peers3
    }
    try:
        for i, sock in sockets.items():
            sock.sendall(_hello(tls_peers3, i))
        for sock in sockets.values():
            read_until_closed(sock)
    finally:
        for sock in sockets.values():
            sock.close()
    for i in tls_peers3:
        _wait_logged_more(tls_peers3, i, text, before[i])
    assert tls_peers3.logged(1, "WRONG_VERSION_NUMBER (not TLS: a replica without tls_peers")
    assert {i: tls_peers3.log_count(i, secret) for i in tls_peers3} == secret_before, (
        "a plain-text hello never gets to the peer handshake"
    )
    assert_cluster_unharmed(tls_peers3, "plain-on-tls")


@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        ("untrusted", "CERTIFICATE_VERIFY_FAILED (the peer's certificate is not signed by "
         "tls_ca_cert_file)"),
        ("none", "PEER_DID_NOT_RETURN_A_CERTIFICATE (the peer sent no certificate"),
    ],
)  # fmt: skip
def test_a_tls_peer_without_a_certificate_the_ca_signed_is_refused(
    tls_peers3: ProcessCluster, certs: Certificates, cert: str, reason: str
) -> None:
    before = {i: tls_peers3.log_count(i, reason) for i in tls_peers3}
    for i in tls_peers3:
        _tls_stranger(tls_peers3.peer_port(i), _tls_context(certs, cert), _hello(tls_peers3, i))
    for i in tls_peers3:
        _wait_logged_more(tls_peers3, i, reason, before[i])
    assert_cluster_unharmed(tls_peers3, f"tls-{cert}")


def test_a_certificate_from_the_ca_without_the_secret_is_refused_by_the_handshake(
    tls_peers3: ProcessCluster, certs: Certificates
) -> None:
    """Defence in depth: a client certificate from the same CA gets through TLS, not past
    the secret. The replica answers the hello (inside TLS) and then closes, logging the
    failed proof."""
    text = "failed to prove the cluster secret"
    before = tls_peers3.log_count(3, text)
    # Replica 1 on a new, joining data directory: answered, then judged on its proof.
    dir_id, cid = os.urandom(16), tls_peers3.cluster_id
    hello = Hello(cid, 1, os.urandom(16), b"", dir_id, 1, b"r", 0, True, build_id())
    proof = Hello(cid, 1, b"", b"\x00" * 32, dir_id, 1, b"r", 0, True, build_id())
    payload = encode_frame(encode_hello(hello)) + encode_frame(encode_hello(proof))
    assert _tls_stranger(tls_peers3.peer_port(3), _tls_context(certs, "client"), payload)
    _wait_logged_more(tls_peers3, 3, text, before)
    assert_cluster_unharmed(tls_peers3, "ca-no-secret")


def test_silent_connections_to_peer_ports_block_nothing_and_are_closed(
    tls_peers3: ProcessCluster,
) -> None:
    text = "no handshake within"
    before = {i: tls_peers3.log_count(i, text) for i in tls_peers3}
    with contextlib.ExitStack() as stack:
        silent = [
            stack.enter_context(socket.create_connection(("127.0.0.1", tls_peers3.peer_port(i))))
            for i in tls_peers3
            for _ in range(3)
        ]
        # While they hang in their TLS handshakes, every replica still serves writes the
        # others read: nothing waits for them.
        for i in tls_peers3:
            key = f"peer-tls:silent:{i}"
            assert tls_peers3.client(i).set(key, "served") is True
            assert tls_peers3.client(i % 3 + 1).get(key) == b"served"
        for sock in silent:
            assert read_until_closed(sock) == b""
    for i in tls_peers3:
        _wait_logged_more(tls_peers3, i, text, before[i])
    assert_cluster_unharmed(tls_peers3, "silent")


@contextlib.contextmanager
def _impostor_acceptor(port: int, certs: Certificates) -> Iterator[None]:
    """A TLS server on ``port`` presenting the certificate another CA signed, as a
    replica set up with the wrong files would: every handshake with it fails."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certs.untrusted_cert), str(certs.untrusted_key))
    stop = threading.Event()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    server.settimeout(0.1)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(CLOSE_TIMEOUT_S)
                with contextlib.suppress(ssl.SSLError, OSError):
                    context.wrap_socket(conn, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(CLOSE_TIMEOUT_S)
        server.close()


def test_a_replica_killed_and_restarted_reconnects_over_tls_and_catches_up(
    tls_peers3: ProcessCluster, certs: Certificates
) -> None:
    """While replica 3 is down, a TLS server with a certificate from another CA holds its
    peer port: the replicas that dial it refuse it, log why, keep serving, and keep
    retrying — so they reach the real replica 3 once it is back."""
    connected = "connected to replica 1 over TLSv1."
    before = tls_peers3.log_count(3, connected)
    refused = (
        "TLS with replica 3 failed: TLS handshake failed: CERTIFICATE_VERIFY_FAILED (the "
        "peer's certificate is not signed by tls_ca_cert_file)"
    )
    refused_before = {i: tls_peers3.log_count(i, refused) for i in (1, 2)}
    tls_peers3.kill9(3)
    writer = tls_peers3.client(1)
    with _impostor_acceptor(tls_peers3.peer_port(3), certs):
        for n in range(WRITES_WHILE_DOWN):
            assert writer.set(f"peer-tls:down:{n}", n) is True
        for i in (1, 2):
            _wait_logged_more(tls_peers3, i, refused, refused_before[i])
        assert tls_peers3.info(1)["peers_connected"] == 1, "the impostor is no peer"
    tls_peers3.restart(3)
    tls_peers3.wait_serving(3, CATCH_UP_S)
    # Replica 1 redials within its back-off, over TLS again.
    _wait_logged_more(tls_peers3, 3, connected, before)
    tls_peers3.wait_same_data(CATCH_UP_S)
    assert tls_peers3.client(3).get(f"peer-tls:down:{WRITES_WHILE_DOWN - 1}") == (
        str(WRITES_WHILE_DOWN - 1).encode()
    )
    assert_cluster_unharmed(tls_peers3, "restarted")



def test_a_replica_started_without_tls_peers_is_refused_and_both_sides_say_why(
    make_cluster: Callable[..., ProcessCluster], certs: Certificates
) -> None:
    """The operator forgot ``tls_peers`` in one replica's copy of the file (the cluster id
    does not depend on it, so its data directory is accepted). Replicas 1 and 2 dial it
    over TLS: it refuses their ClientHello, naming the setting, and they log the failed
    TLS handshake with the same hint, retrying until the right replica 3 is back.
    A cluster of its own: the shared one's TLS failure lines may be spent (throttled)."""
    tls_peers3 = make_cluster(3, tls_peers=True, **certs.settings())
    plain_config = tls_peers3.directory / "cluster-without-tls-peers.toml"
    plain_config.write_text(tls_peers3.config.read_text().replace("tls_peers = true\n", ""))
    dialled = "a TLS handshake on a plain peer port: the dialing replica has [cluster] tls_peers"
    before = {1: tls_peers3.log_count(1, "TLS with replica 3 failed"),
              2: tls_peers3.log_count(2, "TLS with replica 3 failed")}  # fmt: skip
    tls_peers3.terminate(3)
    command = tls_peers3.serve_command(3)
    command[command.index("--config") + 1] = str(plain_config)
    plain_log = tls_peers3.directory / "replica-3-without-tls-peers.log"
    with plain_log.open("wb") as log:
        plain = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        wait_until(
            lambda: dialled in plain_log.read_text(errors="replace"),
            CLOSE_TIMEOUT_S,
            "the plain replica 3 naming tls_peers",
        )
        for i in (1, 2):
            _wait_logged_more(tls_peers3, i, "TLS with replica 3 failed", before[i])
        assert any(tls_peers3.logged(i, "(a replica without tls_peers?)") for i in (1, 2))
        assert tls_peers3.info(1)["peers_connected"] == 1
    finally:
        plain.send_signal(signal.SIGTERM)
        plain.wait(STOP_TIMEOUT_S)
    tls_peers3.restart(3)
    tls_peers3.wait_serving(3, CATCH_UP_S)
    assert_cluster_unharmed(tls_peers3, "plain-replica")
