"""One replica process: the root nursery that wires store, core, peers, loop and clients.

``open_replica`` does the synchronous start-up — open the data directory
(taking its lock), bump the incarnation, rebuild the core from disk — and
``serve_replica`` runs it until cancelled or told to stop by a client's
SHUTDOWN. SIGTERM, SIGINT and SHUTDOWN cancel the nursery: the listeners
close, an LMDB transaction in flight finishes (worker threads are not
abandoned), and the store is closed, releasing the lock.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path

import trio

from epaxosdb import certificates, commands, snapshot
from epaxosdb.build import build_name
from epaxosdb.clusterfile import ClusterConfig, ReplicaEntry
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.core.state import META_JOINING
from protocol.peer import Delivered, SnapshotFetch, SnapshotPart
from storage.lmdb_store import LmdbStore

from . import admin
from .clients import ClientRegistry, ClientSettings, serve_clients
from .diskspace import DiskSpace, watch_disk
from .identities import Identity, PeerIdentities, data_dir_id, new_run_id
from .loop import ConsensusLoop
from .peers import PeerNetwork
from .snapshots import SnapshotTransfers, clear_leftovers
from .tls import TlsPort, serve_tls_clients

log = logging.getLogger("epaxosdb.serve")

META_INCARNATION = "incarnation"


@dataclass
class OpenReplica:
    cluster: ClusterConfig
    replica_id: int
    data_dir: Path
    store: LmdbStore
    core: Replica
    incarnation: int
    data_dir_id: bytes
    config: ReplicaConfig


def restore_core(store: LmdbStore, config: ReplicaConfig) -> Replica:
    """The core as the store describes it (at start-up, after a snapshot install, and
    after discarding a left-behind replica's state). Whether it must join first is the
    store's to say (``META_JOINING``: set when the directory is created and whenever
    its state is discarded)."""
    recovered = store.load()
    return Replica.restore(
        config,
        recovered.records,
        recovered.meta,
        rng=random.Random(os.urandom(16)),
        access=commands.command_access,
        batch_access=commands.batch_access,
    )


def open_replica(
    cluster: ClusterConfig, replica_id: int, data_dir: Path, **core_settings: int
) -> OpenReplica:
    """Open (or create) the data dir and rebuild the core from it alone.

    A path that cannot be a data dir is ``DataDirRefused`` (the store creates it)."""
    store = LmdbStore.open(data_dir, replica_id=replica_id, cluster_id=cluster.cluster_id)
    try:
        previous = int(store.get_meta(META_INCARNATION) or b"0")
        incarnation = previous + 1

        def bump(txn: object) -> None:
            txn.set_meta(META_INCARNATION, str(incarnation).encode())  # type: ignore[attr-defined]
            if incarnation == 1:  # new until it has joined, however often it starts
                txn.set_meta(META_JOINING, b"1")  # type: ignore[attr-defined]

        store.write(bump)
        dir_id = data_dir_id(store)
        clear_leftovers(data_dir)
        # A directory whose snapshot install broke off holds none of its own votes: it is as
        # new as an empty one (discarding marks it joining).
        discarded = snapshot.discard_incomplete(store)
        if discarded:
            log.warning("discarded a snapshot whose install was interrupted: joining again")
        config = ReplicaConfig(replica_id, cluster.ids, **core_settings)  # type: ignore[arg-type]
        core = restore_core(store, config)
    except BaseException:
        store.close()
        raise
    log.info(
        "replica %d of %d (build %s) opened %s: incarnation %d, %d instances in memory%s",
        replica_id,
        len(cluster.ids),
        build_name(),
        data_dir,
        incarnation,
        len(core.instances),
        ": empty, joining the cluster" if core.joining else "",
    )
    return OpenReplica(cluster, replica_id, data_dir, store, core, incarnation, dir_id, config)


def _warn_without_secret(cluster: ClusterConfig) -> None:
    """The peer handshake proves the cluster secret; without one, anybody who reaches a
    peer port can pose as a replica — and, claiming a new data directory, make its peers
    refuse the real one until an operator steps in. Fine on one machine's loopback."""
    if cluster.secret:
        return
    exposed = [r.peer.host for r in cluster.replicas if not _loopback(r.peer.host)]
    if exposed and cluster.tls_peers:
        log.warning(
            "no [cluster] secret: with tls_peers only holders of a certificate from "
            "tls_ca_cert_file reach the peer handshake, but any of them (a client's "
            "certificate too) can pose as a replica there; set secret in the cluster file"
        )
    elif exposed:
        log.warning(
            "no [cluster] secret: anyone who can reach a peer port (%s) can pose as a "
            "replica and cut it off from the others; set secret in the cluster file",
            ", ".join(sorted(set(exposed))),
        )


