"""``epaxosdb.backup``: what an import sends for an RDB file, seen through a fake pipe.

The import against a real cluster is ``tests/integration/test_rdb_files.py``; here the
requests themselves are checked, FUNCTION LOAD included, which needs no server.
"""

from __future__ import annotations

import io

import hiredis

from epaxosdb import backup, rdb_file
from storage.interface import Value, ValueType

NOW = 1_800_000_000_000
CODE = b"#!lua name=mylib\nredis.register_function('f', function(keys, args) return 1 end)"
OTHER = b"#!lua name=other\nredis.register_function('g', function(keys, args) return 2 end)"


class FakePipe:
    """Records every batch of requests and answers each as a server would: OK, the
    library's name for FUNCTION LOAD, or an error for the request holding ``refuse``."""

    def __init__(self, refuse: bytes | None = None) -> None:
        self.batches: list[list[list[bytes]]] = []
        self._refuse = refuse

    def call(self, requests: list[list[bytes]]) -> list[object]:
        self.batches.append(requests)
        return [self._answer(request) for request in requests]

    def _answer(self, request: list[bytes]) -> object:
        if self._refuse is not None and self._refuse in request:
            return hiredis.ReplyError("ERR Library 'other' already exists")
        return b"mylib" if request[0] == b"FUNCTION" else b"OK"


def _file(libraries: list[bytes], keys: int = 2) -> bytes:
    out = io.BytesIO()
    values = [(b"k%d" % n, Value(ValueType.STRING, 0, b"v")) for n in range(keys)]
    rdb_file.write(values, out, NOW, libraries)
    return out.getvalue()


def test_each_library_is_sent_as_function_load_before_the_keys() -> None:
    pipe = FakePipe()
    report = backup.send(_file([CODE, OTHER]), pipe, replace=False, now_ms=NOW)
    assert pipe.batches[:2] == [[[b"FUNCTION", b"LOAD", CODE]], [[b"FUNCTION", b"LOAD", OTHER]]]
    restores = [request[:2] for request in pipe.batches[2]]
    assert restores == [[b"RESTORE", b"k0"], [b"RESTORE", b"k1"]]
    assert len(pipe.batches) == 3
    assert (report.libraries, report.restored, report.libraries_failed) == (2, 2, [])


def test_with_replace_a_library_is_sent_as_function_load_replace() -> None:
    pipe = FakePipe()
    report = backup.send(_file([CODE]), pipe, replace=True, now_ms=NOW)
    assert pipe.batches[0] == [[b"FUNCTION", b"LOAD", b"REPLACE", CODE]]
    assert all(request[-1] == b"REPLACE" for request in pipe.batches[1])
    assert report.libraries == 1


def test_a_refused_library_is_reported_by_its_first_line_and_the_rest_go_on() -> None:
    pipe = FakePipe(refuse=OTHER)
    report = backup.send(_file([OTHER, CODE]), pipe, replace=False, now_ms=NOW)
    assert report.libraries_failed == [
        (b"#!lua name=other", "ERR Library 'other' already exists")
    ]
    assert (report.libraries, report.restored, report.failed) == (1, 2, [])


def test_a_file_without_libraries_sends_no_function_load() -> None:
    pipe = FakePipe()
    report = backup.send(_file([]), pipe, replace=False, now_ms=NOW)
    assert [request[0] for batch in pipe.batches for request in batch] == [b"RESTORE"] * 2
    assert (report.libraries, report.restored) == (0, 2)
