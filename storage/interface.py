"""The storage contract the rest of epaxosdb sees.

A ``Store`` keeps two things durable: the EPaxos instance records (votes,
promises, commits) and the applied state — the keyspace, and beside it the
function libraries (one opaque blob, ``KeyValueView.functions``). Both change
in one write transaction per batch — ``Store.write(fn)`` — so a crash can never
apply a command without recording that it ran, nor release a vote that is not
on disk.

``MemoryStore`` (simulator, unit tests) and ``LmdbStore`` (production) pass the
same contract suite (``tests/storage/test_contract.py``).

Rules every implementation keeps:

* ``write(fn)`` runs ``fn(txn)`` inside one transaction and makes it durable
  (fsync for LMDB) before returning. If ``fn`` raises, nothing is written.
  ``fn`` may be called more than once (LMDB re-runs it after growing a full
  map), so it must not have side effects outside ``txn``.
* Values are typed (``Value``): a type tag, an absolute expiry and a payload.
  The store never judges expiry; handlers compare ``expire_ms`` with the
  executing command's timestamp. The store does keep an index by expiry so
  that expired keys can be found without a full scan.
* Key order for ``scan``/``iter_keys``/``random_key`` is the order of
  ``key_hash(key)`` then the key bytes. Cursors are positions in that order,
  so a full SCAN returns every key present from start to end however the
  keyspace changes in between, as Redis promises.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple, Protocol, TypeVar

from protocol.messages import InstanceId, InstanceRecord

SCHEMA_VERSION = 2
"""Bumped whenever the on-disk layout changes; a mismatch refuses to open.

2: the function libraries (``KeyValueView.functions``) are kept in ``meta``. A
version-1 directory simply has none, so it opens, and opening it for writing
marks it version 2: an older build then refuses it with a clear error instead
of running on without the libraries it cannot see."""
UPGRADABLE_SCHEMAS = frozenset({1})
"""Older versions this build reads as they are and upgrades in place on a writable open."""

T = TypeVar("T")


class ValueType(IntEnum):
    """Type tag of a stored value; what TYPE reports and WRONGTYPE guards."""

    STRING = 0
    LIST = 1
    HASH = 2
    SET = 3
    ZSET = 4
    STREAM = 5


class Value(NamedTuple):
    """A stored value: ``expire_ms`` is absolute Unix time in ms, 0 for none."""

    type: ValueType
    expire_ms: int
    payload: bytes


class ValueHeader(NamedTuple):
    """What a value is without its payload: enough for EXISTS, TYPE, TTL and STRLEN.

    Reading it does not copy the payload, so asking about a 64 MB value costs
    what asking about a small one does."""

    type: ValueType
    expire_ms: int
    size: int
    """The payload's length in bytes."""


def header_of(value: Value) -> ValueHeader:
    return ValueHeader(value.type, value.expire_ms, len(value.payload))


Payload = bytes | memoryview
"""A payload as ``KeyValueView.read_in_place`` lends it: a slice of a 64 MB list or
string costs what the slice does, not a copy of the whole value."""

Reader = Callable[[ValueHeader, Payload], T]


def key_hash(key: bytes) -> int:
    """The 32-bit position of a key in scan order (CRC-32: fast, stable everywhere)."""
    return zlib.crc32(key)


class StorageError(Exception):
    """The store cannot continue (disk full, I/O error, corrupt file)."""


class DataDirLocked(StorageError):
    """Another process holds the data directory's lock."""


class SchemaMismatch(StorageError):
    """The data directory was written by an incompatible version, or for another replica."""


class ClusterMismatch(SchemaMismatch):
    """The data directory was written for another cluster (another cluster id)."""


class DataDirRefused(StorageError):
    """The data directory cannot be used as it is, and opening it changed nothing: its path
    is not a directory or cannot be created or written, or it holds the remains of a store
    whose data file is missing or empty (starting over there would forget every vote)."""


NO_EXPIRY = 1 << 63
"""``expiry_floor`` of a state in which no key has an expiry: later than any deadline."""


