"""Peers remember which data directory each replica runs on, durably."""

from __future__ import annotations

import pytest

from epaxosdb.runtime.identities import PeerIdentities, PeerIdentityError, data_dir_id
from storage.memory import MemoryStore


def test_a_data_directory_keeps_its_id_and_another_directory_gets_another() -> None:
    store = MemoryStore()
    first = data_dir_id(store)
    assert data_dir_id(store) == first
    assert data_dir_id(MemoryStore()) != first


def test_a_peer_is_remembered_across_restarts_and_refused_with_another_directory() -> None:
    store = MemoryStore()
    ids = PeerIdentities(store, data_dir_id(store), [2, 3])
    old, new = b"\x01" * 16, b"\x02" * 16
    assert ids.is_new(2, old)
    ids.remember(2, old)
    assert not ids.is_new(2, old)
    again = PeerIdentities(store, data_dir_id(store), [2, 3])  # after a restart
    assert not again.is_new(2, old)
    assert again.is_new(3, new)  # never seen: trusted on first contact
    with pytest.raises(PeerIdentityError, match="replica 2 is running on another data directory"):
        again.is_new(2, new)
