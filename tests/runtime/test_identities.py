"""Peers remember which data directory, and which start of it, each replica runs on."""

from __future__ import annotations

import pytest

from epaxosdb.runtime.identities import (
    Identity,
    NumberedBehind,
    PeerIdentities,
    PeerIdentityError,
    data_dir_id,
)
from storage.memory import MemoryStore

OLD_DIR, NEW_DIR = b"\x01" * 16, b"\x02" * 16


def identities(store: MemoryStore) -> PeerIdentities:
    """This replica's view of its peers 2 and 3, as rebuilt from its store at a start."""
    return PeerIdentities(store, Identity(data_dir_id(store), 1, b"me"), [2, 3])


def meet(ids: PeerIdentities, peer: int, shown: Identity) -> None:
    """A handshake: check, and remember what is new (as the peer network does)."""
    if ids.is_new(peer, shown):
        ids.remember(peer, shown)


def test_a_data_directory_keeps_its_id_and_another_directory_gets_another() -> None:
    store = MemoryStore()
    first = data_dir_id(store)
    assert data_dir_id(store) == first
    assert data_dir_id(MemoryStore()) != first


def test_a_peer_is_remembered_across_restarts_and_refused_with_another_directory() -> None:
    store = MemoryStore()
    ids = identities(store)
    assert ids.is_new(2, Identity(OLD_DIR, 1, b"run-a"))
    ids.remember(2, Identity(OLD_DIR, 1, b"run-a"))
    assert not ids.is_new(2, Identity(OLD_DIR, 1, b"run-a"))  # a reconnection
    again = identities(store)  # after this replica restarts
    assert not again.is_new(2, Identity(OLD_DIR, 1, b"run-a"))
    assert again.is_new(3, Identity(NEW_DIR, 1, b"run-x"))  # never seen: trusted on first contact
    with pytest.raises(PeerIdentityError, match="replica 2 is running on another data directory"):
        again.is_new(2, Identity(NEW_DIR, 1, b"run-b"))


def test_a_peer_that_restarts_on_its_directory_is_welcome_and_its_new_run_remembered() -> None:
    store = MemoryStore()
    ids = identities(store)
    meet(ids, 2, Identity(OLD_DIR, 4, b"run-a"))
    assert ids.is_new(2, Identity(OLD_DIR, 5, b"run-b"))
    ids.remember(2, Identity(OLD_DIR, 5, b"run-b"))
    assert not identities(store).is_new(2, Identity(OLD_DIR, 5, b"run-b"))
    assert identities(store).is_new(2, Identity(OLD_DIR, 9, b"run-c"))  # starts it never showed


@pytest.mark.parametrize(
    "shown",
    [
        Identity(OLD_DIR, 5, b"run-other"),  # a copy from before the last start, started once
        Identity(OLD_DIR, 4, b"run-a"),  # an even older copy
    ],
)
def test_a_peer_back_on_an_old_copy_of_its_directory_is_refused(shown: Identity) -> None:
    store = MemoryStore()
    meet(identities(store), 2, Identity(OLD_DIR, 4, b"run-a"))
    meet(identities(store), 2, Identity(OLD_DIR, 5, b"run-b"))
    with pytest.raises(PeerIdentityError, match="replica 2 is running on an old copy"):
        identities(store).is_new(2, shown)


def test_a_peer_that_forgot_instances_it_made_is_refused_and_one_ahead_of_them_is_not() -> None:
    """A copy taken during the peer's last run: its start looks new, its instance count does not.

    Replica 2's instance 7 exists here, so a replica 2 that would number its
    next instance 7 (or less) no longer knows it made it."""
    store = MemoryStore()
    ids = PeerIdentities(
        store,
        Identity(data_dir_id(store), 1, b"me"),
        [2, 3],
        highest_known=lambda peer: 7 if peer == 2 else -1,
    )
    meet(ids, 2, Identity(OLD_DIR, 4, b"run-a", next_instance=8))
    assert ids.is_new(2, Identity(OLD_DIR, 5, b"run-b", next_instance=8))
    with pytest.raises(PeerIdentityError, match="it would number its next instance 7"):
        ids.is_new(2, Identity(OLD_DIR, 5, b"run-b", next_instance=7))
    assert ids.is_new(3, Identity(NEW_DIR, 1, b"run-x", next_instance=0))


def test_the_same_run_is_not_refused_for_instances_it_numbered_after_its_handshake() -> None:
    """Found by a QA chaos run (seed 32): a restarted replica refused a healthy peer as
    "an old copy" because the peer's handshake was built before instances it then made
    reached the restarted replica through the others. A run already met was judged
    then; only a new run is checked against the instances known of its row. A new run
    refused that way carries who and which run (``NumberedBehind``): the network logs a
    first refusal as a possible race, and a second as what it is."""
    store = MemoryStore()
    highest = [7]
    ids = PeerIdentities(
        store,
        Identity(data_dir_id(store), 1, b"me"),
        [2, 3],
        highest_known=lambda peer: highest[0] if peer == 2 else -1,
    )
    meet(ids, 2, Identity(OLD_DIR, 4, b"run-a", next_instance=8))
    highest[0] = 12  # replica 2 went on numbering; a reconnection shows an older count
    assert not ids.is_new(2, Identity(OLD_DIR, 4, b"run-a", next_instance=8))
    again = PeerIdentities(
        store,
        Identity(data_dir_id(store), 1, b"me"),
        [2, 3],
        highest_known=lambda peer: highest[0] if peer == 2 else -1,
    )  # after this replica restarts: replica 2's run is remembered
    assert not again.is_new(2, Identity(OLD_DIR, 4, b"run-a", next_instance=8))
    with pytest.raises(NumberedBehind) as refused:
        again.is_new(2, Identity(OLD_DIR, 5, b"run-b", next_instance=9))
    assert (refused.value.peer, refused.value.run) == (2, (5, b"run-b"))


def test_what_a_replica_shows_follows_its_instance_count() -> None:
    store = MemoryStore()
    count = [0]
    ids = PeerIdentities(
        store, Identity(data_dir_id(store), 3, b"me"), [2], next_instance=lambda: count[0]
    )
    assert ids.mine.next_instance == 0
    count[0] = 41
    assert ids.mine == Identity(data_dir_id(store), 3, b"me", next_instance=41)


def test_a_joining_peer_on_a_new_directory_is_accepted_and_its_directory_remembered() -> None:
    """It lost its disk and says so: it votes on nothing until rebuilt (``core.joining``),
    so its new directory is taken, and later starts on that directory are ordinary."""
    store = MemoryStore()
    ids = identities(store)
    meet(ids, 2, Identity(OLD_DIR, 7, b"run-a", next_instance=40))
    joining = Identity(NEW_DIR, 1, b"run-b", next_instance=0, joining=True)
    assert ids.is_new(2, joining)
    ids.remember(2, joining)
    again = identities(store)
    assert not again.is_new(2, Identity(NEW_DIR, 1, b"run-b", joining=True))
    assert again.is_new(2, Identity(NEW_DIR, 2, b"run-c", next_instance=41))
    with pytest.raises(PeerIdentityError, match="another data directory"):
        again.is_new(2, Identity(OLD_DIR, 8, b"run-d", next_instance=41))