class KeyValueView(Protocol):
    """The key-value state as command handlers see it, inside one transaction."""

    def get(self, key: bytes) -> Value | None:
        """The stored value, expired or not; ``None`` when the key is absent."""
        ...

    def header(self, key: bytes) -> ValueHeader | None:
        """``get(key)``'s type, expiry and payload size, without copying the payload."""
        ...

    def read_in_place(self, key: bytes, reader: Reader[T]) -> T | None:
        """``reader(header, payload)`` of the stored value, expired or not, where it is
        stored; ``None`` when the key is absent.

        ``payload`` may be a view into the store's memory map, valid only during the
        call: ``reader`` copies out (``bytes(...)``) whatever it returns or keeps."""
        ...

    def put(self, key: bytes, value: Value) -> None: ...

    def delete(self, key: bytes) -> bool:
        """Remove the key; ``True`` if it was there."""
        ...

    def count(self) -> int:
        """Number of stored keys, expired-but-not-yet-deleted ones included."""
        ...

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """About ``count`` keys from ``cursor`` on in scan order; next cursor is 0 at the end.

        ``cursor`` is 0 to start. Keys sharing one ``key_hash`` are returned
        together, so the next cursor is always a hash boundary.
        """
        ...

    def iter_keys(self) -> Iterator[bytes]:
        """Every stored key in scan order."""
        ...

    def random_key(self, seed: int) -> bytes | None:
        """A key chosen deterministically from ``seed`` (same state, same seed, same key)."""
        ...

    def expiring(self, before_ms: int, limit: int) -> list[bytes]:
        """Up to ``limit`` keys whose ``expire_ms`` is nonzero and ``<= before_ms``."""
        ...

    def expiry_floor(self) -> int:
        """A lower bound of every stored key's nonzero ``expire_ms`` (``NO_EXPIRY`` if none).

        Cheap, and answerable without the whole keyspace: so a command can tell
        that none of its keys can be expired without reading them. It may be
        lower than the true minimum (a view may not forget a deleted key's
        deadline), never higher.
        """
        ...

    def clear(self) -> None:
        """Delete every key (FLUSHALL)."""
        ...

    def functions(self) -> bytes:
        """The function libraries (FUNCTION LOAD), as ``commands.functions`` encodes them;
        ``b""`` when none.

        The store keeps them as one opaque blob beside the keyspace: Redis treats
        libraries as data (they are in its RDB files and reach its replicas), so here
        they are replicated state that commits, rolls back and survives a restart
        exactly as keys do."""
        ...

    def set_functions(self, blob: bytes) -> None:
        """Replace the function libraries (``b""``: none). Not touched by ``clear``
        (FLUSHALL keeps functions, as in Redis)."""
        ...


class Txn(KeyValueView, Protocol):
    """A write transaction: key-value state plus the consensus records."""

    def apply_writes(self, writes: Mapping[bytes, Value | None]) -> None:
        """Give each key its value, or delete it where the value is ``None``.

        This is how a batch executed ahead of its transaction
        (``storage.buffered.BufferedView``) lands: the mapping is the batch's
        net effect, so each key appears once, and the result is as if ``put``
        and ``delete`` had been called in any order (expiry index included).
        Keys and values are checked as ``put`` checks them.
        """
        ...

    def put_instances(self, records: Iterable[InstanceRecord]) -> None:
        """Store records, replacing earlier versions of the same instances."""
        ...

    def mark_executed(self, ids: Iterable[InstanceId]) -> None:
        """Record that these committed instances have been applied to the key-value state."""
        ...

    def delete_instances(self, ids: Iterable[InstanceId]) -> None:
        """Forget instances (log GC below the executed-everywhere watermark)."""
        ...

    def set_meta(self, name: str, value: bytes) -> None: ...

    def get_meta(self, name: str) -> bytes | None: ...


@dataclass
class Recovered:
    """What a replica restarts from: every stored instance and the metadata.

    Instances marked executed come back with status EXECUTED.
    """

    records: list[InstanceRecord] = field(default_factory=list)
    meta: dict[str, bytes] = field(default_factory=dict)


class Store(Protocol):
    def load(self) -> Recovered: ...

    def write(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn`` in one durable write transaction and return its result."""
        ...

    def read(self, fn: Callable[[KeyValueView], T]) -> T:
        """Run ``fn`` against a consistent read-only view of the key-value state."""
        ...

    def get_meta(self, name: str) -> bytes | None: ...

    def key_counts(self, pending: Sequence[Mapping[bytes, Value | None]] = ()) -> tuple[int, int]:
        """``(keys, keys with an expiry)`` from the last commit, in O(1) (INFO keyspace).

        With ``pending`` (net effects not yet written, newest first, as
        ``storage.buffered`` takes them): the counts as if they were applied
        to that same commit — one lookup per pending key.
        """
        ...

    def close(self) -> None: ...
