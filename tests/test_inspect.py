"""``epaxosdb inspect`` reports a data dir without changing it or taking its lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from epaxosdb.commands.functions import encode_registry
from epaxosdb.commands.hashes import encode_hash
from epaxosdb.commands.streams import Consumer, Group, Pending, Stream, encode_stream
from epaxosdb.commands.zsets import encode_zset
from epaxosdb.inspection import inspect
from protocol.messages import NOOP, Ballot, InstanceId, InstanceRecord, Status
from storage.interface import Value, ValueType
from storage.lmdb_store import LmdbStore
from tests.damage import damage_value_record


def make_data_dir(path: Path) -> None:
    store = LmdbStore.open(path, replica_id=2, cluster_id=b"\x01" * 16)

    def fill(txn: object) -> None:
        txn.put_instances(  # type: ignore[attr-defined]
            [
                InstanceRecord(InstanceId(2, i), Status.COMMITTED, NOOP, 0, (-1, -1, -1),
                               Ballot(0, 0, 2), Ballot(0, 0, 2))
                for i in range(3)
            ]
        )
        txn.mark_executed([InstanceId(2, 0)])  # type: ignore[attr-defined]
        txn.put(b"a", Value(ValueType.STRING, 0, b"1"))  # type: ignore[attr-defined]
        txn.put(b"b", Value(ValueType.STRING, 99, b"2"))  # type: ignore[attr-defined]
        txn.set_meta("incarnation", b"4")  # type: ignore[attr-defined]
        txn.set_meta("data_dir_id", b"\xff\x00\x10")  # type: ignore[attr-defined]

    store.write(fill)
    store.close()


def test_inspect_reports_identity_instances_and_keys(tmp_path: Path) -> None:
    make_data_dir(tmp_path)
    text, healthy = inspect(tmp_path, check=False)
    assert healthy
    assert "replica id:      2" in text
    assert "cluster id:      " + "01" * 16 in text
    assert "instances:       3 (committed 2, executed 1)" in text
    assert "keys:            2 (1 with an expiry)" in text
    assert "row 2:           3 instances, 0..2" in text
    assert "meta incarnation: 4" in text
    assert "meta data_dir_id: ff0010" in text  # binary ids print as hex


def test_inspect_works_while_a_replica_holds_the_data_dir(tmp_path: Path) -> None:
    make_data_dir(tmp_path)
    holder = LmdbStore.open(tmp_path, replica_id=2, cluster_id=b"\x01" * 16)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "epaxosdb", "inspect", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        holder.close()
    assert out.returncode == 0, out.stderr
    assert "instances:       3" in out.stdout


def test_inspect_of_a_missing_dir_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "inspect", "--data-dir", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_inspect_check_names_the_keys_whose_records_are_unreadable(tmp_path: Path) -> None:
    store = LmdbStore.open(tmp_path, replica_id=1, cluster_id=b"\x01" * 16)
    damaged = b"this-value-gets-damaged"
    store.write(lambda txn: txn.put(b"victim", Value(ValueType.STRING, 0, damaged)))
    store.write(lambda txn: txn.put(b"bystander", Value(ValueType.STRING, 0, b"fine")))
    store.close()
    healthy = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "inspect", "--data-dir", str(tmp_path), "--check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert healthy.returncode == 0, healthy.stderr
    assert "check:           2 keys read, 0 unreadable" in healthy.stdout

    damage_value_record(tmp_path, damaged)
    report, ok = inspect(tmp_path, check=True)
    assert not ok
    assert "check:           2 keys read, 1 unreadable" in report
    assert "unreadable key victim: corrupt value record: unknown type tag 127" in report
    done = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "inspect", "--data-dir", str(tmp_path), "--check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "unreadable key victim" in done.stdout, done


def test_inspect_check_names_a_collection_whose_payload_does_not_decode(tmp_path: Path) -> None:
    store = LmdbStore.open(tmp_path, replica_id=1, cluster_id=b"\x01" * 16)
    good = Value(ValueType.HASH, 0, encode_hash({b"f": b"v"}))
    store.write(lambda txn: txn.put(b"good", good))
    store.write(lambda txn: txn.put(b"goodz", Value(ValueType.ZSET, 0, encode_zset({b"m": 1.5}))))
    store.write(lambda txn: txn.put(b"bad", Value(ValueType.HASH, 0, b"\x93\xc4\x01f")))
    store.write(lambda txn: txn.put(b"badset", Value(ValueType.SET, 0, b"\x91\x01")))
    store.write(lambda txn: txn.put(b"badz", Value(ValueType.ZSET, 0, b"\x92\xc4\x01m\xc4\x011")))
    store.write(lambda txn: txn.put(b"badstream", Value(ValueType.STREAM, 0, b"\x93\x01")))
    grouped = Stream(
        {(1, 1): (b"f", b"v")}, (1, 1), (0, 0), 1,
        {b"g": Group((1, 1), 1, {(1, 1): Pending(b"c", 5, 2)}, {b"c": Consumer(5)})},
    )  # fmt: skip
    payload = encode_stream(grouped)
    store.write(lambda txn: txn.put(b"goodgroups", Value(ValueType.STREAM, 0, payload)))
    damaged_group = payload[:-3] + b"\xff\xff\xff"  # the pending entry names no consumer
    store.write(lambda txn: txn.put(b"badgroup", Value(ValueType.STREAM, 0, damaged_group)))
    store.close()
    report, ok = inspect(tmp_path, check=True)
    assert not ok
    assert "check:           8 keys read, 5 unreadable" in report
    assert "unreadable key badstream: " in report
    assert "unreadable key badgroup: a stored stream has a pending entry of no consumer" in report
    assert "unreadable key bad: a stored hash" in report
    assert "unreadable key badset: a stored set" in report
    assert "unreadable key badz: a stored sorted set has a score that is not 8 bytes" in report


def test_inspect_lists_function_libraries_and_check_names_one_that_does_not_load(
    tmp_path: Path,
) -> None:
    good = b"#!lua name=good\nredis.register_function('f', function() return 1 end)"
    broken = b"#!lua name=broken\nnot lua at all"
    store = LmdbStore.open(tmp_path, replica_id=1, cluster_id=b"\x01" * 16)
    store.write(lambda txn: txn.set_functions(encode_registry({b"good": good})))
    store.close()
    report, ok = inspect(tmp_path, check=True)
    assert ok and "functions:       1 libraries (good)" in report
    store = LmdbStore.open(tmp_path, replica_id=1, cluster_id=b"\x01" * 16)
    store.write(lambda txn: txn.set_functions(encode_registry({b"good": good, b"broken": broken})))
    store.close()
    report, ok = inspect(tmp_path, check=False)
    assert ok and "functions:       2 libraries (broken, good)" in report
    report, ok = inspect(tmp_path, check=True)
    assert not ok
    assert (
        "unloadable function library broken: ERR Error compiling function: user_function:2:"
        in report
    )
