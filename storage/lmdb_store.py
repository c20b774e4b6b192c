"""LmdbStore: the storage contract on one LMDB environment; the only ``import lmdb``.

Layout: one environment, named databases ``instances``, ``kv``, ``expires``
(an index by expiry time), ``executed`` (one empty entry per applied
instance, so marking costs a tiny put instead of rewriting a record with its
payload), ``meta`` and ``sessions`` (reserved). Byte layouts are in
``storage.keys`` and ``storage.values``; instance records use the peer codec
(``protocol.peer.encode_record``) so a record and the message that carried it
cannot disagree.

Durability: ``sync=True, metasync=True, writemap=False``. Each ``write(fn)``
is one write transaction, begun and committed in the calling thread (LMDB
write transactions belong to their thread; the runtime calls ``write`` through
``trio.to_thread.run_sync``), and ``commit`` returns only after fsync. A
commit error other than a full map is fatal: the store refuses further writes,
because after a failed fsync the kernel may already have dropped the dirty
pages and a retry could report success for lost data.

A full map is not fatal: the transaction is aborted, the map doubled (up to
``map_size_max``) and ``fn`` re-run, which the contract allows.

The data dir is flocked (``storage.datadir``) before LMDB is opened. The
schema version, replica id and cluster id live in ``meta`` under reserved
names; a mismatch refuses to open. The function registry lives there too, under
a reserved name of its own, so it commits with the keyspace it sits beside.
Every ``lmdb.Error`` leaves this module as ``StorageError`` carrying LMDB's own
text.

The module is long on purpose: keeping every line that touches ``lmdb`` in one
file is what lets an architecture test enforce that nothing else does. The
parts that need no ``lmdb`` live beside it (``keys``, ``values``,
``keyspace``, ``datadir``, ``resize_gate``, ``stats``).
"""

from __future__ import annotations

import dataclasses
import logging
import operator
import os
import signal
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar, Union, cast

import lmdb

from protocol.messages import InstanceId, InstanceRecord, Status
from protocol.peer import PeerProtocolError, decode_record, encode_record
from storage import keyspace
from storage.buffered import counts_with
from storage.datadir import LOCK_FILE_NAME, DataDirLock
from storage.interface import (
    NO_EXPIRY,
    SCHEMA_VERSION,
    UPGRADABLE_SCHEMAS,
    ClusterMismatch,
    DataDirRefused,
    KeyValueView,
    Reader,
    Recovered,
    SchemaMismatch,
    StorageError,
    Txn,
    Value,
    ValueHeader,
    ValueType,
)
from storage.keys import (
    RESERVED_META_PREFIX,
    SHORT_KEY_MAX,
    check_meta_name,
    expiry_group,
    expiry_key,
    expiry_of,
    hash_prefix,
    instance_id_of,
    instance_key,
    is_long_form,
    kv_key,
    kv_key_of_expiry,
    pack_kv_hash,
    position_prefix,
    short_form_key,
)
from storage.resize_gate import ResizeGate
from storage.stats import StoreStats
from storage.values import (
    EXPIRE_MS_MAX,
    EXPIRE_MS_MIN,
    PLAIN_HEADERS,
    check_key,
    check_value,
    decode_header,
    decode_mapped,
    decode_value,
    encode_value,
    record_expire_ms,
    record_full_key,
)

T = TypeVar("T")

MAP_SIZE_DEFAULT = 1 << 30
"""Initial map: 1 GiB of address space (the file only grows as pages are used)."""

MAP_SIZE_MAX_DEFAULT = 1 << 40
"""Growth stops at 1 TiB, py-lmdb's suggestion for 64-bit hosts."""

MAP_SIZE_MIN = 1 << 16

MAX_DBS = 16
"""Named databases the environment may hold: ours plus room for later schemas."""

WRITER_WAIT_S_MAX = 300.0
"""Longest ``write`` waits for another thread's ``write`` to finish."""

DATA_FILE_NAME = "data.mdb"

log = logging.getLogger(__name__)

DB_NAMES = (b"instances", b"kv", b"expires", b"executed", b"meta", b"sessions")

