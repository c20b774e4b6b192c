"""Which data directory each peer runs on: a replica that lost votes is not trusted.

A replica's votes and promises live in its data directory. Started again on an
empty directory, it has forgotten them — to EPaxos that is a failure on top of
any other, and trusting its votes again could let a recovery undo a commit.
Such a replica knows it: it says it is *joining* in the handshake, votes on
nothing until it has rebuilt what its predecessor could have voted for
(``epaxosdb.core.joining``), and its peers accept its new directory with a
warning. Every data directory gets a random id when it is created, replicas
show it in the peer handshake, and each replica remembers, durably, the id
every peer showed it last. A peer that shows another id *without* joining (a
directory that holds something, but not its own) is refused, with a log line
that says why, until its own directory is back.

An old *copy* of the right directory (a backup restored) has the same id and
the same hazard: it forgot every vote made after the copy. Two checks catch
most copies:

* Each start of a replica bumps its incarnation in the directory and draws a
  random run id; peers remember the latest (incarnation, run) each replica
  showed. A copy taken before the replica's last start comes back with an
  incarnation already seen under another run, or an older one.
* A replica shows the number its next own instance will get. Instances exist
  only once their owner made them, so a peer that has heard of one at or above
  that number is talking to a replica that forgot it made it: a copy taken
  before the replica last proposed something.

Each peer can judge only by what it has seen: one that never met the last
start, or never heard of the instances the copy lacks, lets the copy in. A
copy taken during the last run, after which the replica only voted on others'
instances, passes both checks everywhere. The README tells operators never to
restore one; these checks catch the common case of an old backup.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from protocol.peer import PeerProtocolError
from storage.interface import Store, Txn

log = logging.getLogger("epaxosdb.peers")

META_DATA_DIR_ID = "data_dir_id"
DATA_DIR_ID_BYTES = 16
RUN_ID_BYTES = 8
_INCARNATION = struct.Struct(">Q")


def _dir_key(peer: int) -> str:
    return f"peer_data_dir.{peer}"


def _run_key(peer: int) -> str:
    return f"peer_run.{peer}"


class PeerIdentityError(PeerProtocolError):
    """A peer came back without the votes it made: another data directory, or an old copy."""


class NumberedBehind(PeerIdentityError):
    """A restarted peer's next instance number is one its row already holds here: an old
    copy of its directory — or instances it numbered after building the handshake that
    reached here first through the other replicas. Refused all the same (its next
    handshake shows a fresh number); the log says which it may be."""

    def __init__(self, message: str, peer: int, run: tuple[int, bytes]) -> None:
        super().__init__(message)
        self.peer = peer
        self.run = run
        """The peer's (incarnation, run id): a second refusal of the same run is no race."""


def data_dir_id(store: Store) -> bytes:
    """This data directory's id, created (and made durable) on first use."""
    existing = store.get_meta(META_DATA_DIR_ID)
    if existing is not None:
        return existing
    fresh = os.urandom(DATA_DIR_ID_BYTES)
    store.write(lambda txn: txn.set_meta(META_DATA_DIR_ID, fresh))
    return fresh


def new_run_id() -> bytes:
    return os.urandom(RUN_ID_BYTES)


@dataclass(frozen=True, slots=True)
class Identity:
    """What a replica shows of itself in the handshake."""

    data_dir: bytes
    incarnation: int
    run: bytes
    next_instance: int = 0
    joining: bool = False
    """Started on an empty directory, voting on nothing until rebuilt (``core.joining``)."""


