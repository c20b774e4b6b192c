"""The end-of-run check that every replica holds the same state (``sim.run``)."""

from __future__ import annotations

import pytest

from epaxosdb.sim.checkers import InvariantViolation
from epaxosdb.sim.cluster import SimCluster
from epaxosdb.sim.run import _check_converged, profile_for


def test_replicas_whose_function_libraries_differ_have_not_converged() -> None:
    """The libraries are replicated state beside the keyspace: equal keys are not enough."""
    cluster = SimCluster(profile_for(0, 3), 0)
    _check_converged(cluster)
    cluster.nodes[2].store.write(lambda txn: txn.set_functions(b"only here"))
    with pytest.raises(InvariantViolation, match="function libraries of replicas 1 and 2"):
        _check_converged(cluster)
    for r in cluster.ids:
        cluster.nodes[r].store.write(lambda txn: txn.set_functions(b"everywhere"))
    _check_converged(cluster)
