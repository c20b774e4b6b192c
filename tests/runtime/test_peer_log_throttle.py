"""Silent connections to the peer port are logged a few at a time, then summed up.

Anybody who reaches a peer port can open thousands of connections that never
say anything; a QA run's 3,000 logged 3,000 warnings. Other rejections (a bad
proof, another cluster or build) are logged a few times a window for each
reason: a replica left on an old build during an upgrade is refused at every
redial, about once a second, and a new reason must still show at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import trio
import trustme

from epaxosdb.certificates import peer_contexts
from epaxosdb.clusterfile import Address, ClusterConfig, ReplicaEntry, TlsSettings
from epaxosdb.runtime import peers
from epaxosdb.runtime.identities import PeerIdentities
from epaxosdb.runtime.peers import PeerNetwork
from epaxosdb.runtime.throttle import LogThrottle, ReasonThrottle
from protocol.peer import Hello, encode_frame, encode_hello

SILENT = 25
DEADLINE_S = 20.0


def test_the_throttle_lets_a_burst_through_then_counts_and_sums_up_once_a_window() -> None:
    now = [1000.0]
    throttle = LogThrottle(3, 10.0, lambda: now[0])
    assert [throttle.allow() for _ in range(5)] == [True, True, True, False, False]
    assert throttle.take_summary() == 0, "summed up a window after the first one held back"
    now[0] += 5.0
    assert throttle.allow() is False
    assert throttle.take_summary() == 0
    now[0] += 5.0
    assert throttle.take_summary() == 3
    assert throttle.take_summary() == 0, "nothing left to say"
    assert [throttle.allow() for _ in range(4)] == [True, True, True, False], "a new window"
    now[0] += 9.0
    assert throttle.allow() is False
    assert throttle.take_summary() == 0
    now[0] += 1.0
    assert throttle.take_summary() == 2


def test_the_reason_throttle_holds_back_repeats_of_each_reason_alone() -> None:
    now = [1000.0]
    throttle = ReasonThrottle(2, 10.0, lambda: now[0], reasons_max=2)
    assert [throttle.allow("old build") for _ in range(4)] == [True, True, False, False]
    assert throttle.allow("wrong cluster") is True, "a new reason is logged at once"
    assert throttle.allow("bad proof") is True  # past reasons_max: the shared throttle
    assert throttle.allow("bad frame") is True
    assert throttle.allow("oversize") is False
    now[0] += 10.0
    assert throttle.take_summary() == 3, "the held-back repeats of every reason"
    assert throttle.take_summary() == 0
    assert throttle.allow("another reason") is True, "quiet reasons make room"


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (the caller bounds the time)."""
    while True:
        if condition():
            return
        await trio.sleep(0.05)


def _cluster() -> ClusterConfig:
    # Replica 3 dials nobody (the lower id dials); its own peer port comes from the OS.
    replicas = tuple(
        ReplicaEntry(i, Address("127.0.0.1", 1), Address("127.0.0.1", 0 if i == 3 else 2), None)
        for i in (1, 2, 3)
    )
    return ClusterConfig(replicas, b"c" * 16)


async def test_many_silent_peer_connections_log_a_few_lines_and_a_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peers, "SILENT_LOG_WINDOW_S", 1.0)
    caplog.set_level(logging.WARNING, logger="epaxosdb.peers")
    network = PeerNetwork(
        3, _cluster(), lambda msg: None, cast(PeerIdentities, None), handshake_timeout_s=0.05
    )
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(network.serve)
            streams = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(SILENT)]
            await _until(lambda: network.statistics().rejected_connections == SILENT)
            # The summariser task speaks a window after the first connection held back.
            await _until(lambda: any("more peer" in r.getMessage() for r in caplog.records))
            nursery.cancel_scope.cancel()
    for stream in streams:
        await stream.aclose()
    messages = [r.getMessage() for r in caplog.records]
    one_by_one = [m for m in messages if m.startswith("rejected a peer connection from")]
    assert len(one_by_one) == peers.SILENT_LOG_BURST
    assert all("no handshake within 0.05s" in m for m in one_by_one)
    summaries = [m for m in messages if "more peer connections" in m]
    assert sum(int(m.split()[1]) for m in summaries) == SILENT - peers.SILENT_LOG_BURST
    assert summaries[0].startswith(f"rejected {SILENT - peers.SILENT_LOG_BURST} more peer ")


async def test_many_failed_tls_handshakes_on_a_peer_port_log_a_few_lines_and_a_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With ``tls_peers``, plain text on the peer port fails the TLS handshake: each such
    connection is closed and counted, a burst is logged one by one, the rest summed up."""
    monkeypatch.setattr(peers, "SILENT_LOG_WINDOW_S", 1.0)
    caplog.set_level(logging.WARNING, logger="epaxosdb.peers")
    ca = trustme.CA()
    replica = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    replica.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    replica.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    contexts = peer_contexts(
        TlsSettings(tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem")
    )
    network = PeerNetwork(
        3, _cluster(), lambda msg: None, cast(PeerIdentities, None), tls=contexts
    )
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(network.serve)
            streams = []
            for _ in range(SILENT):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(b"PING\r\n" * 100)
                streams.append(stream)
            await _until(lambda: network.statistics().tls_failures == SILENT)
            await _until(lambda: any("more peer TLS" in r.getMessage() for r in caplog.records))
            nursery.cancel_scope.cancel()
    for stream in streams:
        await stream.aclose()
    assert network.statistics().rejected_connections == SILENT
    messages = [r.getMessage() for r in caplog.records]
    one_by_one = [m for m in messages if m.startswith("rejected a peer connection from")]
    assert len(one_by_one) == peers.SILENT_LOG_BURST
    assert all("TLS handshake failed: WRONG_VERSION_NUMBER (not TLS" in m for m in one_by_one)
    summaries = [m for m in messages if "more peer TLS handshakes failed" in m]
    assert sum(int(m.split()[0]) for m in summaries) == SILENT - peers.SILENT_LOG_BURST


async def test_a_handshake_refused_again_and_again_logs_a_few_lines_and_a_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As from a replica of another cluster (or build) redialling: the same reason each
    time. Another reason in the same window is still logged."""
    monkeypatch.setattr(peers, "SILENT_LOG_WINDOW_S", 1.0)
    caplog.set_level(logging.WARNING, logger="epaxosdb.peers")
    network = PeerNetwork(3, _cluster(), lambda msg: None, cast(PeerIdentities, None))
    wrong = encode_frame(encode_hello(Hello(b"x" * 16, 1, b"n" * 16, b"", b"d" * 16)))
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(network.serve)
            for data in [wrong] * SILENT + [encode_frame(b"\xc1")]:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(data)
                assert await stream.receive_some(1024) == b"", "closed, nothing answered"
                await stream.aclose()
            await _until(lambda: network.statistics().rejected_connections == SILENT + 1)
            await _until(lambda: any("more peer" in r.getMessage() for r in caplog.records))
            nursery.cancel_scope.cancel()
    messages = [r.getMessage() for r in caplog.records]
    one_by_one = [m for m in messages if m.startswith("rejected a peer connection from")]
    assert len(one_by_one) == peers.REFUSED_LOG_BURST + 1
    assert all("cluster" in m for m in one_by_one[:-1]), one_by_one
    assert "cluster" not in one_by_one[-1], "the other reason, logged though it came last"
    summaries = [m for m in messages if "more peer handshakes refused" in m]
    assert sum(int(m.split()[0]) for m in summaries) == SILENT - peers.REFUSED_LOG_BURST
