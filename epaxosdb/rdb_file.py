"""RDB files: a replica's data written as one, and one (ours or a Redis server's) read back.

Why: a backup that outlives the cluster, and a way in from Redis and out to it.
``epaxosdb export`` writes the key-value state of a replica's data directory (it
may be running: one LMDB read transaction, so the file is that state at one
moment) as a Redis 7.0 RDB file, which ``redis-server`` loads as its own.
``epaxosdb import`` reads an RDB file — one ``export`` wrote, or one Redis wrote
(``SAVE``, ``redis-cli --rdb``) — and sends every function library and key to a
running cluster (FUNCTION LOAD, RESTORE), so they go through consensus like any
write.

The format is Redis's (``rdb.c``, version 10): ``REDIS0010``, aux fields, per
function library ``FUNCTION2`` and its code (Redis 7.0's ``rdbSaveFunctions``),
``SELECTDB 0``, then per key an optional ``EXPIRETIME_MS`` and the object (its
type byte, the key, the value, as DUMP serializes values: ``commands.rdb``),
``EOF`` and the CRC64 of everything before it. Reading accepts versions up to
11 (Redis 7.2), gives the libraries and the keys in file order, skips what
holds neither (aux fields, sizes, LRU/LFU hints), refuses databases other than
0, functions in the format of Redis 7.0's release candidates, and module data
with the reason, and drops keys already expired, as Redis does when it loads a
file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from epaxosdb.commands import rdb
from epaxosdb.commands.functions import decode_registry
from storage.interface import KeyValueView, Value

VERSION = 10
READ_VERSION_MAX = 11
OP_FUNCTION = rdb.OP_FUNCTION
OP_FUNCTION_PRE_GA = rdb.OP_FUNCTION_PRE_GA
OP_MODULE_AUX = 0xF7
OP_IDLE = 0xF8
OP_FREQ = 0xF9
OP_AUX = 0xFA
OP_RESIZEDB = 0xFB
OP_EXPIRETIME_MS = 0xFC
OP_EXPIRETIME = 0xFD
OP_SELECTDB = 0xFE
OP_EOF = 0xFF


class RdbError(Exception):
    """The file is not an RDB file this can read, and why."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One key of an RDB file: its expiry (0: none) and its value as a DUMP payload."""

    key: bytes
    expire_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Library:
    """One function library of an RDB file: its code, as FUNCTION LOAD takes it (the
    ``#!lua name=...`` line first; the name is the code's to say, not the file's)."""

    code: bytes


