"""Which data directory each peer runs on: a replica that lost its disk may not rejoin.

A replica's votes and promises live in its data directory. Started again on an
empty directory, it has forgotten them — to EPaxos that is a failure on top of
any other, and trusting its votes again could let a recovery undo a commit.
So every data directory gets a random id when it is created, replicas show it
in the peer handshake, and each replica remembers, durably, the id every peer
first showed it. A peer that later shows another id is refused, with a log line
that says why, until its old directory is restored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from protocol.peer import PeerProtocolError
from storage.interface import Store

log = logging.getLogger("epaxosdb.peers")

META_DATA_DIR_ID = "data_dir_id"
DATA_DIR_ID_BYTES = 16


def _peer_key(peer: int) -> str:
    return f"peer_data_dir.{peer}"


class PeerIdentityError(PeerProtocolError):
    """A peer came back with another data directory than the one it voted from."""


def data_dir_id(store: Store) -> bytes:
    """This data directory's id, created (and made durable) on first use."""
    existing = store.get_meta(META_DATA_DIR_ID)
    if existing is not None:
        return existing
    fresh = os.urandom(DATA_DIR_ID_BYTES)
    store.write(lambda txn: txn.set_meta(META_DATA_DIR_ID, fresh))
    return fresh


class PeerIdentities:
    def __init__(self, store: Store, mine: bytes, peers: Iterable[int]) -> None:
        self._store = store
        self.mine = mine
        self._known: dict[int, bytes] = {}
        for p in peers:
            seen = store.get_meta(_peer_key(p))
            if seen is not None:
                self._known[p] = seen

    def is_new(self, peer: int, presented: bytes) -> bool:
        """Whether ``peer`` shows an id for the first time (then ``remember`` it).

        Raises ``PeerIdentityError`` when it shows another id than before."""
        known = self._known.get(peer)
        if known is None:
            return True
        if known != presented:
            raise PeerIdentityError(
                f"replica {peer} is running on another data directory than it had before "
                f"(id {presented.hex()[:12]}…, was {known.hex()[:12]}…): it has lost the "
                "votes it made, so it may not rejoin; restore its old data directory"
            )
        return False

    def remember(self, peer: int, presented: bytes) -> None:
        """Persist the id ``peer`` showed (blocking: call it from a worker thread)."""
        self._store.write(lambda txn: txn.set_meta(_peer_key(peer), presented))
        self._known[peer] = presented
        log.info("replica %d runs on data directory %s…", peer, presented.hex()[:12])
