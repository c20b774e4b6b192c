"""The order of the keyspace, and the SCAN / RANDOMKEY / expiry rules built on it.

Every store lays its keys out in the same order: ``key_hash(key)`` first,
then the key bytes. Everything that walks the keyspace is written here once,
over a store's *groups* (all keys sharing one hash, sorted by bytes, in hash
order), so ``MemoryStore`` and ``LmdbStore`` cannot disagree on which keys a
SCAN page holds or which key RANDOMKEY picks for a seed — replicas must
agree, and checkers compare the two stores.

Why groups: a SCAN cursor is a hash position, so a page must end on a hash
boundary; otherwise keys sharing the boundary hash could be skipped. Returning
a whole group at once also gives Redis's guarantee that a full iteration
returns every key present from start to end, whatever is inserted or deleted
in between: a key that stays present is in the range of exactly one page.

Expiring keys are listed in ``(expire_ms, key_hash, key)`` order, so a capped
``expiring(before, limit)`` chooses the same keys everywhere too.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator

HASH_POSITIONS = 1 << 32
"""Cursor values are hash positions in ``[0, HASH_POSITIONS)``; 0 starts and ends a SCAN."""

SCAN_CHUNK_KEYS = 512
"""Keys fetched per step when ``iter_keys`` walks the keyspace with SCAN semantics."""

Group = tuple[int, list[bytes]]
"""``(hash, keys)``: every key with that hash, sorted by bytes."""

GroupsFrom = Callable[[int], Iterator[Group]]
"""A store's walk over its groups, in hash order, starting at a hash position."""


def check_cursor(cursor: int, count: int) -> None:
    """Refuse a negative cursor or a count below 1 (handlers parse and reject earlier)."""
    if cursor < 0:
        raise ValueError(f"SCAN cursor must not be negative, got {cursor}")
    if count < 1:
        raise ValueError(f"SCAN count must be at least 1, got {count}")


def check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")


def take_scan(groups: Iterable[Group], count: int) -> tuple[int, list[bytes]]:
    """One SCAN page: whole groups until at least ``count`` keys; next cursor or 0 at the end.

    The next cursor is the hash of the first group *not* returned, so it is
    always above every hash returned and never 0 unless iteration is over.
    """
    keys: list[bytes] = []
    for group_hash, group_keys in groups:
        if len(keys) >= count:
            return group_hash, keys
        keys.extend(group_keys)
    return 0, keys


def scan(groups_from: GroupsFrom, cursor: int, count: int) -> tuple[int, list[bytes]]:
    check_cursor(cursor, count)
    if cursor >= HASH_POSITIONS:
        return 0, []
    return take_scan(groups_from(cursor), count)


def iter_keys(scan_page: Callable[[int, int], tuple[int, list[bytes]]]) -> Iterator[bytes]:
    """Every key in scan order, fetched a page at a time.

    Walking by cursor rather than holding one iterator over the store's
    structure keeps this safe if the caller deletes keys while iterating:
    it inherits SCAN's guarantee instead of failing or skipping.
    """
    cursor = 0
    while True:
        cursor, keys = scan_page(cursor, SCAN_CHUNK_KEYS)
        yield from keys
        if cursor == 0:
            return


def seed_position(seed: int) -> int:
    """The hash position RANDOMKEY starts from for ``seed``.

    The seed is hashed so that consecutive seeds (instance indexes) land far
    apart instead of all picking the first key.
    """
    return zlib.crc32((seed % (1 << 64)).to_bytes(8, "big"))


def random_key(groups_from: GroupsFrom, seed: int) -> bytes | None:
    """The first key at or after the seed's position, wrapping to the start; ``None`` if empty."""
    for _, keys in groups_from(seed_position(seed)):
        return keys[0]
    for _, keys in groups_from(0):
        return keys[0]
    return None