class PeerIdentities:
    def __init__(
        self,
        store: Store,
        mine: Identity,
        peers: Iterable[int],
        *,
        next_instance: Callable[[], int] = lambda: 0,
        highest_known: Callable[[int], int] = lambda peer: -1,
        joining: Callable[[], bool] = lambda: False,
    ) -> None:
        """``next_instance``, ``highest_known`` and ``joining`` read the core."""
        self._store = store
        self._mine = mine
        self._next_instance = next_instance
        self._joining = joining
        self._highest_known = highest_known
        self._dirs: dict[int, bytes] = {}
        self._runs: dict[int, tuple[int, bytes]] = {}
        for p in peers:
            seen = store.get_meta(_dir_key(p))
            if seen is not None:
                self._dirs[p] = seen
            run = store.get_meta(_run_key(p))
            if run is not None and len(run) > _INCARNATION.size:
                self._runs[p] = (_INCARNATION.unpack_from(run)[0], run[_INCARNATION.size :])

    @property
    def mine(self) -> Identity:
        """What this replica shows now (its next instance number moves on as it proposes)."""
        return replace(self._mine, next_instance=self._next_instance(), joining=self._joining())

    def is_new(self, peer: int, shown: Identity) -> bool:
        """Whether ``peer`` shows a directory or a run for the first time (then ``remember``).

        Raises ``PeerIdentityError`` when what it shows means it forgot votes — unless
        it is joining: then it knows it forgot them and votes on nothing until it
        has rebuilt what its predecessor could have voted for."""
        known_dir = self._dirs.get(peer)
        if shown.joining:
            return known_dir != shown.data_dir or self._runs.get(peer) != (
                shown.incarnation, shown.run
            )
        if known_dir is not None and known_dir != shown.data_dir:
            raise PeerIdentityError(
                f"replica {peer} is running on another data directory than it had before "
                f"(id {shown.data_dir.hex()[:12]}…, was {known_dir.hex()[:12]}…): it has lost "
                "the votes it made, so it may not rejoin; restore its old data directory"
            )
        known_run = self._runs.get(peer)
        if known_run is not None and known_dir is not None:
            incarnation, run = known_run
            if shown.incarnation < incarnation or (
                shown.incarnation == incarnation and shown.run != run
            ):
                raise PeerIdentityError(
                    f"replica {peer} is running on an old copy of its data directory "
                    f"(incarnation {shown.incarnation}, but incarnation {incarnation} has "
                    "already run): it has forgotten the votes it made since the copy, so it "
                    "may not rejoin; start it on the directory it last ran on"
                )
        new_run = known_dir is None or known_run != (shown.incarnation, shown.run)
        highest = self._highest_known(peer)
        # The same run as before was judged when it first showed itself: the instances it
        # has numbered since then are its own (seed 32 of a QA chaos run: a restarted
        # replica refused a healthy peer whose handshake was older than its instances).
        if new_run and shown.next_instance <= highest:
            raise NumberedBehind(
                f"replica {peer} is running on an old copy of its data directory (it would "
                f"number its next instance {shown.next_instance}, but its instance {highest} "
                "exists): it has forgotten the votes it made since the copy, so it may not "
                "rejoin; start it on the directory it last ran on",
                peer,
                (shown.incarnation, shown.run),
            )
        return new_run

    def remember(self, peer: int, shown: Identity) -> None:
        """Persist what ``peer`` showed (blocking: call it from a worker thread)."""
        run = _INCARNATION.pack(shown.incarnation) + shown.run

        def write(txn: Txn) -> None:
            txn.set_meta(_dir_key(peer), shown.data_dir)
            txn.set_meta(_run_key(peer), run)

        self._store.write(write)
        if self._dirs.get(peer) not in (None, shown.data_dir):
            log.warning(
                "replica %d lost its data directory and joins again on %s…: it votes on "
                "nothing until it has rebuilt its state from a peer's snapshot",
                peer,
                shown.data_dir.hex()[:12],
            )
        elif self._dirs.get(peer) != shown.data_dir:
            log.info(
                "replica %d runs on data directory %s… (incarnation %d)",
                peer,
                shown.data_dir.hex()[:12],
                shown.incarnation,
            )
        else:
            log.info("replica %d started again (incarnation %d)", peer, shown.incarnation)
        self._dirs[peer] = shown.data_dir
        self._runs[peer] = (shown.incarnation, shown.run)
