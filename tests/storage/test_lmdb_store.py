"""What only the LMDB store has to get right: the disk, the map, the lock, other processes."""

from __future__ import annotations

import errno
import os
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import storage.lmdb_store as lmdb_store_module
from protocol.messages import Ballot, Command, InstanceId, InstanceRecord, Status
from protocol.peer import encode_record
from storage.interface import (
    SCHEMA_VERSION,
    ClusterMismatch,
    DataDirLocked,
    DataDirRefused,
    SchemaMismatch,
    StorageError,
    Txn,
    Value,
    ValueType,
    key_hash,
)
from storage.keys import kv_key
from storage.lmdb_store import DATA_FILE_NAME, LmdbStore
from storage.values import encode_value

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT_S = 60.0


def blob(i: int, size: int) -> Value:
    return Value(ValueType.STRING, 0, (b"%08d" % i) * (size // 8))


def record(index: int, status: Status = Status.COMMITTED, marker: bytes = b"v") -> InstanceRecord:
    cmd = Command(origin=1, id=index, time_ms=1, ops=((b"SET", b"k", marker),))
    return InstanceRecord(
        InstanceId(1, index), status, (cmd,), 1, (index - 1,), Ballot(0, 0, 1), Ballot(0, 0, 1)
    )


def put(store: LmdbStore, key: bytes, value: Value) -> None:
    store.write(lambda txn: txn.put(key, value))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# --- map growth ------------------------------------------------------------------


def test_a_tiny_map_grows_to_hold_one_large_write(tmp_path: Path) -> None:
    calls = []

    def big(txn: Txn) -> int:
        calls.append(1)
        for i in range(200):
            txn.put(b"k%d" % i, blob(i, 20_000))
        txn.put_instances([record(0)])
        return txn.count()

    with LmdbStore.open(tmp_path, map_size=64 * 1024) as store:
        assert store.write(big) == 200
        assert len(calls) > 1, "the write should have filled the 64 KiB map at least once"
        assert store.map_size >= 4_000_000
    with LmdbStore.open(tmp_path, map_size=64 * 1024) as store:
        assert store.map_size >= 4_000_000, "a reopen keeps the grown map"
        items = store.kv_items()
        assert len(items) == 200
        assert dict(items)[b"k123"] == blob(123, 20_000)
        assert store.load().records == [record(0)]


def test_many_small_writes_grow_the_map_as_needed(tmp_path: Path) -> None:
    with LmdbStore.open(tmp_path, map_size=64 * 1024) as store:
        for i in range(300):
            put(store, b"k%d" % i, blob(i, 10_000))
        assert store.read(lambda view: view.count()) == 300
        assert store.read(lambda view: view.get(b"k299")) == blob(299, 10_000)


def test_a_map_at_its_maximum_refuses_the_write_and_keeps_what_was_committed(
    tmp_path: Path,
) -> None:
    with LmdbStore.open(tmp_path, map_size=64 * 1024, map_size_max=256 * 1024) as store:
        store.write(lambda txn: txn.put(b"small", blob(0, 100)))

        def too_big(txn: Txn) -> None:
            for i in range(100):
                txn.put(b"big%d" % i, blob(i, 20_000))

        with pytest.raises(StorageError, match="full"):
            store.write(too_big)
        assert store.kv_items() == [(b"small", blob(0, 100))]
        store.write(lambda txn: txn.put(b"still-works", blob(1, 100)))
        assert store.read(lambda view: view.count()) == 2


def test_readers_in_other_threads_keep_working_while_the_map_grows(tmp_path: Path) -> None:
    store = LmdbStore.open(tmp_path, map_size=64 * 1024)
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(1_000_000):
                if done.is_set():
                    return
                seen.append(store.read(lambda view: view.count()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(100):
            put(store, b"k%d" % i, blob(i, 20_000))
    finally:
        done.set()
        thread.join(timeout=SUBPROCESS_TIMEOUT_S)
        store.close()
    assert not thread.is_alive()
    assert errors == []
    assert seen == sorted(seen), "a reader saw the key count go backwards"


# --- the data-dir lock -------------------------------------------------------------

CHILD_OPENER = """
import sys
from storage.interface import DataDirLocked
from storage.lmdb_store import LmdbStore
try:
    LmdbStore.open(sys.argv[1])
except DataDirLocked as exc:
    print(f"refused: {exc}")
    sys.exit(3)
print("opened")
"""


def test_a_second_process_on_the_data_dir_is_refused_and_the_first_keeps_working(
    tmp_path: Path,
) -> None:
    with LmdbStore.open(tmp_path, replica_id=1) as store:
        store.write(lambda txn: txn.put(b"before", blob(0, 8)))
        child = subprocess.run(
            [sys.executable, "-c", CHILD_OPENER, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            cwd=REPO,
            env=child_env(),
        )
        assert child.returncode == 3, child.stderr
        assert f"another epaxosdb process is using data dir {tmp_path}" in child.stdout
        assert f"(pid {os.getpid()})" in child.stdout
        store.write(lambda txn: txn.put(b"after", blob(1, 8)))
        assert sorted(k for k, _ in store.kv_items()) == [b"after", b"before"]


def test_a_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with LmdbStore.open(tmp_path) as store:
        with pytest.raises(DataDirLocked, match=rf"data dir {tmp_path} \(pid {os.getpid()}\)"):
            LmdbStore.open(tmp_path)
        store.write(lambda txn: txn.put(b"k", blob(0, 8)))
    with LmdbStore.open(tmp_path) as again:
        assert again.read(lambda view: view.get(b"k")) == blob(0, 8)


def test_closing_releases_the_lock_and_closing_twice_is_harmless(tmp_path: Path) -> None:
    store = LmdbStore.open(tmp_path)
    store.close()
    store.close()
    LmdbStore.open(tmp_path).close()


# --- durability ------------------------------------------------------------------

CHILD_WRITER = """
import sys
from storage.interface import Value, ValueType
from storage.lmdb_store import LmdbStore
store = LmdbStore.open(sys.argv[1], replica_id=1)
for i in range(1_000_000):
    key = b"key-%d" % i
    store.write(lambda txn, key=key: txn.put(key, Value(ValueType.STRING, 0, key * 10)))
    sys.stdout.write(key.decode() + "\\n")
    sys.stdout.flush()
"""


def _read_until_lines(proc: subprocess.Popen[bytes], lines_min: int) -> bytes:
    """Bytes from the child's stdout until ``lines_min`` lines arrived (bounded by a deadline)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    received = b""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while received.count(b"\n") < lines_min:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or proc.poll() is not None:
                break
            if selector.select(timeout=remaining):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                received += chunk
    return received


def _read_rest(proc: subprocess.Popen[bytes]) -> bytes:
    assert proc.stdout is not None
    rest = b""
    for _ in range(100_000):  # the child is dead: EOF comes once the pipe is drained
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        rest += chunk
    return rest


def test_every_write_that_returned_survives_kill_9(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=child_env(),
    )
    try:
        received = _read_until_lines(proc, lines_min=300)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
        received += _read_rest(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=SUBPROCESS_TIMEOUT_S)
        stderr = proc.stderr.read() if proc.stderr else b""
    assert proc.returncode == -signal.SIGKILL, stderr.decode()
    printed = received.split(b"\n")[:-1]  # what follows the last newline may be a cut line
    assert len(printed) >= 300, stderr.decode()
    with LmdbStore.open(tmp_path, replica_id=1) as store:
        present = store.read(lambda view: {k for k in printed if view.get(k) is not None})
        missing = [k for k in printed if k not in present]
        assert missing == []
        assert store.read(lambda view: view.get(printed[-1])) == Value(
            ValueType.STRING, 0, printed[-1] * 10
        )


# --- bad data dirs -----------------------------------------------------------------


def test_a_data_file_that_is_not_lmdb_is_refused_with_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / DATA_FILE_NAME).write_bytes(b"this is not an LMDB file\n" * 4000)
    with pytest.raises(StorageError, match="not an LMDB file") as refused:
        LmdbStore.open(tmp_path)
    assert not isinstance(refused.value, DataDirLocked)
    with pytest.raises(StorageError, match="not an LMDB file"):
        LmdbStore.open_readonly(tmp_path)
    assert (tmp_path / DATA_FILE_NAME).read_bytes() == b"this is not an LMDB file\n" * 4000


def test_an_empty_data_file_is_refused_rather_than_started_over(tmp_path: Path) -> None:
    (tmp_path / DATA_FILE_NAME).write_bytes(b"")
    with pytest.raises(StorageError, match="empty"):
        LmdbStore.open(tmp_path, replica_id=1)


def test_a_truncated_data_file_is_refused_instead_of_crashing_the_process(
    tmp_path: Path,
) -> None:
    """Reading a mapped page past the file's end is SIGBUS: the process would die
    without a word (found by a QA run: ``serve`` and ``inspect --check`` exited -7)."""
    with LmdbStore.open(tmp_path) as store:
        store.write(lambda txn: [txn.put(b"k%d" % i, blob(i, 1000)) for i in range(2000)])
    data_file = tmp_path / DATA_FILE_NAME
    size = data_file.stat().st_size
    with data_file.open("r+b") as f:
        f.truncate(size // 2)
    for opening in (LmdbStore.open, LmdbStore.open_readonly):
        with pytest.raises(StorageError, match="truncated") as refused:
            opening(tmp_path)
        assert not isinstance(refused.value, DataDirLocked)


def test_a_data_file_with_corrupt_meta_pages_is_refused(tmp_path: Path) -> None:
    with LmdbStore.open(tmp_path) as store:
        store.write(lambda txn: txn.put(b"k", blob(0, 100)))
    data_file = tmp_path / DATA_FILE_NAME
    with data_file.open("r+b") as f:
        f.write(b"\xab" * 8192)
    with pytest.raises(StorageError):
        LmdbStore.open(tmp_path)
    with pytest.raises(StorageError) as again:  # refused again, not locked by the first try
        LmdbStore.open(tmp_path)
    assert not isinstance(again.value, DataDirLocked)


def test_a_corrupt_instance_record_is_reported_by_load(tmp_path: Path) -> None:
    marked = record(7, marker=b"RECORD-MARKER-0123456789")
    with LmdbStore.open(tmp_path) as store:
        store.write(lambda txn: txn.put_instances([marked, record(8)]))
    encoded = encode_record(marked)
    data_file = tmp_path / DATA_FILE_NAME
    image = data_file.read_bytes()
    assert encoded in image
    data_file.write_bytes(image.replace(encoded, b"\xc1" * len(encoded)))
    with LmdbStore.open(tmp_path) as store, pytest.raises(StorageError, match="corrupt"):
        store.load()


def test_a_corrupt_value_record_is_reported_on_read(tmp_path: Path) -> None:
    value = Value(ValueType.STRING, 0, b"VALUE-MARKER-0123456789")
    with LmdbStore.open(tmp_path) as store:
        store.write(lambda txn: txn.put(b"k", value))
    encoded = encode_value(value, None)
    data_file = tmp_path / DATA_FILE_NAME
    image = data_file.read_bytes()
    assert encoded in image
    data_file.write_bytes(image.replace(encoded, b"\x7f" + encoded[1:]))
    with LmdbStore.open(tmp_path) as store:
        for read in (
            lambda view: view.get(b"k"),
            lambda view: view.header(b"k"),
            lambda view: view.read_in_place(b"k", lambda header, payload: None),
        ):
            with pytest.raises(StorageError, match="type tag"):
                store.read(read)
            with pytest.raises(StorageError, match="type tag"):
                store.write(read)


def test_the_read_view_lends_payloads_in_place_and_copies_them_once_for_get(
    tmp_path: Path,
) -> None:
    """What makes reading a part of a 64 MB value cheap: ``read`` runs in a transaction
    begun with ``buffers=True``; ``get`` still returns bytes of its own."""
    with LmdbStore.open(tmp_path) as store:
        store.write(lambda txn: txn.put(b"k", Value(ValueType.LIST, 0, b"payload")))
        lent = store.read(lambda view: view.read_in_place(b"k", lambda h, p: type(p)))
        got = store.read(lambda view: view.get(b"k"))
    assert lent is memoryview
    assert got is not None and type(got.payload) is bytes and got.payload == b"payload"


def test_a_data_dir_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"x")
    with pytest.raises(StorageError, match="cannot create data dir"):
        LmdbStore.open(not_a_dir)


def test_a_data_dir_path_that_cannot_be_a_directory_is_refused_and_nothing_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` turns these into one line and exit 2 (a QA run saw tracebacks)."""
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    with pytest.raises(DataDirRefused, match="it exists and is not a directory"):
        LmdbStore.open(a_file)
    with pytest.raises(DataDirRefused, match="part of its path is a file, not a directory"):
        LmdbStore.open(a_file / "sub")
    assert a_file.read_bytes() == b"x"
    with pytest.raises(DataDirRefused, match="the data dir path is empty"):
        LmdbStore.open("")

    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(DataDirRefused, match=r"cannot create data dir .*: Read-only file system"):
        LmdbStore.open(tmp_path / "new")


def test_a_data_dir_whose_data_file_is_missing_beside_the_others_is_refused(
    tmp_path: Path,
) -> None:
    """LMDB would start an empty store over it: in a 1-replica cluster, every key lost
    without a word (a QA run). Starting over is the operator's call: emptying the dir."""
    with LmdbStore.open(tmp_path, replica_id=1) as store:
        put(store, b"k", blob(0, 8))
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != DATA_FILE_NAME)
    (tmp_path / DATA_FILE_NAME).unlink()
    with pytest.raises(DataDirRefused, match=r"has no data\.mdb.*empty the directory"):
        LmdbStore.open(tmp_path, replica_id=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == leftovers, "nothing was created"
    for name in leftovers:  # either companion alone gives it away
        only = tmp_path / f"only-{name}"
        only.mkdir()
        (only / name).write_bytes(b"")
        with pytest.raises(DataDirRefused, match=f"holds {name} of a store"):
            LmdbStore.open(only, replica_id=1)
        assert not (only / DATA_FILE_NAME).exists()


def test_an_emptied_or_new_data_dir_starts_a_new_store(tmp_path: Path) -> None:
    """What the README's replacement of a replica starts from must keep working."""
    emptied = tmp_path / "emptied"
    with LmdbStore.open(emptied, replica_id=1) as store:
        put(store, b"k", blob(0, 8))
    for leftover in emptied.iterdir():
        leftover.unlink()
    with LmdbStore.open(emptied, replica_id=1) as store:
        assert store.read(lambda view: view.count()) == 0
    with LmdbStore.open(tmp_path / "new" / "nested", replica_id=1) as store:
        assert store.replica_id == 1
    with LmdbStore.open(tmp_path / "new" / "nested", replica_id=1) as store:
        assert store.replica_id == 1, "and it opens again once it exists"


# --- schema and identity -----------------------------------------------------------


def test_a_data_dir_from_another_schema_version_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    LmdbStore.open(tmp_path).close()
    monkeypatch.setattr(lmdb_store_module, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(lmdb_store_module, "UPGRADABLE_SCHEMAS", frozenset())
    with pytest.raises(SchemaMismatch, match="schema version 2, this epaxosdb reads version 3"):
        LmdbStore.open(tmp_path)
    with pytest.raises(SchemaMismatch, match="schema version 2"):
        LmdbStore.open_readonly(tmp_path)
    monkeypatch.undo()
    LmdbStore.open(tmp_path).close()


def _schema_of(data_dir: Path) -> int | None:
    with LmdbStore.open_readonly(data_dir) as store:
        return store.stats().schema_version


def test_a_version_1_data_dir_is_read_as_it_is_and_upgraded_by_a_writable_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 2 only added the function libraries to ``meta``: a version-1 directory
    has none and keeps its keys. A writable open marks it version 2, so that a build
    that knows only version 1 refuses it instead of silently dropping the libraries."""
    monkeypatch.setattr(lmdb_store_module, "SCHEMA_VERSION", 1)
    with LmdbStore.open(tmp_path, replica_id=1) as store:
        store.write(lambda txn: txn.put(b"k", blob(0, 8)))
    monkeypatch.undo()
    assert _schema_of(tmp_path) == 1, "a read-only open reads it and changes nothing"
    with LmdbStore.open(tmp_path, replica_id=1) as store:
        assert store.read(lambda view: view.get(b"k")) == blob(0, 8)
        assert store.read(lambda view: view.functions()) == b""
    assert _schema_of(tmp_path) == 2
    monkeypatch.setattr(lmdb_store_module, "SCHEMA_VERSION", 1)
    monkeypatch.setattr(lmdb_store_module, "UPGRADABLE_SCHEMAS", frozenset())
    with pytest.raises(SchemaMismatch, match="schema version 2, this epaxosdb reads version 1"):
        LmdbStore.open(tmp_path, replica_id=1)


def test_a_data_dir_of_another_replica_is_refused(tmp_path: Path) -> None:
    with LmdbStore.open(tmp_path, replica_id=1) as store:
        store.write(lambda txn: txn.put(b"k", blob(0, 8)))
    with pytest.raises(SchemaMismatch, match="belongs to replica 1, not replica 2"):
        LmdbStore.open(tmp_path, replica_id=2)
    with LmdbStore.open(tmp_path, replica_id=1) as store:
        assert store.replica_id == 1
        assert store.read(lambda view: view.count()) == 1


def test_a_data_dir_of_another_cluster_is_refused(tmp_path: Path) -> None:
    LmdbStore.open(tmp_path, replica_id=1, cluster_id=b"\x01\x02").close()
    with pytest.raises(ClusterMismatch, match="belongs to cluster 0102, not cluster 0a0b"):
        LmdbStore.open(tmp_path, replica_id=1, cluster_id=b"\x0a\x0b")


def test_identity_is_recorded_once_and_reported_on_later_opens(tmp_path: Path) -> None:
    with LmdbStore.open(tmp_path) as store:
        assert (store.replica_id, store.cluster_id) == (None, None)
    LmdbStore.open(tmp_path, replica_id=4, cluster_id=b"c").close()
    with LmdbStore.open(tmp_path) as store:
        assert (store.replica_id, store.cluster_id) == (4, b"c")
        assert store.load().meta == {}, "identity lives under reserved names, not in meta"


# --- read-only opens and stats -------------------------------------------------------


CHILD_INSPECTOR = """
import sys
from storage.interface import StorageError
from storage.lmdb_store import LmdbStore
store = LmdbStore.open_readonly(sys.argv[1])
print(store.readonly, store.replica_id, store.cluster_id)
print(store.read(lambda view: (view.count(), view.get(b"k"))))
try:
    store.write(lambda txn: txn.put(b"x", txn.get(b"k")))
except StorageError as exc:
    print("write refused:", exc)
print(store.stats().key_count)
store.close()
"""


def test_a_read_only_open_in_another_process_reads_a_live_store_without_its_lock(
    tmp_path: Path,
) -> None:
    with LmdbStore.open(tmp_path, replica_id=3, cluster_id=b"cid") as writer:
        writer.write(lambda txn: txn.put(b"k", blob(0, 8)))
        child = subprocess.run(
            [sys.executable, "-c", CHILD_INSPECTOR, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            cwd=REPO,
            env=child_env(),
        )
        assert child.returncode == 0, child.stderr
        assert child.stdout.splitlines() == [
            "True 3 b'cid'",
            f"(1, {blob(0, 8)!r})",
            f"write refused: {tmp_path} was opened read-only",
            "1",
        ]
        writer.write(lambda txn: txn.put(b"after-inspection", blob(1, 8)))
        assert writer.read(lambda view: view.count()) == 2


def test_a_read_only_open_beside_a_writer_in_the_same_process_is_refused(tmp_path: Path) -> None:
    """py-lmdb refuses a second handle on one environment in one process (it could corrupt it)."""
    with LmdbStore.open(tmp_path) as writer:
        with pytest.raises(StorageError, match="already open in this process"):
            LmdbStore.open_readonly(tmp_path)
        writer.write(lambda txn: txn.put(b"k", blob(0, 8)))
        assert writer.stats().key_count == 1


def test_a_read_only_open_of_a_missing_data_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="missing"):
        LmdbStore.open_readonly(tmp_path / "nothing-here")
    assert not (tmp_path / "nothing-here").exists()


def test_stats_count_instances_per_status_keys_expiries_and_map_use(tmp_path: Path) -> None:
    with LmdbStore.open(tmp_path, replica_id=2, cluster_id=b"cl") as store:

        def fill(txn: Txn) -> None:
            txn.put_instances(
                [record(0), record(1), record(2, Status.PREACCEPTED), record(3, Status.ACCEPTED)]
            )
            txn.mark_executed([InstanceId(1, 0)])
            for i in range(10):
                txn.put(b"k%d" % i, Value(ValueType.STRING, i % 3, b"v"))

        store.write(fill)
    stats = LmdbStore.open_readonly(tmp_path).stats()
    assert stats.instances_by_status == {
        Status.PREACCEPTED: 1,
        Status.ACCEPTED: 1,
        Status.COMMITTED: 1,
        Status.EXECUTED: 1,
    }
    assert stats.instance_count == 4
    assert (stats.key_count, stats.expires_count) == (10, 6)
    assert (stats.schema_version, stats.replica_id, stats.cluster_id) == (SCHEMA_VERSION, 2, b"cl")
    assert 0 < stats.used_bytes <= stats.map_size_bytes


def test_kv_keys_and_value_records_keep_their_layout_on_the_fast_paths() -> None:
    """``kv_key`` calls CRC-32 itself and ``encode_value`` caches plain headers: same bytes."""
    for key in (b"", b"k", b"user:1000", b"x" * 400, b"y" * 401):
        assert kv_key(key)[:4] == key_hash(key).to_bytes(4, "big")
    for value_type in ValueType:
        for expire_ms in (0, 1, -1, (1 << 63) - 1):
            value = Value(value_type, expire_ms, b"payload")
            assert encode_value(value, None) == (
                bytes([int(value_type)]) + expire_ms.to_bytes(8, "big", signed=True) + b"payload"
            )


_META_PAGE_SIZE_OFFSET = 40
"""Where LMDB 0.9's meta page keeps the page size (the first database record's pad):
after the page header (16 bytes), magic and version (8), address and map size (16)."""
_META_LAST_PAGE = struct.Struct("<Q")
_META_LAST_PAGE_OFFSET = 136
"""And ``mm_last_pg``: after the two database records (96 bytes)."""


def test_a_data_file_ending_before_its_last_page_number_opens_when_nothing_is_missing(
    tmp_path: Path,
) -> None:
    """LMDB counts pages a transaction allocated and freed again without writing them,
    so a healthy file may end early (an integration run met one a page short after a
    clean stop, which the length check then refused). Shown by raising both meta pages'
    last page number by one: every page in use is still there."""
    with LmdbStore.open(tmp_path) as store:
        store.write(lambda txn: [txn.put(b"k%d" % i, blob(i, 1000)) for i in range(200)])
    data_file = tmp_path / DATA_FILE_NAME
    raw = bytearray(data_file.read_bytes())
    (page,) = struct.unpack_from("<I", raw, _META_PAGE_SIZE_OFFSET)
    for meta in (0, page):
        (last,) = _META_LAST_PAGE.unpack_from(raw, meta + _META_LAST_PAGE_OFFSET)
        assert (last + 1) * page <= len(raw)  # the field is where this test thinks it is
        _META_LAST_PAGE.pack_into(raw, meta + _META_LAST_PAGE_OFFSET, len(raw) // page)
    data_file.write_bytes(bytes(raw))
    for opening in (LmdbStore.open, LmdbStore.open_readonly):
        with opening(tmp_path) as store:
            assert store.read(lambda kv: kv.get(b"k199")) == blob(199, 1000)


def test_pages_freed_by_deletes_count_as_reusable_room_in_the_data_file(tmp_path: Path) -> None:
    """LMDB never shrinks its file but fills freed pages first: what a replica short of
    disk counts as free besides the filesystem's (``runtime.diskspace``)."""
    big = Value(ValueType.STRING, 0, b"x" * 100_000)
    with LmdbStore.open(tmp_path) as store:
        store.write(lambda txn: [txn.put(b"k%d" % i, big) for i in range(50)])
        before = store.reusable_bytes()
        store.write(lambda txn: [txn.delete(b"k%d" % i) for i in range(50)])
        store.write(lambda txn: txn.put(b"small", Value(ValueType.STRING, 0, b"s")))
        after = store.reusable_bytes()
    assert before < 1_000_000
    assert after > 4_000_000


def test_a_data_file_that_is_a_directory_is_refused_as_an_unusable_data_dir(
    tmp_path: Path,
) -> None:
    """One line and exit 2 at start (QA found exit 1): nothing was opened or changed."""
    (tmp_path / DATA_FILE_NAME).mkdir()
    with pytest.raises(DataDirRefused, match="is not a regular file"):
        LmdbStore.open(tmp_path)