_META_SCHEMA = RESERVED_META_PREFIX + "schema_version"
_META_REPLICA = RESERVED_META_PREFIX + "replica_id"
_META_CLUSTER = RESERVED_META_PREFIX + "cluster_id"
_META_FUNCTIONS = RESERVED_META_PREFIX + "functions"
"""The function registry's blob (``KeyValueView.functions``), absent when there are no
libraries. In ``meta`` rather than a database of its own: it is one small value, and a
new database would make older versions refuse the data dir as foreign. Reserved, so
``load`` leaves it out of the metadata and ``set_meta`` cannot overwrite it."""
_FUNCTIONS_KEY = _META_FUNCTIONS.encode()
_first = operator.itemgetter(0)
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class _MapFull(StorageError):
    """The map filled during a write; ``write`` grows it and runs ``fn`` again."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Dbs:
    instances: lmdb._Database
    kv: lmdb._Database
    expires: lmdb._Database
    executed: lmdb._Database
    meta: lmdb._Database
    sessions: lmdb._Database

    def all(self) -> list[lmdb._Database]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]


_AnyTxn = Union["lmdb.Transaction[bytes]", "lmdb.Transaction[memoryview]"]
"""A transaction begun with or without ``buffers=True``."""


def _digest_clash() -> StorageError:
    return StorageError("two long keys share a SHA-256 digest and prefix; refusing to guess")


def _translate(exc: lmdb.Error, doing: str) -> StorageError:
    if isinstance(exc, lmdb.MapFullError):
        return _MapFull(f"LMDB map full while {doing}: {exc}")
    return StorageError(f"LMDB error while {doing}: {exc}")


class _LmdbView:
    """One LMDB transaction seen as a Txn (writable) or a KeyValueView (read-only)."""

    def __init__(self, txn: _AnyTxn, dbs: _Dbs, *, writable: bool, mapped: bool = False) -> None:
        """``mapped``: the read-only ``txn`` was begun with ``buffers=True``, so what it
        reads is a memoryview into the map, valid only while it lives. The key-value
        methods copy what they return out of it, ``header`` and ``get`` no more than
        they need; the rest want a copying transaction (``_live_copying``). Write
        transactions never are mapped (their buffers die at the next write)."""
        self._txn: _AnyTxn | None = txn
        self._dbs = dbs
        self._writable = writable
        self._mapped = mapped
        self.map_full = False

    def _finish(self) -> None:
        """Let go of the transaction: a view something still holds afterwards (a cycle
        only the collector frees) must not keep it, and with it a reader slot, alive."""
        self._txn = None

    def _live(self) -> _AnyTxn:
        if self._txn is None:
            raise StorageError("this transaction has finished; use the txn only inside fn")
        return self._txn

    def _live_writable(self) -> lmdb.Transaction[bytes]:
        if not self._writable:
            raise StorageError("read() gives a read-only view; change state with write()")
        return self._live_copying()

    def _live_copying(self) -> lmdb.Transaction[bytes]:
        txn = self._live()
        if self._mapped:
            raise StorageError("this view reads in place; it only answers key-value reads")
        return cast("lmdb.Transaction[bytes]", txn)

    def _fail(self, exc: lmdb.Error, doing: str) -> StorageError:
        error = _translate(exc, doing)
        if isinstance(error, _MapFull):
            self.map_full = True
        return error

    # --- key-value state -----------------------------------------------------

    def get(self, key: bytes) -> Value | None:
        # ``check_key``, ``_live`` and ``kv_key`` inlined for the common case: every
        # read a command makes comes here.
        if type(key) is not bytes:
            check_key(key)
        txn = self._txn
        if txn is None:
            txn = self._live()
        stored = pack_kv_hash(zlib.crc32(key)) + key if len(key) <= SHORT_KEY_MAX else kv_key(key)
        try:
            record = txn.get(stored, db=self._dbs.kv)
        except lmdb.Error as exc:
            raise self._fail(exc, "reading a key") from exc
        if record is None:
            return None
        if type(record) is memoryview:
            value, full_key = decode_mapped(record)
        else:
            value, full_key = decode_value(record)
        if full_key is not None and full_key != key:
            raise _digest_clash()
        return value

    def header(self, key: bytes) -> ValueHeader | None:
        found = self._record_header(key)
        return None if found is None else found[0]

    def read_in_place(self, key: bytes, reader: Reader[T]) -> T | None:
        found = self._record_header(key)
        if found is None:
            return None
        header, record = found
        # A view even of a copied record: the payload is not copied again.
        return reader(header, memoryview(record)[len(record) - header.size :])

    def _record_header(self, key: bytes) -> tuple[ValueHeader, bytes | memoryview] | None:
        """The record stored for ``key`` (in place in a mapped view) and its header."""
        # Inlined like ``get``'s: every expiry check of a command's keys comes here.
        if type(key) is not bytes:
            check_key(key)
        txn = self._txn
        if txn is None:
            txn = self._live()
        stored = pack_kv_hash(zlib.crc32(key)) + key if len(key) <= SHORT_KEY_MAX else kv_key(key)
        try:
            record = txn.get(stored, db=self._dbs.kv)
        except lmdb.Error as exc:
            raise self._fail(exc, "reading a key") from exc
        if record is None:
            return None
        header, full_key = decode_header(record)
        if full_key is not None and full_key != key:
            raise _digest_clash()
        return header, record

    def put(self, key: bytes, value: Value) -> None:
        check_key(key)
        check_value(value)
        txn = self._live_writable()
        stored = kv_key(key)
        record = encode_value(value, key if is_long_form(stored) else None)
        try:
            old = txn.replace(stored, record, db=self._dbs.kv)
            old_expire_ms = 0 if old is None else record_expire_ms(old)
            if old_expire_ms != value.expire_ms:
                if old_expire_ms:
                    txn.delete(expiry_key(old_expire_ms, stored), db=self._dbs.expires)
                if value.expire_ms:
                    txn.put(expiry_key(value.expire_ms, stored), b"", db=self._dbs.expires)
        except lmdb.Error as exc:
            raise self._fail(exc, "writing a key") from exc

    def delete(self, key: bytes) -> bool:
        check_key(key)
        txn = self._live_writable()
        stored = kv_key(key)
        try:
            old = txn.pop(stored, db=self._dbs.kv)
            if old is None:
                return False
            old_expire_ms = record_expire_ms(old)
            if old_expire_ms:
                txn.delete(expiry_key(old_expire_ms, stored), db=self._dbs.expires)
        except lmdb.Error as exc:
            raise self._fail(exc, "deleting a key") from exc
        return True

    def apply_writes(self, writes: Mapping[bytes, Value | None]) -> None:
        """A batch's net effect, with as little per-key work as the expiry index allows.

        Puts go to LMDB in key order: neighbouring keys share pages, which
        halves the B-tree work of a large batch of random keys. The expiry
        index needs each overwritten or deleted key's old expiry; when the
        index is empty no stored value has one, so the puts need no old
        value at all and go in one ``putmulti`` call. Keys are unique in
        ``writes``, so "old" always means "as of this call" and the index
        entries added here cannot be mistaken for old ones.
        """
        txn = self._live_writable()
        kv_db, expires_db = self._dbs.kv, self._dbs.expires
        puts: list[tuple[bytes, bytes]] = []
        new_expiries: dict[bytes, int] = {}
        deletes: list[bytes] = []
        # This runs for every key a flush writes: ``check_key``, ``kv_key``,
        # ``check_value`` and ``encode_value`` are inlined for short keys and plain
        # values, and called for anything else (so errors stay theirs).
        pack_hash, crc32, plain = pack_kv_hash, zlib.crc32, PLAIN_HEADERS
        for key, value in writes.items():
            if type(key) is not bytes:
                check_key(key)
            short = len(key) <= SHORT_KEY_MAX
            stored = pack_hash(crc32(key)) + key if short else kv_key(key)
            if value is None:
                deletes.append(stored)
                continue
            if not (
                type(value) is Value
                and type(value.type) is ValueType
                and type(value.expire_ms) is int
                and type(value.payload) is bytes
                and EXPIRE_MS_MIN <= value.expire_ms <= EXPIRE_MS_MAX
            ):
                check_value(value)
            expire_ms = value.expire_ms
            if expire_ms:
                new_expiries[stored] = expire_ms
                puts.append((stored, encode_value(value, None if short else key)))
            elif short:
                puts.append((stored, plain[value.type] + value.payload))
            else:
                puts.append((stored, encode_value(value, key)))
        puts.sort(key=_first)
        try:
            if txn.stat(expires_db)["entries"] == 0:
                if puts:
                    with txn.cursor(db=kv_db) as cursor:
                        cursor.putmulti(puts)
                for stored in deletes:
                    txn.delete(stored, db=kv_db)
                for stored, expire_ms in new_expiries.items():
                    txn.put(expiry_key(expire_ms, stored), b"", db=expires_db)
                return
            for stored, record in puts:
                old = txn.replace(stored, record, db=kv_db)
                old_expire_ms = 0 if old is None else record_expire_ms(old)
                expire_ms = new_expiries.get(stored, 0)
                if old_expire_ms != expire_ms:
                    if old_expire_ms:
                        txn.delete(expiry_key(old_expire_ms, stored), db=expires_db)
                    if expire_ms:
                        txn.put(expiry_key(expire_ms, stored), b"", db=expires_db)
            for stored in deletes:
                old = txn.pop(stored, db=kv_db)
                old_expire_ms = 0 if old is None else record_expire_ms(old)
                if old_expire_ms:
                    txn.delete(expiry_key(old_expire_ms, stored), db=expires_db)
        except lmdb.Error as exc:
            raise self._fail(exc, "writing a batch of keys") from exc

    def count(self) -> int:
        try:
            return self._live().stat(self._dbs.kv)["entries"]
        except lmdb.Error as exc:
            raise self._fail(exc, "counting keys") from exc

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        self._live()
        return keyspace.scan(self._groups_from, cursor, count)

    def iter_keys(self) -> Iterator[bytes]:
        self._live()
        return keyspace.iter_keys(self.scan)

    def random_key(self, seed: int) -> bytes | None:
        self._live()
        return keyspace.random_key(self._groups_from, seed)

    def expiry_floor(self) -> int:
        txn = self._live()
        try:
            with txn.cursor(db=self._dbs.expires) as cursor:
                return expiry_of(bytes(cursor.key())) if cursor.first() else NO_EXPIRY
        except lmdb.Error as exc:
            raise self._fail(exc, "reading the expiry index") from exc

    def expiring(self, before_ms: int, limit: int) -> list[bytes]:
        keyspace.check_limit(limit)
        txn = self._live()
        if limit == 0:
            return []
        keys: list[bytes] = []
        group: list[bytes] = []
        group_id = b""
        try:
            with txn.cursor(db=self._dbs.expires) as cursor:
                for mapped_key in cursor.iternext(values=False):
                    index_key = bytes(mapped_key)
                    if expiry_of(index_key) > before_ms:
                        break
                    if expiry_group(index_key) != group_id:
                        keys.extend(sorted(group))
                        group, group_id = [], expiry_group(index_key)
                        if len(keys) >= limit:
                            break
                    group.append(self._full_key(txn, kv_key_of_expiry(index_key)))
        except lmdb.Error as exc:
            raise self._fail(exc, "reading the expiry index") from exc
        keys.extend(sorted(group))
        return keys[:limit]

    def clear(self) -> None:
        txn = self._live_writable()
        try:
            txn.drop(self._dbs.kv, delete=False)
            txn.drop(self._dbs.expires, delete=False)
        except lmdb.Error as exc:
            raise self._fail(exc, "clearing the keyspace") from exc

    def functions(self) -> bytes:
        # ``_live``, not ``_live_copying``: a mapped read view answers too (SYNC and
        # ``export`` write the libraries from one), copying the blob out of the map.
        txn = self._live()
        try:
            blob = txn.get(_FUNCTIONS_KEY, db=self._dbs.meta)
        except lmdb.Error as exc:
            raise self._fail(exc, "reading the function libraries") from exc
        return b"" if blob is None else bytes(blob)

    def set_functions(self, blob: bytes) -> None:
        if type(blob) is not bytes:
            raise TypeError(f"the function registry is bytes, got {type(blob).__name__}")
        txn = self._live_writable()
        try:
            if blob:
                txn.put(_FUNCTIONS_KEY, blob, db=self._dbs.meta)
            else:  # none: a store without libraries holds no trace of them
                txn.delete(_FUNCTIONS_KEY, db=self._dbs.meta)
        except lmdb.Error as exc:
            raise self._fail(exc, "writing the function libraries") from exc

    def _full_key(self, txn: _AnyTxn, stored: bytes) -> bytes:
        if not is_long_form(stored):
            return short_form_key(stored)
        record = txn.get(stored, db=self._dbs.kv)
        if record is None:
            raise StorageError("the expiry index names a key that is not stored")
        return bytes(record_full_key(record))

    def _groups_from(self, position: int) -> Iterator[keyspace.Group]:
        """Hash groups from ``position`` on; each sorted by full key (long keys may not be)."""
        txn = self._live()
        try:
            with txn.cursor(db=self._dbs.kv) as cursor:
                if not cursor.set_range(position_prefix(position)):
                    return
                current = b""
                keys: list[bytes] = []
                while True:
                    stored = bytes(cursor.key())
                    prefix = hash_prefix(stored)
                    if prefix != current:
                        if keys:
                            yield int.from_bytes(current, "big"), sorted(keys)
                        current, keys = prefix, []
                    if is_long_form(stored):
                        keys.append(bytes(record_full_key(cursor.value())))
                    else:
                        keys.append(short_form_key(stored))
                    if not cursor.next():
                        break
                yield int.from_bytes(current, "big"), sorted(keys)
        except lmdb.Error as exc:
            raise self._fail(exc, "walking the keyspace") from exc

    # --- consensus records ---------------------------------------------------

    def put_instances(self, records: Iterable[InstanceRecord]) -> None:
        txn = self._live_writable()
        for record in records:
            if not isinstance(record, InstanceRecord):
                raise TypeError(f"expected an InstanceRecord, got {type(record).__name__}")
            stored, data = instance_key(record.id), encode_record(record)
            try:
                txn.put(stored, data, db=self._dbs.instances)
            except lmdb.Error as exc:
                raise self._fail(exc, f"storing instance {record.id}") from exc

    def mark_executed(self, ids: Iterable[InstanceId]) -> None:
        txn = self._live_writable()
        for inst in ids:
            stored = instance_key(inst)
            try:
                txn.put(stored, b"", db=self._dbs.executed)
            except lmdb.Error as exc:
                raise self._fail(exc, f"marking instance {inst} executed") from exc

    def delete_instances(self, ids: Iterable[InstanceId]) -> None:
        txn = self._live_writable()
        for inst in ids:
            stored = instance_key(inst)
            try:
                txn.delete(stored, db=self._dbs.instances)
                txn.delete(stored, db=self._dbs.executed)
            except lmdb.Error as exc:
                raise self._fail(exc, f"deleting instance {inst}") from exc

    def set_meta(self, name: str, value: bytes) -> None:
        check_meta_name(name)
        self._put_meta(name, value)

    def get_meta(self, name: str) -> bytes | None:
        check_meta_name(name, internal=True)
        try:
            return self._live_copying().get(name.encode(), db=self._dbs.meta)
        except lmdb.Error as exc:
            raise self._fail(exc, "reading metadata") from exc

    def _put_meta(self, name: str, value: bytes) -> None:
        if type(value) is not bytes:
            raise TypeError(f"metadata values are bytes, got {type(value).__name__}")
        txn = self._live_writable()
        try:
            txn.put(name.encode(), value, db=self._dbs.meta)
        except lmdb.Error as exc:
            raise self._fail(exc, "writing metadata") from exc


class LmdbStore:
    """The production Store: a flocked data dir holding one LMDB environment.

    Open with ``LmdbStore.open(path, replica_id=..., cluster_id=...)``, or
    ``LmdbStore.open_readonly(path)`` for inspection. ``write`` and ``read``
    may be called from any thread (one writer at a time); never hold the
    transaction passed to ``fn`` beyond ``fn``.
    """

    def __init__(
        self,
        *,
        path: Path,
        env: lmdb.Environment,
        dbs: _Dbs,
        lock: DataDirLock | None,
        map_size_max: int,
        replica_id: int | None,
        cluster_id: bytes | None,
    ) -> None:
        self._path = path
        self._env = env
        self._dbs = dbs
        self._lock = lock
        self._map_size_max = map_size_max
        self._replica_id = replica_id
        self._cluster_id = cluster_id
        self._gate = ResizeGate()
        self._write_lock = threading.Lock()
        self._writer: int | None = None
        self._closed = False
        self._failure: str | None = None

    # --- opening -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        replica_id: int | None = None,
        cluster_id: bytes | None = None,
        map_size: int = MAP_SIZE_DEFAULT,
        map_size_max: int = MAP_SIZE_MAX_DEFAULT,
    ) -> LmdbStore:
        """Lock and open (creating if needed) the data dir at ``path`` for reading and writing.

        ``replica_id``/``cluster_id`` are recorded on first use and checked on
        every later open (``None`` skips the check). Raises ``DataDirLocked``
        if another process (or another open store) holds the dir,
        ``SchemaMismatch`` for a foreign schema or identity (``ClusterMismatch``
        for another cluster's), ``DataDirRefused`` for a path that cannot be a data
        dir and for one whose ``data.mdb`` is empty, or missing beside the files a
        store leaves (an empty or missing directory is a new store), ``StorageError``
        for anything else that is not a healthy epaxosdb data dir.
        """
        if replica_id is not None and (type(replica_id) is not int or replica_id < 0):
            raise ValueError(f"replica_id must be a non-negative int, got {replica_id!r}")
        if cluster_id is not None and type(cluster_id) is not bytes:
            raise TypeError(f"cluster_id must be bytes, got {type(cluster_id).__name__}")
        map_size = max(map_size, MAP_SIZE_MIN)
        map_size_max = max(map_size_max, map_size)
        if not os.fspath(path):
            raise DataDirRefused("the data dir path is empty (Path('') would be '.')")
        data_dir = Path(path)
        _make_data_dir(data_dir)
        lock_existed = (data_dir / LOCK_FILE_NAME).exists()
        lock = DataDirLock.acquire(data_dir)
        try:
            existed = _check_data_file(data_dir)
            if not existed:
                _refuse_remains(data_dir, lock_existed)
            env = _open_env(data_dir, map_size=map_size if not existed else 0, readonly=False)
            try:
                _check_length(env, data_dir)
                if env.info()["map_size"] < map_size:
                    env.set_mapsize(map_size)
                env.reader_check()
                dbs, replica_id, cluster_id = _initialise(env, data_dir, replica_id, cluster_id)
            except lmdb.Error as exc:
                env.close()
                raise StorageError(f"cannot open LMDB in {data_dir}: {exc}") from exc
            except BaseException:
                env.close()
                raise
        except BaseException:
            lock.release()
            raise
        return cls(
            path=data_dir,
            env=env,
            dbs=dbs,
            lock=lock,
            map_size_max=map_size_max,
            replica_id=replica_id,
            cluster_id=cluster_id,
        )

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> LmdbStore:
        """Open an existing data dir for reading only, without taking its lock.

        LMDB lets any number of processes read while one writes, each seeing
        committed snapshots, so ``epaxosdb inspect`` can look at a running
        replica. Not taking the flock is what makes that possible, and is
        safe because this handle can never write. ``write`` raises.
        """
        data_dir = Path(path)
        if not (data_dir / DATA_FILE_NAME).is_file():
            raise StorageError(f"no epaxosdb data in {data_dir}: {DATA_FILE_NAME} is missing")
        _check_data_file(data_dir)
        env = _open_env(data_dir, map_size=0, readonly=True)
        try:
            _check_length(env, data_dir)
            handles = []
            for name in DB_NAMES:
                try:
                    handles.append(env.open_db(name, create=False))
                except lmdb.NotFoundError:
                    raise StorageError(
                        f"{data_dir} is not an epaxosdb data dir (no {name.decode()!r} database)"
                    ) from None
            dbs = _Dbs(*handles)
            with env.begin() as txn:
                identity = _read_identity(_LmdbView(txn, dbs, writable=False), data_dir)
        except lmdb.Error as exc:
            env.close()
            raise StorageError(f"cannot read LMDB in {data_dir}: {exc}") from exc
        except BaseException:
            env.close()
            raise
        schema_version, replica_id, cluster_id = identity
        if schema_version != SCHEMA_VERSION and schema_version not in UPGRADABLE_SCHEMAS:
            env.close()
            raise _schema_mismatch(data_dir, schema_version)
        return cls(
            path=data_dir,
            env=env,
            dbs=dbs,
            lock=None,
            map_size_max=0,
            replica_id=replica_id,
            cluster_id=cluster_id,
        )

    # --- identity ------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def replica_id(self) -> int | None:
        return self._replica_id

    @property
    def cluster_id(self) -> bytes | None:
        return self._cluster_id

    @property
    def readonly(self) -> bool:
        return self._lock is None

    @property
    def map_size(self) -> int:
        self._check_usable()
        return self._map_size_now()

    def _map_size_now(self) -> int:
        try:
            return self._env.info()["map_size"]
        except lmdb.Error as exc:
            raise _translate(exc, "reading the map size") from exc

    # --- transactions --------------------------------------------------------

    def write(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn`` in one write transaction, fsync, return its result.

        If ``fn`` raises, the transaction is aborted and the exception
        propagates. If the map fills, the map grows and ``fn`` runs again.
        """
        self._check_usable()
        if self.readonly:
            raise StorageError(f"{self._path} was opened read-only")
        if self._failure is not None:
            raise StorageError(f"the store stopped after an earlier failure: {self._failure}")
        me = threading.get_ident()
        if self._writer == me:
            raise StorageError("write() called inside another write(); use the txn you were given")
        if not self._write_lock.acquire(timeout=WRITER_WAIT_S_MAX):
            raise StorageError(f"another write() held the store for {WRITER_WAIT_S_MAX} s")
        self._writer = me
        try:
            # Each retry follows a growth; the map doubles up to map_size_max, so at most
            # about 64 rounds can happen before _grow refuses.
            for _ in range(64):
                done, result = self._attempt(fn)
                if done:
                    return cast(T, result)
                self._grow()
            raise StorageError("the LMDB map kept filling after 64 growths")
        finally:
            self._writer = None
            self._write_lock.release()

    def _attempt(self, fn: Callable[[Txn], T]) -> tuple[bool, T | None]:
        """One try: ``(True, result)`` once committed, ``(False, None)`` if the map filled."""
        try:
            txn = self._env.begin(write=True)
        except lmdb.Error as exc:
            raise _translate(exc, "beginning a write transaction") from exc
        view = _LmdbView(txn, self._dbs, writable=True)
        try:
            result = fn(view)
        except BaseException:
            view._finish()
            txn.abort()
            if view.map_full:
                return False, None
            raise
        view._finish()
        try:
            txn.commit()
        except lmdb.MapFullError:
            return False, None
        except lmdb.Error as exc:
            self._failure = f"commit failed: {exc}"
            raise StorageError(f"LMDB commit failed in {self._path}: {exc}") from exc
        return True, result

    def _grow(self) -> None:
        current = self._map_size_now()
        if current >= self._map_size_max:
            raise StorageError(
                f"the LMDB map in {self._path} is full at {current} bytes, "
                f"and map_size_max is {self._map_size_max}"
            )
        target = min(current * 2, self._map_size_max)

        def resize() -> None:
            try:
                self._env.set_mapsize(target)
            except lmdb.Error as exc:
                raise _translate(exc, f"growing the map to {target} bytes") from exc

        self._gate.exclusive(resize)

    def read(self, fn: Callable[[KeyValueView], T]) -> T:
        """Run ``fn`` against a read-only snapshot of the committed key-value state.

        Its transaction reads in place (``buffers=True``): a value is copied out of
        the map once, and a header without its payload."""
        return self._reading(lambda view: fn(view), mapped=True)

    def _reading(self, fn: Callable[[_LmdbView], T], *, mapped: bool = False) -> T:
        self._check_usable()
        if self._writer == threading.get_ident():
            # It would see the state before this write, unlike the txn fn was given.
            raise StorageError("read from the store inside write(); use the txn you were given")
        with self._gate.reading():
            try:
                txn: _AnyTxn = self._env.begin(buffers=True) if mapped else self._env.begin()
            except lmdb.Error as exc:
                raise _translate(exc, "beginning a read transaction") from exc
            view = _LmdbView(txn, self._dbs, writable=False, mapped=mapped)
            try:
                return fn(view)
            finally:
                view._finish()
                txn.abort()

    def copy_to(self, directory: Path) -> int:
        """Write a consistent, compacted copy of the environment into ``directory``.

        LMDB copies from one read transaction, so the copy is one committed state
        while writers go on (a joining peer's snapshot, ``runtime.snapshots``).
        ``directory`` must not hold a data file yet. Returns the copy's size in
        bytes. Blocking: call it from a worker thread."""
        self._check_usable()
        directory.mkdir(parents=True, exist_ok=True)
        with self._gate.reading():
            try:
                self._env.copy(str(directory), compact=True)
            except lmdb.Error as exc:
                raise _translate(exc, "copying the store") from exc
        return (directory / DATA_FILE_NAME).stat().st_size

    def load(self) -> Recovered:
        """Every stored instance in id order (EXECUTED where marked) and the metadata."""
        return self._reading(self._load)

    def _load(self, view: _LmdbView) -> Recovered:
        txn, dbs = view._live_copying(), self._dbs
        try:
            with txn.cursor(db=dbs.executed) as cursor:
                executed = set(cursor.iternext(values=False))
            records = []
            with txn.cursor(db=dbs.instances) as cursor:
                for stored, data in cursor:
                    record = _decode_instance(stored, data)
                    if stored in executed and record.status != Status.EXECUTED:
                        record = dataclasses.replace(record, status=Status.EXECUTED)
                    records.append(record)
            meta = {}
            with txn.cursor(db=dbs.meta) as cursor:
                for raw_name, value in cursor:
                    name = _meta_name(raw_name)
                    if not name.startswith(RESERVED_META_PREFIX):
                        meta[name] = value
        except lmdb.Error as exc:
            raise _translate(exc, "loading instances") from exc
        return Recovered(records=records, meta=meta)

    def get_meta(self, name: str) -> bytes | None:
        return self._reading(lambda view: view.get_meta(name))

    def key_counts(self, pending: Sequence[Mapping[bytes, Value | None]] = ()) -> tuple[int, int]:
        def counts(view: _LmdbView) -> tuple[int, int]:
            txn, dbs = view._live_copying(), self._dbs
            try:
                keys, expiring = txn.stat(dbs.kv)["entries"], txn.stat(dbs.expires)["entries"]
            except lmdb.Error as exc:
                raise _translate(exc, "counting keys") from exc
            return counts_with(view, keys, expiring, pending) if pending else (keys, expiring)

        return self._reading(counts)

    def kv_items(self) -> list[tuple[bytes, Value]]:
        """Every key and value in scan order: what checkers compare between replicas."""

        def items(view: _LmdbView) -> list[tuple[bytes, Value]]:
            out = []
            for _, keys in view._groups_from(0):
                for key in keys:
                    value = view.get(key)
                    if value is None:
                        raise StorageError(f"key {key[:40]!r} vanished inside one snapshot")
                    out.append((key, value))
            return out

        return self._reading(items)

    def stats(self) -> StoreStats:
        """Sizes and identity for ``epaxosdb inspect``; works on a read-only open."""
        return self._reading(self._stats)

    def reusable_bytes(self) -> int:
        """About how much of the data file holds no live page: room that LMDB fills again
        before the file grows (deleted keys, collected log entries). An estimate from page
        counts — pages freed since the oldest reader began are not reusable yet — for
        judging whether the disk is full (``runtime.diskspace``)."""

        def count(view: _LmdbView) -> int:
            txn = view._live_copying()
            try:
                env_stat = self._env.stat()
                stats = [env_stat, *(txn.stat(db) for db in self._dbs.all())]
                last_pgno = self._env.info()["last_pgno"]
            except lmdb.Error as exc:
                raise _translate(exc, "reading statistics") from exc
            live = sum(s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"] for s in stats)
            return max(last_pgno + 1 - 2 - live, 0) * env_stat["psize"]  # 2: the meta pages

        return self._reading(count)

    def _stats(self, view: _LmdbView) -> StoreStats:
        txn, dbs = view._live_copying(), self._dbs
        try:
            with txn.cursor(db=dbs.executed) as cursor:
                executed = set(cursor.iternext(values=False))
            by_status: dict[Status, int] = {}
            with txn.cursor(db=dbs.instances) as cursor:
                for stored, data in cursor:
                    status = _decode_instance(stored, data).status
                    if stored in executed:
                        status = Status.EXECUTED
                    by_status[status] = by_status.get(status, 0) + 1
            schema_version = _read_identity(view, self._path)[0]
            info, page_bytes = self._env.info(), self._env.stat()["psize"]
            return StoreStats(
                path=str(self._path),
                schema_version=schema_version,
                replica_id=self._replica_id,
                cluster_id=self._cluster_id,
                instances_by_status=dict(sorted(by_status.items())),
                key_count=txn.stat(dbs.kv)["entries"],
                expires_count=txn.stat(dbs.expires)["entries"],
                map_size_bytes=info["map_size"],
                used_bytes=(info["last_pgno"] + 1) * page_bytes,
            )
        except lmdb.Error as exc:
            raise _translate(exc, "reading statistics") from exc

    # --- closing -------------------------------------------------------------

    def close(self) -> None:
        """Close LMDB and release the data dir lock. Idempotent.

        Waits (bounded) for a running ``write`` and open ``read``s to finish:
        closing the environment under them would free memory they use.
        """
        if self._closed:
            return
        if self._writer == threading.get_ident():
            raise StorageError("close() called inside write()")
        if not self._write_lock.acquire(timeout=WRITER_WAIT_S_MAX):
            raise StorageError(f"a write() held the store for {WRITER_WAIT_S_MAX} s; not closing")
        try:
            if self._closed:
                return
            self._gate.exclusive(self._close_env)
            self._closed = True
            if self._lock is not None:
                self._lock.release()
        finally:
            self._write_lock.release()

    def _close_env(self) -> None:
        try:
            self._env.close()
        except lmdb.Error as exc:
            raise _translate(exc, "closing the environment") from exc

    def __enter__(self) -> LmdbStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_usable(self) -> None:
        if self._closed:
            raise StorageError(f"the store at {self._path} is closed")


# --- opening helpers -----------------------------------------------------------


def _check_data_file(data_dir: Path) -> bool:
    """Whether ``data.mdb`` already exists; refuse an empty one.

    LMDB would treat a zero-length file as a new environment and we would
    then write a fresh identity over a data dir whose contents were lost.
    A replica that forgot its votes must not rejoin under its old id.
    """
    data_file = data_dir / DATA_FILE_NAME
    try:
        size = data_file.stat().st_size
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StorageError(f"cannot stat {data_file}: {exc}") from exc
    if not data_file.is_file():
        raise DataDirRefused(f"{data_file} is not a regular file")
    if size == 0:
        raise DataDirRefused(
            f"{data_file} is empty (truncated?); refusing to start a new replica over it. "
            "Remove the data dir to start from scratch under a new identity."
        )
    return True


LMDB_LOCK_FILE_NAME = "lock.mdb"


def _make_data_dir(data_dir: Path) -> None:
    """Create the data dir (and its parents) if needed; refuse a path that cannot be one."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirRefused(
            f"cannot create data dir {data_dir}: it exists and is not a directory"
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except NotADirectoryError:
        raise DataDirRefused(
            f"cannot create data dir {data_dir}: part of its path is a file, not a directory"
        ) from None
    except OSError as exc:
        raise DataDirRefused(f"cannot create data dir {data_dir}: {exc.strerror or exc}") from None


def _refuse_remains(data_dir: Path, lock_existed: bool) -> None:
    """Refuse a data dir whose ``data.mdb`` is gone but whose companions are still there.

    LMDB would create an empty environment, and the replica would start as new: with
    peers it rebuilds, alone it has silently lost everything. Losing the data file is
    an accident (a bad clean-up, a partial restore) until the operator says otherwise,
    by emptying the directory — what the README's replacement procedure starts from.
    """
    found = [LOCK_FILE_NAME] if lock_existed else []
    if (data_dir / LMDB_LOCK_FILE_NAME).exists():
        found.append(LMDB_LOCK_FILE_NAME)
    if not found:
        return
    raise DataDirRefused(
        f"data dir {data_dir} has no {DATA_FILE_NAME}, but holds {' and '.join(found)} of a "
        f"store that ran there: its data file is missing (deleted or moved?); refusing to "
        f"start an empty replica over it. Put {DATA_FILE_NAME} back, or, to start this "
        "replica over deliberately (it rebuilds from its peers; a 1-replica cluster starts "
        "empty), empty the directory."
    )


_WALK_SCRIPT = """
import sys, lmdb
env = lmdb.open(sys.argv[1], readonly=True, lock=False, max_dbs=64, subdir=True)
with env.begin(buffers=True) as txn:
    names = [bytes(name) for name, _ in txn.cursor()]
    for name in names:
        db = env.open_db(name, txn=txn, create=False)
        for _, value in txn.cursor(db=db):
            bytes(value[-1:])
"""
"""Read every page a ``data.mdb`` references: each database's B-tree, through a cursor,
and the last byte of every value (a long value's overflow pages run to its end)."""

_WALK_TIMEOUT_S = 600.0


def _check_length(env: lmdb.Environment, data_dir: Path) -> None:
    """Refuse a ``data.mdb`` cut short (a full disk, a bad copy, a truncation): LMDB maps
    the file, and reading a page past its end kills the process with SIGBUS, without a
    word, wherever that read happens.

    A file shorter than its last commit's page count is not proof: LMDB counts pages a
    transaction allocated and freed again before committing, and never writes them, so
    a healthy file may end a few pages early. Only then (rarely, and so it may be slow)
    is every page the file references read, in a child process that SIGBUS can kill
    without taking this one with it.
    """
    data_file = data_dir / DATA_FILE_NAME
    needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    try:
        size = data_file.stat().st_size
    except OSError as exc:
        raise StorageError(f"cannot stat {data_file}: {exc}") from exc
    if size >= needed:
        return
    try:
        walk = subprocess.run(
            [sys.executable, "-c", _WALK_SCRIPT, str(data_dir)],
            capture_output=True,
            timeout=_WALK_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StorageError(f"cannot check {data_file}, which ends early: {exc}") from exc
    if walk.returncode == 0:
        return
    env.close()
    if walk.returncode == -signal.SIGBUS:
        raise StorageError(
            f"{data_file} is truncated: {size} bytes, but its last commit uses {needed} and "
            "pages it needs are missing; restore the file, or remove the data dir so that "
            "the replica rebuilds from its peers"
        )
    detail = walk.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise StorageError(f"{data_file} could not be read through: {detail[0]}")


def _open_env(data_dir: Path, *, map_size: int, readonly: bool) -> lmdb.Environment:
    try:
        return lmdb.open(
            str(data_dir),
            map_size=map_size,
            subdir=True,
            readonly=readonly,
            create=not readonly,
            sync=True,
            metasync=True,
            map_async=False,
            writemap=False,
            mode=0o644,
            max_dbs=MAX_DBS,
            max_spare_txns=0,
            lock=True,
        )
    except lmdb.Error as exc:
        raise StorageError(f"cannot open LMDB in {data_dir}: {exc}") from exc


def _initialise(
    env: lmdb.Environment, data_dir: Path, replica_id: int | None, cluster_id: bytes | None
) -> tuple[_Dbs, int | None, bytes | None]:
    """Create the databases and identity on first open; check them on every later one.

    Returns the databases and the stored identity. Runs in one write
    transaction, so a refused open changes nothing.
    """
    txn = env.begin(write=True)
    try:
        with txn.cursor() as cursor:
            foreign = [name for name in cursor.iternext(values=False) if name not in DB_NAMES]
        if foreign:
            raise StorageError(
                f"{data_dir} holds an LMDB environment that epaxosdb did not write "
                f"(unknown database {foreign[0][:40]!r})"
            )
        dbs = _Dbs(*(env.open_db(name, txn=txn, create=True) for name in DB_NAMES))
        view = _LmdbView(txn, dbs, writable=True)
        stored_schema, stored_replica, stored_cluster = _read_identity(view, data_dir)
        if stored_schema is None:
            if any(txn.stat(db)["entries"] for db in dbs.all()):
                raise StorageError(
                    f"{data_dir} holds epaxosdb databases without a schema version; "
                    "refusing to guess what wrote them"
                )
            view._put_meta(_META_SCHEMA, _U32.pack(SCHEMA_VERSION))
        elif stored_schema in UPGRADABLE_SCHEMAS:
            log.info(
                "upgrading data dir %s from schema version %d to %d",
                data_dir, stored_schema, SCHEMA_VERSION,
            )  # fmt: skip
            view._put_meta(_META_SCHEMA, _U32.pack(SCHEMA_VERSION))
        elif stored_schema != SCHEMA_VERSION:
            raise _schema_mismatch(data_dir, stored_schema)
        if replica_id is not None:
            if stored_replica is None:
                view._put_meta(_META_REPLICA, _U64.pack(replica_id))
                stored_replica = replica_id
            elif stored_replica != replica_id:
                raise SchemaMismatch(
                    f"data dir {data_dir} belongs to replica {stored_replica}, "
                    f"not replica {replica_id}"
                )
        if cluster_id is not None:
            if stored_cluster is None:
                view._put_meta(_META_CLUSTER, cluster_id)
                stored_cluster = cluster_id
            elif stored_cluster != cluster_id:
                raise ClusterMismatch(
                    f"data dir {data_dir} belongs to cluster {stored_cluster.hex()}, "
                    f"not cluster {cluster_id.hex()}"
                )
        view._finish()
        txn.commit()
    except BaseException:
        txn.abort()
        raise
    return dbs, stored_replica, stored_cluster


def _read_identity(view: _LmdbView, data_dir: Path) -> tuple[int | None, int | None, bytes | None]:
    raw_schema = view.get_meta(_META_SCHEMA)
    raw_replica = view.get_meta(_META_REPLICA)
    try:
        schema = None if raw_schema is None else _U32.unpack(raw_schema)[0]
        replica = None if raw_replica is None else _U64.unpack(raw_replica)[0]
    except struct.error:
        raise SchemaMismatch(
            f"data dir {data_dir} has an unreadable schema version or replica id"
        ) from None
    return schema, replica, view.get_meta(_META_CLUSTER)


def _schema_mismatch(data_dir: Path, stored: int | None) -> SchemaMismatch:
    return SchemaMismatch(
        f"data dir {data_dir} has schema version {stored}, this epaxosdb reads version "
        f"{SCHEMA_VERSION}" + "".join(f" (and {v}, upgraded)" for v in sorted(UPGRADABLE_SCHEMAS))
    )


def _decode_instance(stored: bytes, data: bytes) -> InstanceRecord:
    try:
        record = decode_record(data)
    except PeerProtocolError as exc:
        raise StorageError(f"instance record under key {stored.hex()} is corrupt: {exc}") from exc
    if len(stored) != 12 or instance_id_of(stored) != record.id:
        raise StorageError(f"instance record {record.id} is stored under key {stored.hex()}")
    return record


def _meta_name(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise StorageError(f"metadata name {raw[:40]!r} is not UTF-8") from None