def _loopback(host: str) -> bool:
    return host == "localhost" or host == "::1" or host.startswith("127.")


async def serve_replica(
    opened: OpenReplica,
    *,
    client_host: str | None = None,
    client_port: int | None = None,
    tls_context: ssl.SSLContext | None = None,
    peer_tls: certificates.PeerContexts | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled or SHUTDOWN; ``task_status.started(client_port)`` once
    clients can connect (the TLS port when the replica has no plain one).

    A replica with a ``tls_client`` serves it with ``tls_context``, or with one built
    from the cluster file's TLS files (``certificates.CertificateError`` if they are
    bad: the CLI builds it before opening the data dir, to refuse the start early).
    With ``[cluster] tls_peers`` the same goes for ``peer_tls``, the contexts of
    mutual TLS between replicas."""
    cluster, me = opened.cluster, opened.replica_id
    entry = cluster.replica(me)
    tls: TlsPort | None = None
    if entry.tls_client is not None:
        context = tls_context or certificates.server_context(entry.tls)
        tls = TlsPort(context, cluster.tls_handshake_timeout_s)
    if cluster.tls_peers and peer_tls is None:
        peer_tls = certificates.peer_contexts(entry.tls)
    loop: ConsensusLoop | None = None

    def deliver(msg: Delivered) -> None:
        assert loop is not None
        if isinstance(msg, SnapshotFetch):
            transfers.on_fetch(msg)
        elif isinstance(msg, SnapshotPart):
            transfers.on_part(msg)
        else:
            loop.deliver(msg)

    def core() -> Replica:
        return opened.core if loop is None else loop.core

    def installed() -> None:
        assert loop is not None
        loop.replace_core(restore_core(opened.store, opened.config))

    def rebuild() -> Replica:
        # Marked incomplete: a restart before the snapshot is in discards again and joins.
        snapshot.discard(opened.store, incomplete=True)
        return restore_core(opened.store, opened.config)

    others = [r for r in cluster.ids if r != me]
    _warn_without_secret(cluster)
    mine = Identity(opened.data_dir_id, opened.incarnation, new_run_id())
    identities = PeerIdentities(
        opened.store,
        mine,
        others,
        next_instance=lambda: core().next_instance,
        highest_known=lambda peer: core().highest_known(peer),
        joining=lambda: core().joining,
    )
    def heard(peer: int) -> None:
        if loop is not None:
            loop.heard(peer)

    peers = PeerNetwork(
        me,
        cluster,
        deliver,
        identities,
        tls=peer_tls if cluster.tls_peers else None,
        on_heard=heard,
    )
    transfers = SnapshotTransfers(
        me,
        cluster.ids.index(me),
        opened.store,
        opened.data_dir,
        peers.send,
        installed,
        rebuilding=lambda: core().joining,
    )
    plain_port = entry.client.port if entry.client is not None else 0
    settings = ClientSettings(
        requirepass=cluster.requirepass,
        users=cluster.users,
        tcp_port=client_port if client_port is not None else plain_port,
        config_file=str(cluster.path or ""),
    )
    settings.tls_peers = cluster.tls_peers
    if tls is not None or cluster.tls_peers:
        settings.tls_cert_file = str(entry.tls.cert_file or "")
        settings.tls_key_file = str(entry.tls.key_file or "")
        settings.tls_ca_cert_file = str(entry.tls.ca_cert_file or "")
        settings.tls_auth_clients = entry.tls.auth_clients
    registry = ClientRegistry(settings)
    loop = ConsensusLoop(
        opened.core,
        opened.store,
        incarnation=opened.incarnation,
        send=peers.send,
        tick_interval_s=cluster.tick_ms / 1000,
        command_timeout_s=cluster.command_timeout_s,
        peers_connected=peers.connected_count,
        peer_statistics=peers.statistics,
        reply_batch=registry.reply_batch,
        blocked=registry.blocked,
        subscriptions=registry.subscriptions,
        tracking=registry.tracking,
        want_snapshot=transfers.want,
        rebuild=rebuild,
        slowlog=registry.slowlog,
        latency_monitor=registry.latency_monitor,
        scratch_dir=opened.data_dir,
        tally=registry.stats.keyspace,
    )
    lowered = admin.fit_maxclients(settings)
    if lowered is not None:
        log.warning("%s", lowered)
    disk = DiskSpace(opened.data_dir, reusable=opened.store.reusable_bytes)
    try:
        await _serve(
            loop, peers, transfers, registry, settings, entry, me, client_host, disk, tls,
            task_status,
        )  # fmt: skip
    finally:
        # A clean stop (SIGTERM) writes what was deferred, so a restart has nothing to redo.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(loop.flush_deferred)


async def _serve(
    loop: ConsensusLoop,
    peers: PeerNetwork,
    transfers: SnapshotTransfers,
    registry: ClientRegistry,
    settings: ClientSettings,
    entry: ReplicaEntry,
    me: int,
    client_host: str | None,
    disk: DiskSpace,
    tls: TlsPort | None,
    task_status: trio.TaskStatus[int],
) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(transfers.run)
        await nursery.start(peers.serve)
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        nursery.start_soon(loop.run_listening_clock)
        nursery.start_soon(loop.run_sweeper)
        nursery.start_soon(watch_disk, disk, registry)
        listening: list[str] = []
        port = 0
        if entry.client is not None:  # else TLS only (Redis's port 0)
            host = client_host or entry.client.host
            port = await nursery.start(
                lambda task_status: serve_clients(
                    loop,
                    settings,
                    host=host,
                    port=settings.tcp_port,
                    registry=registry,
                    task_status=task_status,
                )
            )
            listening.append(f"clients on {host}:{port}")
        if tls is not None and entry.tls_client is not None:
            tls_host = entry.tls_client.host
            tls_port: int = await nursery.start(
                lambda task_status: serve_tls_clients(
                    loop,
                    registry,
                    tls,
                    host=tls_host,
                    port_number=entry.tls_client.port if entry.tls_client else 0,
                    task_status=task_status,
                )
            )
            listening.append(f"TLS clients on {tls_host}:{tls_port}")
            port = port or tls_port
        log.info(
            "replica %d listening: %s (data commands answer -LOADING until it has caught up)",
            me, ", ".join(listening),
        )  # fmt: skip
        task_status.started(port)
        await registry.shutdown_requested.wait()
        log.info("%s: shutting down", registry.shutdown_reason)
        nursery.cancel_scope.cancel()


async def run_until_signal(
    opened: OpenReplica,
    tls_context: ssl.SSLContext | None = None,
    peer_tls: certificates.PeerContexts | None = None,
) -> None:
    """``serve_replica`` until SIGTERM, SIGINT or SHUTDOWN, then shut down cleanly."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def serve_then_stop() -> None:
                # returns only after a SHUTDOWN command
                await serve_replica(opened, tls_context=tls_context, peer_tls=peer_tls)
                nursery.cancel_scope.cancel()

            nursery.start_soon(serve_then_stop)
            async for signum in signals:
                log.info("received %s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


def run_process(
    opened: OpenReplica,
    tls_context: ssl.SSLContext | None = None,
    peer_tls: certificates.PeerContexts | None = None,
) -> None:
    """The process's main: serve until a signal (the CLI's only entry into trio).

    Trio reports a task's failure wrapped in exception groups, one level per
    nursery it crossed. The process has one cause of death to report — a port
    in use, a storage failure, a safety tripwire — so the group is unwrapped
    down to it and the caller can say it in one line and exit with its code.
    """
    try:
        trio.run(run_until_signal, opened, tls_context, peer_tls)
    except BaseExceptionGroup as group:
        cause = root_cause(group)
        if cause is group:
            raise
        raise cause from group


def root_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception at the leaves of ``group`` besides cancellations, or ``group``.

    When several tasks failed for different reasons there is no single cause
    to report, and the whole group (with its traceback) is the honest answer.
    """
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        elif not isinstance(exc, trio.Cancelled):
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else group
