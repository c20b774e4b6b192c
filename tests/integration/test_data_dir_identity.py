"""A replica that comes back on an old copy of its data directory is refused until restored.

Its votes lived in that directory, and a copy has forgotten those made since
it was taken; trusting them could let a recovery undo a commit. The other two
refuse its handshake and say why in their logs, keep serving, and take it
back once the real directory is back. (A replica on an *empty* directory knows
it forgot everything and rebuilds instead: ``test_replica_replacement``.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.integration.cluster import ProcessCluster, wait_until

REFUSED_S = 30.0
SERVE_AGAIN_S = 60.0



def wait_logged_by_peers(cluster: ProcessCluster, line: str) -> None:
    """Until replicas 1 and 3 have both logged ``line`` about replica 2."""
    for i in (1, 3):
        wait_until(lambda i=i: cluster.logged(i, line), REFUSED_S, f"{i} logging {line!r}")


def three_acquainted(make_cluster: Callable[[int], ProcessCluster]) -> ProcessCluster:
    """A 3-replica cluster whose replicas 1 and 3 have met replica 2 (and remembered it).

    A peer trusts what it sees first: one that never met replica 2's directory
    cannot tell another one from it."""
    cluster = make_cluster(3)
    wait_logged_by_peers(cluster, "replica 2 runs on data directory")
    return cluster


def swap_in(data_dir: Path, replacement: Path) -> Path:
    """Put ``replacement`` where ``data_dir`` is; returns where the real one was moved."""
    real = data_dir.with_name(data_dir.name + ".real")
    data_dir.rename(real)
    replacement.rename(data_dir)
    return real


def put_back(data_dir: Path, real: Path) -> None:
    shutil.rmtree(data_dir)
    real.rename(data_dir)


COPY_REFUSAL = "replica 2 is running on an old copy of its data directory"


def test_a_replica_restarted_on_an_old_copy_of_its_directory_is_refused(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    """A backup restored over a replica's directory forgot the votes made since the copy.

    The copy is taken while replica 2 is stopped, before its last start; the
    replica then runs again (voting) and stops, and the copy is put back. Its
    peers recognise a start they have already seen under another run, refuse
    it, and take the replica back once its real directory returns.
    """
    cluster = three_acquainted(make_cluster)
    data_dir = cluster.replicas[2].data_dir
    with cluster.client(1) as c:
        assert c.set("before-copy", "1")
    cluster.terminate(2)
    copy = data_dir.with_name(data_dir.name + ".backup")
    shutil.copytree(data_dir, copy)
    cluster.restart(2)
    cluster.wait_serving(2, SERVE_AGAIN_S)
    with cluster.client(2) as c2:
        assert c2.set("after-copy", "2")
    # Only a peer that saw this start can tell a copy from before it (a run so short
    # that a peer never reconnected to it is invisible to that peer).
    wait_logged_by_peers(cluster, "replica 2 started again (incarnation 2)")
    cluster.terminate(2)
    real = swap_in(data_dir, copy)

    cluster.restart(2)
    wait_logged_by_peers(cluster, COPY_REFUSAL)
    with cluster.client(1) as c1:
        assert c1.set("while-refused", "yes")
    with cluster.client(2) as c2, pytest.raises(redis.BusyLoadingError):
        c2.get("after-copy")

    cluster.terminate(2)
    put_back(data_dir, real)
    cluster.restart(2)
    cluster.wait_serving(2, SERVE_AGAIN_S)
    with cluster.client(2) as c2:
        assert c2.mget("before-copy", "after-copy", "while-refused") == [b"1", b"2", b"yes"]


def test_a_replica_restarted_on_a_copy_taken_while_it_ran_is_refused_once_it_had_proposed(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    """A backup taken from the running replica (frozen with SIGSTOP for a consistent copy).

    Its next start is a new run like any other, but replica 2 proposed more
    instances after the copy, which its peers know of and the copy does not.
    """
    cluster = three_acquainted(make_cluster)
    data_dir = cluster.replicas[2].data_dir
    with cluster.client(2) as c2:
        assert c2.set("before-copy", "1")
    cluster.stop(2)
    copy = data_dir.with_name(data_dir.name + ".backup")
    shutil.copytree(data_dir, copy)
    cluster.cont(2)
    with cluster.client(2) as c2:
        for n in range(20):
            assert c2.set(f"after-copy:{n}", n)
    cluster.kill9(2)
    real = swap_in(data_dir, copy)

    cluster.restart(2)
    wait_logged_by_peers(cluster, "it would number its next instance")
    with cluster.client(2) as c2, pytest.raises(redis.BusyLoadingError):
        c2.get("after-copy:0")

    cluster.kill9(2)
    put_back(data_dir, real)
    cluster.restart(2)
    cluster.wait_serving(2, SERVE_AGAIN_S)
    with cluster.client(2) as c2:
        assert c2.get("after-copy:19") == b"19"
