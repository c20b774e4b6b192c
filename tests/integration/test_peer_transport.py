"""Strangers on the peer port: each bad connection is closed, and the cluster never notices.

A replica's peer port accepts only a peer that completes the handshake
(right cluster id, a replica id that dials it, an HMAC proof of the shared
secret) within ``HANDSHAKE_TIMEOUT_S``, in frames of at most
``HANDSHAKE_FRAME_MAX`` bytes. Each test opens connections to the peer
port of every replica of a 3-replica cluster (``cluster3``, which has a
secret), sends something wrong, and checks that the replica closes that
connection and logs the rejection, that the real peer links are still up
(``peers_connected`` stays 2 everywhere), and that writes through every
replica are still acknowledged and read back through another.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import time
from collections.abc import Callable
from functools import partial

import pytest

from epaxosdb.build import build_id, build_name
from protocol.peer import HANDSHAKE_FRAME_MAX, Hello, encode_frame, encode_hello
from tests.integration.cluster import ProcessCluster, wait_until

CLOSE_TIMEOUT_S = 15.0
"""The replica's handshake timeout is 5 s; a bad connection must be gone well within this."""

RNG = random.Random(20261126)


def read_until_closed(sock: socket.socket, timeout_s: float = CLOSE_TIMEOUT_S) -> bytes:
    """Everything the replica sends before closing; fails if it does not close in time."""
    sock.settimeout(1.0)
    received = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the replica kept a bad peer connection open for {timeout_s}s")


def rejections(cluster: ProcessCluster, i: int) -> int:
    return (
        cluster.replicas[i].log_path.read_text(errors="replace").count("rejected a peer connection")
    )


def _connected_to_both(cluster: ProcessCluster, i: int) -> bool:
    return bool(cluster.info(i)["peers_connected"] == 2)


def _rejected_more_than(cluster: ProcessCluster, i: int, count: int) -> bool:
    return rejections(cluster, i) > count


def assert_cluster_unharmed(cluster: ProcessCluster, tag: str) -> None:
    for i in cluster:
        wait_until(
            partial(_connected_to_both, cluster, i),
            CLOSE_TIMEOUT_S,
            f"replica {i} connected to both peers",
        )
    for i in cluster:
        key = f"peer-test:{tag}:{i}"
        assert cluster.client(i).set(key, tag) is True
        other = i % 3 + 1
        assert cluster.client(other).get(key) == tag.encode(), (i, other)


def attack(cluster: ProcessCluster, payload: Callable[[int], bytes], tag: str) -> None:
    """Send ``payload(replica)`` to every replica's peer port at once; all must be closed."""
    before = {i: rejections(cluster, i) for i in cluster}
    refused_before = {i: refused_in_info(cluster, i) for i in cluster}
    sockets = {i: socket.create_connection(("127.0.0.1", cluster.peer_port(i))) for i in cluster}
    try:
        for i, s in sockets.items():
            data = payload(i)
            if data:
                s.sendall(data)
        for s in sockets.values():
            read_until_closed(s)
    finally:
        for s in sockets.values():
            s.close()
    for i in cluster:
        wait_until(
            partial(_rejected_more_than, cluster, i, before[i]),
            CLOSE_TIMEOUT_S,
            f"replica {i} logging the rejected connection",
        )
        assert refused_in_info(cluster, i) > refused_before[i], "INFO counts it too"
    assert_cluster_unharmed(cluster, tag)


def refused_in_info(cluster: ProcessCluster, i: int) -> int:
    """What INFO's ``# EPaxos`` says replica ``i``'s peer transport refused."""
    info = cluster.info(i)
    return int(info["peer_rejected_connections"]) + int(info["peer_protocol_errors"])


def test_garbage_bytes_on_the_peer_port_are_rejected(cluster3: ProcessCluster) -> None:
    attack(cluster3, lambda i: bytes(RNG.randrange(256) for _ in range(4096)), "garbage")


def test_a_small_frame_of_garbage_is_rejected(cluster3: ProcessCluster) -> None:
    attack(cluster3, lambda i: encode_frame(b"\xc1 not msgpack at all"), "bad-frame")


@pytest.mark.parametrize(
    "size", [HANDSHAKE_FRAME_MAX + 1, 1 << 30, 0xFFFFFFFF], ids=["just over", "1 GB", "4 GB"]
)
def test_a_frame_header_announcing_an_oversize_frame_is_rejected(
    cluster3: ProcessCluster, size: int
) -> None:
    attack(cluster3, lambda i: struct.pack(">I", size) + b"\x00" * 16, f"oversize-{size}")


