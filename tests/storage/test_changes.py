"""``storage.changes.ChangeRecorder``: a transaction seen through it, noting changed keys."""

from __future__ import annotations

from storage.changes import ChangeRecorder
from storage.interface import Txn, Value, ValueType
from tests.storage.conftest import Opened


def test_the_function_libraries_change_through_a_recorder_and_count_as_no_key(
    opened: Opened,
) -> None:
    def load(txn: Txn) -> tuple[bytes, dict[bytes, None], bool]:
        recorder = ChangeRecorder(txn)
        recorder.put(b"k", Value(ValueType.STRING, 0, b"v"))
        recorder.set_functions(b"libraries")
        return recorder.functions(), recorder.changed, recorder.cleared

    assert opened.store.write(load) == (b"libraries", {b"k": None}, False)
    assert opened.store.read(lambda view: view.functions()) == b"libraries"