class _Checksummed:
    """A binary file written through in chunks, with the CRC64 of what went in (a CRC of
    each small piece would cost more than the piece)."""

    CHUNK = 1 << 16

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._pending = bytearray()
        self.crc = 0

    def write(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        self.crc = rdb.crc64(memoryview(self._pending), self.crc)
        self._out.write(self._pending)
        self._pending.clear()


def write(
    values: Iterable[tuple[bytes, Value]],
    out: BinaryIO,
    now_ms: int,
    libraries: Iterable[bytes] = (),
) -> tuple[int, int]:
    """Write an RDB file of ``values`` (key, stored value) and the function
    ``libraries`` (each one's code) to ``out``, leaving out the keys expired at
    ``now_ms``. Returns how many keys went in, and how many of them with an expiry."""
    sink = _Checksummed(out)
    sink.write(b"REDIS%04d" % VERSION)
    for name, text in ((b"redis-ver", b"7.0.15"), (b"redis-bits", b"64"), (b"aof-base", b"0")):
        sink.write(bytes([OP_AUX]) + rdb.rdb_string(name) + rdb.rdb_string(text))
    for code in libraries:  # where Redis puts them: before any database, as it loads them
        sink.write(bytes([OP_FUNCTION]) + rdb.rdb_string(code))
    sink.write(bytes([OP_SELECTDB, 0]))
    keys = expiring = 0
    for key, value in values:
        if value.expire_ms:
            if value.expire_ms <= now_ms:
                continue
            sink.write(bytes([OP_EXPIRETIME_MS]) + value.expire_ms.to_bytes(8, "little"))
            expiring += 1
        body = rdb.rdb_object(value)
        sink.write(body[:1] + rdb.rdb_string(key) + body[1:])
        keys += 1
    sink.write(bytes([OP_EOF]))
    sink.flush()
    out.write(sink.crc.to_bytes(8, "little"))
    return keys, expiring


def write_view(
    kv: KeyValueView, out: BinaryIO, now_ms: int, *, keys: bool = True, functions: bool = True
) -> tuple[int, int]:
    """``write`` of every key and function library of ``kv`` (one read transaction of a
    store: ``export`` and SYNC), the libraries in name order; without the keys, or
    without the libraries, when asked (``redis-cli --functions-rdb`` wants only these)."""
    libraries = decode_registry(kv.functions()) if functions else {}

    def values() -> Iterator[tuple[bytes, Value]]:
        for key in kv.iter_keys() if keys else ():
            value = kv.get(key)
            if value is not None:
                yield key, value

    return write(values(), out, now_ms, [libraries[name] for name in sorted(libraries)])


def read(data: bytes, now_ms: int) -> Iterator[Entry | Library]:
    """The function libraries and keys of the RDB file ``data`` (whole), in file order,
    without the keys expired at ``now_ms``; ``RdbError`` for a file this cannot load,
    once what came before the trouble was given (a damaged end is found when it is
    reached)."""
    if data[:5] != b"REDIS" or not data[5:9].isdigit():
        raise RdbError("not an RDB file (it does not start with REDIS and a version)")
    version = int(data[5:9])
    if version > READ_VERSION_MAX:
        raise RdbError(f"RDB version {version} is newer than this reads ({READ_VERSION_MAX})")
    _check_sum(data, version)
    at = 9
    expire_ms = 0
    try:
        while True:
            if at >= len(data):
                raise RdbError("the file ends before its EOF marker")
            op = data[at]
            at += 1
            if op == OP_EOF:
                return
            if op == OP_AUX:
                _, at = rdb.read_string(data, at)
                _, at = rdb.read_string(data, at)
            elif op == OP_SELECTDB:
                db, at = rdb.read_length(data, at)
                if db != 0:
                    raise RdbError(f"the file holds database {db}: only database 0 exists here")
            elif op == OP_RESIZEDB:
                _, at = rdb.read_length(data, at)
                _, at = rdb.read_length(data, at)
            elif op == OP_EXPIRETIME_MS:
                expire_ms = int.from_bytes(data[at : at + 8], "little", signed=True)
                at += 8
            elif op == OP_EXPIRETIME:
                expire_ms = int.from_bytes(data[at : at + 4], "little", signed=True) * 1000
                at += 4
            elif op == OP_IDLE:
                _, at = rdb.read_length(data, at)
            elif op == OP_FREQ:
                at += 1
            elif op == OP_FUNCTION:
                code, at = rdb.read_string(data, at)
                yield Library(bytes(code))
            elif op == OP_FUNCTION_PRE_GA:
                raise RdbError(
                    "the file holds functions in the format of Redis 7.0's release "
                    "candidates, which Redis 7.0 itself no longer loads"
                )
            elif op == OP_MODULE_AUX:
                raise RdbError("the file holds module data: no modules here")
            else:
                key, start = rdb.read_string(data, at)
                at = rdb.value_end(data, op, start)
                if not (expire_ms and expire_ms <= now_ms):
                    yield Entry(key, expire_ms, rdb.frame(bytes([op]) + data[start:at]))
                expire_ms = 0
    except rdb.Corrupt as exc:
        raise RdbError(f"damaged at byte {at}: {exc}") from exc


def _check_sum(data: bytes, version: int) -> None:
    """The CRC64 after the EOF marker (version 5 on) must match, unless it is 0: saved
    with ``rdbchecksum no``, which Redis loads unchecked too."""
    if version < 5:
        return
    if len(data) < 9 + 1 + 8 or data[-9] != OP_EOF:
        raise RdbError("the file does not end with its EOF marker and checksum")
    expected = int.from_bytes(data[-8:], "little")
    if expected and rdb.crc64(memoryview(data)[:-8]) != expected:
        raise RdbError("the file's checksum does not match: it is damaged")