def test_a_handshake_with_a_wrong_cluster_id_is_rejected(cluster3: ProcessCluster) -> None:
    wrong = bytes(b ^ 0xFF for b in cluster3.cluster_id)

    def hello(i: int) -> bytes:
        claimed = 1 if i != 1 else 2
        hello = Hello(wrong, claimed, os.urandom(16), b"", os.urandom(16))
        return encode_frame(encode_hello(hello))

    attack(cluster3, hello, "wrong-cluster")


def test_an_impostor_without_the_secret_cannot_replace_a_peer(cluster3: ProcessCluster) -> None:
    """Right cluster id, claims to be a peer, cannot prove the secret: closed, links kept."""
    right = cluster3.cluster_id

    def impostor(i: int) -> bytes:
        claimed = 1 if i != 1 else 2
        dir_id = os.urandom(16)
        build = build_id()  # the same build: what stops it is the secret alone
        first = Hello(right, claimed, os.urandom(16), b"", dir_id, build=build)
        proof = Hello(right, claimed, b"", b"\x00" * 32, dir_id, build=build)
        return encode_frame(encode_hello(first)) + encode_frame(encode_hello(proof))

    attack(cluster3, impostor, "impostor")


def test_a_peer_running_another_build_is_refused_and_the_log_says_so(
    cluster3: ProcessCluster,
) -> None:
    """Replicas execute every command themselves, so one running other code would apply
    the same log differently. A handshake with another build's digest (right cluster,
    a real peer's id) is refused, the cluster keeps serving, and the log names both
    builds so that the operator knows to upgrade every replica."""
    other = bytes(b ^ 0xFF for b in build_id())

    def hello(i: int) -> bytes:
        claimed = 1 if i != 1 else 2
        h = Hello(cluster3.cluster_id, claimed, os.urandom(16), b"", os.urandom(16), build=other)
        return encode_frame(encode_hello(h))

    attack(cluster3, hello, "other-build")
    expected = f"runs another build of epaxosdb ({build_name(other)}, this replica {build_name()})"
    wait_until(lambda: cluster3.logged(3, expected), CLOSE_TIMEOUT_S, "the refusal logged")


def test_a_connection_that_never_says_anything_is_closed(cluster3: ProcessCluster) -> None:
    attack(cluster3, lambda i: b"", "silent")


def test_a_rejected_peer_connection_is_logged_with_its_reason(cluster3: ProcessCluster) -> None:
    """An operator reading the log must learn why: silence is a handshake timeout, not ''."""
    cases = {
        "silent": b"",
        "oversize": struct.pack(">I", 0xFFFFFFFF),
    }
    ports = {}
    for name, data in cases.items():
        s = socket.create_connection(("127.0.0.1", cluster3.peer_port(2)))
        ports[name] = s.getsockname()[1]
        try:
            if data:
                s.sendall(data)
            read_until_closed(s)
        finally:
            s.close()

    def _logged(port: int) -> bool:
        return line_for(port) is not None

    def line_for(port: int) -> str | None:
        text = cluster3.replicas[2].log_path.read_text(errors="replace")
        marker = f"rejected a peer connection from 127.0.0.1:{port}:"
        return next((ln for ln in text.splitlines() if marker in ln), None)

    for name, port in ports.items():
        wait_until(partial(_logged, port), CLOSE_TIMEOUT_S, f"{name} connection logged")
        line = line_for(port)
        assert line is not None
        reason = line.split(f"127.0.0.1:{port}:", 1)[1].strip()
        assert reason, f"the {name} connection was rejected without a reason: {line!r}"


def test_a_peer_that_hangs_up_after_the_proof_is_logged_as_refusing(
    cluster3: ProcessCluster,
) -> None:
    """What a replica whose cluster secret differs sees: its peer reads its proof and hangs
    up. Its log must point at the secret (it said only "closed during the handshake")."""
    s = socket.create_connection(("127.0.0.1", cluster3.peer_port(3)))
    try:
        # Joining on a new directory: answered (then judged again once it proves the
        # secret, which it never does here).
        hello = Hello(
            cluster3.cluster_id, 1, os.urandom(16), b"", os.urandom(16), 1, b"r", 0, True,
            build_id(),
        )  # fmt: skip
        s.sendall(encode_frame(encode_hello(hello)))
        s.settimeout(CLOSE_TIMEOUT_S)
        assert s.recv(HANDSHAKE_FRAME_MAX), "replica 3 answers the handshake"
    finally:
        s.close()
    expected = "closed the connection after this replica proved the cluster secret"
    wait_until(lambda: cluster3.logged(3, expected), CLOSE_TIMEOUT_S, "the refusal logged")
    assert "same secret" in next(
        ln for ln in cluster3.log_tail(3, 200).splitlines() if expected in ln
    )
    assert_cluster_unharmed(cluster3, "hung-up")
