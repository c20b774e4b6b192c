"""``epaxosdb export`` and ``epaxosdb import``: a replica's data out to an RDB file, and an
RDB file into a running cluster (the format is ``rdb_file``'s).

Export reads a data directory in one read-only LMDB transaction, so it may run
beside the replica and gives the state of one moment: what that replica had
written into its data file then. A replica defers some effects (INFO
``deferred_writes``): send it SAVE first for everything it had acknowledged.
The file is written beside its final name and renamed once complete and
fsynced, so an interrupted export never leaves a truncated backup under it.

Import sends each key to a replica as RESTORE (with ABSTTL for an expiry),
pipelined, so every replica gets it through consensus like any write. Without
``--replace`` a key that exists is left as it is and reported (Redis's
BUSYKEY); a rerun with ``--replace`` is idempotent. Function libraries go the
same way, as FUNCTION LOAD (REPLACE with ``--replace``), in file order (before
the keys, where RDB files put them); a library that exists is likewise left as
it is and reported.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import hiredis

from epaxosdb import rdb_file
from epaxosdb.commands.functions import decode_registry
from protocol.resp import encode_request
from storage.interface import KeyValueView
from storage.lmdb_store import LmdbStore

BATCH = 256
"""RESTOREs sent before their replies are read."""
TIMEOUT_S = 60.0
FAILURES_SHOWN = 10


def export(data_dir: Path, out: Path, now_ms: int) -> tuple[int, int, int]:
    """Write ``data_dir``'s keys (those not expired at ``now_ms``) and function libraries
    to the RDB file ``out``; how many keys, how many of them with an expiry, and how many
    libraries."""
    store = LmdbStore.open_readonly(data_dir)
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as f:

            def write(kv: KeyValueView) -> tuple[int, int, int]:
                keys, expiring = rdb_file.write_view(kv, f, now_ms)
                return keys, expiring, len(decode_registry(kv.functions()))

            counts = store.read(write)
            f.flush()
            os.fsync(f.fileno())
        partial.replace(out)
    finally:
        store.close()
        partial.unlink(missing_ok=True)
    return counts


@dataclass
class ImportReport:
    restored: int = 0
    failed: list[tuple[bytes, str]] = field(default_factory=list)
    stopped: str | None = None
    """Why the file could not be read to its end (its keys before that were sent)."""
    libraries: int = 0
    """Function libraries loaded."""
    libraries_failed: list[tuple[bytes, str]] = field(default_factory=list)
    """Libraries refused: each one's first line (``#!lua name=...``), and why."""


class Pipe(Protocol):
    """What an import sends through: a batch of requests in, their replies out."""

    def call(self, requests: list[list[bytes]]) -> list[object]: ...


class _Pipe:
    """A RESP connection that sends a batch of requests and reads their replies."""

    def __init__(self, host: str, port: int) -> None:
        self._sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
        self._reader = hiredis.Reader()

    def call(self, requests: list[list[bytes]]) -> list[object]:
        self._sock.sendall(b"".join(encode_request(r) for r in requests))
        replies: list[object] = []
        while len(replies) < len(requests):
            data = self._sock.recv(65536)
            if not data:
                raise ConnectionError("the replica closed the connection")
            self._reader.feed(data)
            while (reply := self._reader.gets()) is not False:
                replies.append(reply)
        return replies

    def close(self) -> None:
        self._sock.close()


def import_file(
    source: Path, host: str, port: int, *, password: str | None, replace: bool, now_ms: int
) -> ImportReport:
    """RESTORE every key of the RDB file ``source`` through the replica at host:port."""
    with source.open("rb") as f, _mapped(f) as data:
        return _import(data, host, port, password=password, replace=replace, now_ms=now_ms)


@contextlib.contextmanager
def _mapped(f: BinaryIO) -> Iterator[bytes]:
    """The file's bytes, mapped rather than read: a dump of many gigabytes is paged in as
    the reader walks it (and out again under pressure) instead of being held in memory
    whole. ``rdb_file.read`` only indexes and slices, which a map does as bytes do."""
    if os.fstat(f.fileno()).st_size == 0:
        yield b""  # an empty file cannot be mapped; the reader says what is wrong with it
        return
    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        yield cast(bytes, mapped)


def _import(
    data: bytes, host: str, port: int, *, password: str | None, replace: bool, now_ms: int
) -> ImportReport:
    pipe = _Pipe(host, port)
    try:
        if password is not None:
            (reply,) = pipe.call([[b"AUTH", password.encode()]])
            if isinstance(reply, hiredis.ReplyError):
                raise ConnectionError(f"AUTH failed: {reply}")
        return send(data, pipe, replace=replace, now_ms=now_ms)
    finally:
        pipe.close()


def send(data: bytes, pipe: Pipe, *, replace: bool, now_ms: int) -> ImportReport:
    """Send every function library and key of the RDB file ``data`` through ``pipe``, in
    file order: keys in pipelined batches, each library on its own (they are few)."""
    report = ImportReport()
    batch: list[rdb_file.Entry] = []
    try:
        for item in rdb_file.read(data, now_ms):
            if isinstance(item, rdb_file.Library):
                if batch:
                    _restore(pipe, batch, replace, report)
                    batch = []
                _load(pipe, item, replace, report)
                continue
            batch.append(item)
            if len(batch) >= BATCH:
                _restore(pipe, batch, replace, report)
                batch = []
    except rdb_file.RdbError as exc:
        report.stopped = str(exc)
    if batch:
        _restore(pipe, batch, replace, report)
    return report


def _load(pipe: Pipe, library: rdb_file.Library, replace: bool, report: ImportReport) -> None:
    request = [b"FUNCTION", b"LOAD", *([b"REPLACE"] if replace else []), library.code]
    (reply,) = pipe.call([request])
    if isinstance(reply, hiredis.ReplyError):
        report.libraries_failed.append((library.code.split(b"\n", 1)[0], str(reply)))
    else:
        report.libraries += 1


def _restore(pipe: Pipe, batch: list[rdb_file.Entry], replace: bool, report: ImportReport) -> None:
    requests = []
    for entry in batch:
        request = [b"RESTORE", entry.key, b"%d" % entry.expire_ms, entry.payload]
        if entry.expire_ms:
            request.append(b"ABSTTL")
        if replace:
            request.append(b"REPLACE")
        requests.append(request)
    for entry, reply in zip(batch, pipe.call(requests), strict=True):
        if isinstance(reply, hiredis.ReplyError):
            report.failed.append((entry.key, str(reply)))
        else:
            report.restored += 1


def now_ms() -> int:
    return time.time_ns() // 1_000_000
