"""The conflict index against the definition it summarises.

``ConflictIndex.attributes`` must give exactly what a scan of every recorded
instance would: per row, the highest instance that interferes with the
access (``Access.interferes``), and one more than the largest ``seq`` among
them. ``forget`` may drop only keys whose every instance is at or below the
watermark, and must keep everything else as it was.
"""

from __future__ import annotations

import random

import pytest

from epaxosdb.core.conflicts import ConflictIndex
from protocol.messages import Access

KEYS = [b"a", b"b", b"c", b"d", b"e"]

Record = tuple[int, int, Access, int]
"""(row position, instance index, access, seq) of one recorded instance."""


def random_access(rng: random.Random) -> Access:
    writes = frozenset(k for k in KEYS if rng.random() < 0.2)
    reads = frozenset(k for k in KEYS if rng.random() < 0.2) - writes
    return Access(reads, writes, rng.random() < 0.05, rng.random() < 0.03)


def scanned(
    records: list[Record], access: Access, seq: int, deps: tuple[int, ...]
) -> tuple[int, tuple[int, ...]]:
    out = list(deps)
    need = max(seq - 1, 0)  # seqs start at 1, even with nothing to follow
    for p, index, recorded, s in records:
        if recorded.interferes(access):
            out[p] = max(out[p], index)
            need = max(need, s)
    return max(seq, need + 1), tuple(out)


@pytest.mark.parametrize("n", [1, 3, 5])
@pytest.mark.parametrize("seed", range(20))
def test_attributes_equal_a_scan_of_every_recorded_instance(n: int, seed: int) -> None:
    rng = random.Random(seed)
    index = ConflictIndex(n)
    records: list[Record] = []
    next_index = [0] * n
    for _ in range(200):
        access = random_access(rng)
        deps = tuple(rng.randrange(-1, 3) for _ in range(n))
        seq = rng.randrange(0, 4)
        assert index.attributes(access, seq, deps) == scanned(records, access, seq, deps)
        p = rng.randrange(n)
        # Mostly new instances, sometimes an update of an old one (accept, commit).
        i = next_index[p] if rng.random() < 0.8 else rng.randrange(next_index[p] + 1)
        next_index[p] = max(next_index[p], i + 1)
        s = rng.randrange(1, 40)
        index.add(p, i, access, s)
        records.append((p, i, access, s))


@pytest.mark.parametrize("seed", range(50))
def test_forget_drops_only_keys_wholly_below_the_watermark(seed: int) -> None:
    rng = random.Random(seed)
    n = 3
    index = ConflictIndex(n)
    for i in range(rng.randrange(1, 12)):  # few instances: most keys seen by a row or two
        keyed = random_access(rng)._replace(global_read=False, global_write=False)
        index.add(rng.randrange(n), i, keyed, i + 1)
    probes = [Access(frozenset(), frozenset([k])) for k in KEYS]
    before = {k: index.attributes(a, 0, (-1,) * n) for k, a in zip(KEYS, probes, strict=True)}
    below = [rng.randrange(-1, 12) for _ in range(n)]
    index.forget(Access(frozenset(), frozenset(KEYS)), below)
    for k, probe in zip(KEYS, probes, strict=True):
        _seq, deps = before[k]
        wholly_below = all(d <= b for d, b in zip(deps, below, strict=True))
        after = index.attributes(probe, 0, (-1,) * n)
        if wholly_below:
            assert after == (1, (-1,) * n), k  # dropped: nothing left to order against
        else:
            assert after == before[k], k
