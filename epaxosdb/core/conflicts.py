"""The conflict index: for each key, the latest interfering instance of every row.

This is what turns a command into its EPaxos attributes (brief §1.5–1.6).
``deps[p]`` is the highest instance of row ``p`` known here to interfere with
the command (prefix semantics: it depends on every interfering instance of
that row up to there), ``seq`` is one more than the largest ``seq`` of those.

Reads depend only on writes; writes depend on everything. Keyspace-wide
reads (KEYS, SCAN, DBSIZE) depend on every write and keyspace-wide writes
(FLUSHALL) on everything, so besides the per-key entries the index keeps
per-row maxima over all instances.

The index only ever grows: it is updated at every attribute change
(pre-accept with the locally computed seq, accept, commit — P16), and an
entry naming an instance that later became a NO-OP is harmless, because the
executor skips non-interfering and empty instances. Rows are never skipped,
not even the owner's (P15); a recovery may therefore see an instance depend
on itself, which the executor ignores.
"""

from __future__ import annotations

from operator import le

from protocol.messages import Access, AccessUnion, Deps


class ConflictIndex:
    def __init__(self, n: int) -> None:
        self._n = n
        self._keys: dict[bytes, list[int]] = {}
        """Per key, one flat list: ``[last_0 .. last_n-1, last_write_0 .. last_write_n-1,
        seq_any, seq_write]`` — the latest instance of each row touching the key, the
        latest writing it, and the largest seq of each kind. One list per key, copied
        from ``_fresh``: every key of every batch passes through ``add``, and an object
        holding two lists cost three allocations and an ``__init__`` call."""
        self._fresh = [-1] * (2 * n) + [0, 0]
        # Per-row maxima for keyspace-wide commands.
        self._row_any = [-1] * n  # any instance that touches anything
        self._row_write = [-1] * n  # any instance that writes anything
        self._row_global_write = [-1] * n  # FLUSHALL-like
        self._row_global_read = [-1] * n  # KEYS-like
        self._seq_any = 0
        self._seq_write = 0
        self._seq_global_write = 0
        self._seq_global_read = 0

    def __len__(self) -> int:
        return len(self._keys)

    def attributes(self, access: Access, seq: int, deps: Deps) -> tuple[int, Deps]:
        """Union of ``(seq, deps)`` with what this replica knows interferes with ``access``."""
        n = self._n
        out = list(deps)
        need_seq = seq - 1  # the largest interfering seq seen; result is max(seq, need+1)

        def raise_to(vector: list[int]) -> None:
            for p in range(n):
                v = vector[p]
                if v > out[p]:
                    out[p] = v

        # Keyspace-wide writes interfere with everything.
        raise_to(self._row_global_write)
        need_seq = max(need_seq, self._seq_global_write)
        if access.global_write:
            raise_to(self._row_any)
            need_seq = max(need_seq, self._seq_any)
        elif access.global_read:
            raise_to(self._row_write)
            need_seq = max(need_seq, self._seq_write)
        if access.writes:
            raise_to(self._row_global_read)
            need_seq = max(need_seq, self._seq_global_read)
        keys = self._keys
        seq_any, seq_write = 2 * n, 2 * n + 1
        for key in access.writes:
            e = keys.get(key)
            if e is not None:
                raise_to(e)  # its first n entries: the latest instance of any access
                if e[seq_any] > need_seq:
                    need_seq = e[seq_any]
        for key in access.reads:
            e = keys.get(key)
            if e is not None:
                raise_to(e[n:seq_any])
                if e[seq_write] > need_seq:
                    need_seq = e[seq_write]
        return max(seq, need_seq + 1), tuple(out)

    def forget(self, access: Access, below: list[int]) -> None:
        """Drop the entries of ``access``'s keys whose every instance is at or below
        ``below`` (the executed-everywhere watermark): nothing can be ordered against
        them any more, since every replica has already executed them."""
        keys = self._keys
        get = keys.get
        if self._n == 1:
            # One row: the comparison below is of the first entries alone.
            b = below[0]
            for group in (access.writes, access.reads):
                for key in group:
                    e = get(key)
                    if e is not None and e[0] <= b:
                        del keys[key]
            return
        for group in (access.writes, access.reads):
            for key in group:
                e = get(key)
                # map(le, ...) compares the rows in C, and stops at the end of ``below``
                # (the first n entries: the latest access of each row). This runs for
                # every key of every collected instance.
                if e is not None and all(map(le, e, below)):
                    del keys[key]

    def add(self, position: int, index: int, access: Access, seq: int) -> None:
        """Record that instance ``index`` of row ``position`` touches ``access`` with ``seq``."""
        p = position
        if index > self._row_any[p]:
            self._row_any[p] = index
        self._seq_any = max(self._seq_any, seq)
        writes = bool(access.writes) or access.global_write
        if writes:
            if index > self._row_write[p]:
                self._row_write[p] = index
            self._seq_write = max(self._seq_write, seq)
        if access.global_write:
            if index > self._row_global_write[p]:
                self._row_global_write[p] = index
            self._seq_global_write = max(self._seq_global_write, seq)
        if access.global_read:
            if index > self._row_global_read[p]:
                self._row_global_read[p] = index
            self._seq_global_read = max(self._seq_global_read, seq)
        keys = self._keys
        get = keys.get
        n = self._n
        fresh = self._fresh
        pw, seq_any, seq_write = n + p, 2 * n, 2 * n + 1
        if access.writes:
            # A key new to the index (most are) gets a copy of this entry.
            written = fresh.copy()
            written[p] = written[pw] = index
            written[seq_any] = written[seq_write] = seq
            new_entry = written.copy
        for key in access.writes:
            e = get(key)
            if e is None:
                keys[key] = new_entry()
                continue
            if index > e[p]:
                e[p] = index
            if index > e[pw]:
                e[pw] = index
            if seq > e[seq_any]:
                e[seq_any] = seq
            if seq > e[seq_write]:
                e[seq_write] = seq
        for key in access.reads:
            e = get(key)
            if e is None:
                e = keys[key] = fresh.copy()
                e[p] = index
                e[seq_any] = seq
                continue
            if index > e[p]:
                e[p] = index
            if seq > e[seq_any]:
                e[seq_any] = seq


def batch_access(accesses: list[Access]) -> Access:
    """The union of a batch's accesses, built once (not pairwise) for large batches."""
    if len(accesses) == 1:
        return accesses[0]
    union = AccessUnion()
    for a in accesses:
        union.add(a)
    return union.access()
