"""The history recorder: invocations and outcomes become checkable operations."""

from __future__ import annotations

import pytest

from epaxosdb.sim.history import HistoryRecorder
from epaxosdb.sim.linearizability import UNKNOWN, Operation, Verdict
from protocol.replies import OK


def test_completed_operations_keep_their_interval_and_reply() -> None:
    history = HistoryRecorder()
    write = history.invoke(1, b"k", "SET", (b"v",), now=3)
    read = history.invoke(2, b"k", "GET", (), now=4)
    history.complete(write, OK, now=5)
    history.complete(read, b"v", now=9)
    assert history.operations() == [
        Operation(1, b"k", "SET", (b"v",), OK, 3, 5),
        Operation(2, b"k", "GET", (), b"v", 4, 9),
    ]
    assert history.pending == 0
    assert history.check().verdict is Verdict.LINEARIZABLE


def test_indeterminate_and_still_pending_operations_have_unknown_outcomes() -> None:
    history = HistoryRecorder()
    timed_out = history.invoke(1, b"k", "INCR", (), now=1)
    history.indeterminate(timed_out)
    history.invoke(2, b"k", "INCR", (), now=2)
    assert history.pending == 1
    assert [(op.result, op.ret) for op in history.operations()] == [(UNKNOWN, None)] * 2
    assert all(op.indeterminate for op in history.operations())


def test_a_late_reply_makes_an_indeterminate_operation_determinate_again() -> None:
    history = HistoryRecorder()
    token = history.invoke(1, b"k", "INCR", (), now=1)
    history.indeterminate(token)
    history.complete(token, 1, now=50)
    assert history.operations() == [Operation(1, b"k", "INCR", (), 1, 1, 50)]


def test_discarded_operations_leave_no_trace() -> None:
    history = HistoryRecorder()
    refused = history.invoke(1, b"k", "SET", (b"never",), now=1)
    history.discard(refused)
    read = history.invoke(2, b"k", "GET", (), now=2)
    history.complete(read, None, now=3)
    assert [op.kind for op in history.operations()] == ["GET"]


def test_a_transaction_is_projected_onto_each_key_it_touches() -> None:
    history = HistoryRecorder()
    token = history.invoke_transaction(
        1, [(b"a", "SET", (b"1",)), (b"b", "INCR", ()), (b"a", "GET", ())], now=1
    )
    history.complete(token, [OK, 1, b"1"], now=4)
    by_key = {op.key: op for op in history.operations()}
    assert by_key[b"b"] == Operation(1, b"b", "INCR", (), 1, 1, 4)
    assert by_key[b"a"].kind == "MULTI"
    assert by_key[b"a"].result == (OK, b"1")
    assert history.check().ok


def test_an_unfinished_transaction_is_indeterminate_on_every_key() -> None:
    history = HistoryRecorder()
    history.invoke_transaction(1, [(b"a", "SET", (b"1",)), (b"b", "SET", (b"2",))], now=1)
    operations = history.operations()
    assert {op.key for op in operations} == {b"a", b"b"}
    assert all(op.indeterminate for op in operations)


def test_the_recorded_history_is_checked_for_linearizability() -> None:
    history = HistoryRecorder()
    write = history.invoke(1, b"k", "SET", (b"new",), now=0)
    history.complete(write, OK, now=1)
    stale = history.invoke(2, b"k", "GET", (), now=2)
    history.complete(stale, None, now=3)
    result = history.check()
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == b"k"


def test_misuse_is_refused() -> None:
    history = HistoryRecorder()
    token = history.invoke(1, b"k", "GET", (), now=5)
    with pytest.raises(ValueError, match="before its call"):
        history.complete(token, None, now=4)
    history.complete(token, None, now=6)
    with pytest.raises(ValueError, match="already finished"):
        history.complete(token, None, now=7)
    with pytest.raises(ValueError, match="already finished"):
        history.indeterminate(token)
    with pytest.raises(ValueError, match="unknown operation token"):
        history.discard(token + 1)  # type: ignore[arg-type]
    pair = history.invoke_transaction(1, [(b"a", "GET", ()), (b"b", "GET", ())], now=8)
    with pytest.raises(ValueError, match="one reply per command"):
        history.complete(pair, b"x", now=9)
    with pytest.raises(ValueError, match="2 commands but 1 replies"):
        history.complete(pair, [None], now=9)
    with pytest.raises(ValueError, match="at least one command"):
        history.invoke_transaction(1, [], now=10)
