"""``BufferedView``: commands run ahead of their transaction see what they would see in it.

The property that matters: executing a sequence of batches through
buffered views (each one's net effect pending until it is applied with
``Txn.apply_writes``) leaves the store, and every read along the way,
exactly as executing the same operations directly in write transactions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.buffered import LARGE_VALUE_BYTES, BufferedView, NeedsTransaction, Writes
from storage.interface import KeyValueView, StorageError, Txn, Value, ValueHeader, ValueType
from tests.storage.conftest import CheckedStore, FreshStore, Opened


def string(payload: bytes, expire_ms: int = 0) -> Value:
    return Value(ValueType.STRING, expire_ms, payload)


def buffered(opened: Opened, pending: list[Writes], fn: Callable[[BufferedView], object]) -> Writes:
    """Run ``fn`` on a view over the store plus ``pending``; return the view's net effect."""

    def run(base: KeyValueView) -> Writes:
        view = BufferedView(base, pending)
        fn(view)
        return view.writes

    return opened.store.read(run)


def test_reads_see_own_writes_then_pending_newest_first_then_the_store(opened: Opened) -> None:
    opened.store.write(lambda t: t.put(b"a", string(b"stored")))
    older: Writes = {b"a": string(b"older"), b"b": string(b"older")}
    newer: Writes = {b"a": None, b"c": string(b"newer")}
    seen: dict[bytes, Value | None] = {}

    def reads(view: BufferedView) -> None:
        for key in (b"a", b"b", b"c", b"d"):
            seen[key] = view.get(key)
        view.put(b"d", string(b"own"))
        seen[b"d-after"] = view.get(b"d")

    assert buffered(opened, [newer, older], reads) == {b"d": string(b"own")}
    assert seen == {
        b"a": None,  # deleted by the newer pending batch, though older and the store have it
        b"b": string(b"older"),
        b"c": string(b"newer"),
        b"d": None,
        b"d-after": string(b"own"),
    }
    assert opened.store.read(lambda v: v.get(b"a")) == string(b"stored")  # nothing written


def test_delete_reports_what_the_batch_sees_and_leaves_a_tombstone_only_if_needed(
    opened: Opened,
) -> None:
    opened.store.write(lambda t: t.put(b"stored", string(b"1")))
    results: list[bool] = []

    def deletes(view: BufferedView) -> None:
        results.append(view.delete(b"stored"))
        results.append(view.delete(b"stored"))
        results.append(view.delete(b"pending"))
        results.append(view.delete(b"nowhere"))

    writes = buffered(opened, [{b"pending": string(b"2")}], deletes)
    assert results == [True, False, True, False]
    assert writes == {b"stored": None, b"pending": None}


@pytest.mark.parametrize(
    "call",
    [
        lambda v: v.count(),
        lambda v: v.scan(0, 10),
        lambda v: v.iter_keys(),
        lambda v: v.random_key(1),
        lambda v: v.expiring(10, 10),
        lambda v: v.clear(),
    ],
    ids=["count", "scan", "iter_keys", "random_key", "expiring", "clear"],
)
def test_keyspace_wide_operations_ask_for_a_transaction(
    opened: Opened, call: Callable[[BufferedView], object]
) -> None:
    with pytest.raises(NeedsTransaction):
        buffered(opened, [], call)


def test_needs_transaction_is_not_an_error_handlers_could_mistake_for_storage_trouble() -> None:
    assert not issubclass(NeedsTransaction, StorageError)


def test_puts_are_checked_as_the_stores_check_them(opened: Opened) -> None:
    bad_calls: list[Callable[[BufferedView], object]] = [
        lambda v: v.put("k", string(b"1")),  # type: ignore[arg-type]
        lambda v: v.put(b"k", Value(ValueType.STRING, 0, bytearray(b"1"))),  # type: ignore[arg-type]
        lambda v: v.put(b"k", (ValueType.STRING, 0, b"1")),  # type: ignore[arg-type]
        lambda v: v.get("k"),  # type: ignore[arg-type]
    ]
    for call in bad_calls:
        with pytest.raises(TypeError):
            buffered(opened, [], call)


# --- buffered execution equals direct execution --------------------------------------

KEYS = [b"a", b"b", b"c", b"L" * 500]
Op = tuple[str, bytes, Value | None]
op_strategy = st.one_of(
    st.tuples(st.just("get"), st.sampled_from(KEYS), st.none()),
    st.tuples(st.just("delete"), st.sampled_from(KEYS), st.none()),
    st.tuples(
        st.just("put"),
        st.sampled_from(KEYS),
        st.builds(string, st.binary(max_size=3), st.sampled_from([0, 0, 9])),
    ),
)


def run_ops(view: KeyValueView, ops: list[Op]) -> list[object]:
    out: list[object] = []
    for name, key, value in ops:
        if name == "get":
            out.append(view.get(key))
        elif name == "delete":
            out.append(view.delete(key))
        else:
            assert value is not None
            view.put(key, value)
    return out


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(op_strategy, max_size=8), min_size=1, max_size=4))
def test_batches_run_buffered_then_applied_match_batches_run_in_transactions(
    fresh_store: FreshStore, batches: list[list[Op]]
) -> None:
    """Each batch but the last stays pending while the next runs, as in the runtime."""
    with fresh_store() as direct, fresh_store() as ahead:
        seeded = {b"a": string(b"0", 9), b"c": string(b"0")}
        for store in (direct, ahead):
            store.write(lambda t: t.apply_writes(dict(seeded)))
        direct_replies = [store_write(direct, ops) for ops in batches]
        pending: list[Writes] = []
        ahead_replies = []
        for ops in batches:
            replies: list[object] = []

            def run(base: KeyValueView, ops: list[Op] = ops, out: list[object] = replies) -> Writes:
                view = BufferedView(base, list(reversed(pending)))
                out.extend(run_ops(view, ops))
                return view.writes

            pending.append(ahead.read(run))
            ahead_replies.append(replies)
            if len(pending) == 2:  # the older batch commits while the newer one ran
                oldest = pending.pop(0)
                ahead.write(lambda t, w=oldest: t.apply_writes(w))  # type: ignore[misc]
        for writes in pending:
            ahead.write(lambda t, w=writes: t.apply_writes(w))  # type: ignore[misc]
        assert ahead_replies == direct_replies
        assert ahead.kv_items() == direct.kv_items()
        assert ahead.read(lambda v: v.expiring(100, 10)) == direct.read(
            lambda v: v.expiring(100, 10)
        )


def store_write(store: CheckedStore, ops: list[Op]) -> list[object]:
    def fn(txn: Txn) -> list[object]:
        return run_ops(txn, ops)

    return store.write(fn)


@pytest.mark.parametrize("given", [True, False])
def test_expiry_floor_covers_the_store_pending_and_own_writes(opened: Opened, given: bool) -> None:
    """A bound no higher than any deadline the view can show; ``pending``'s either given
    by the caller or read from it."""
    opened.store.write(lambda t: t.put(b"stored", string(b"", 500)))
    pending: Writes = {b"gone": None, b"p": string(b"", 300), b"q": string(b"", 0)}

    def floors(base: KeyValueView) -> list[int]:
        view = BufferedView(base, [pending], 300 if given else None)
        seen = [view.expiry_floor()]
        view.put(b"own", string(b"", 40))
        seen.append(view.expiry_floor())
        view.put(b"own", string(b"", 0))  # a bound: it need not rise again
        seen.append(view.expiry_floor())
        return seen

    assert opened.store.read(floors) == [300, 40, 40]
    assert opened.store.read(lambda base: BufferedView(base, []).expiry_floor()) == 500


class _CountingView:
    """A base that counts its reads (and otherwise passes them on)."""

    def __init__(self, base: KeyValueView) -> None:
        self.base = base
        self.reads = 0

    def get(self, key: bytes) -> Value | None:
        self.reads += 1
        return self.base.get(key)


def test_a_large_value_is_read_from_the_store_once_per_view_and_own_writes_still_win(
    opened: Opened,
) -> None:
    large = string(b"x" * LARGE_VALUE_BYTES)
    opened.store.write(lambda t: (t.put(b"big", large), t.put(b"small", string(b"s"))))

    def run(base: KeyValueView) -> tuple[int, int]:
        counting = _CountingView(base)
        view = BufferedView(counting, [])  # type: ignore[arg-type]
        assert all(view.get(b"big") == large for _ in range(5))
        big_reads = counting.reads
        assert all(view.get(b"small") == string(b"s") for _ in range(3))
        view.put(b"big", string(b"replaced"))
        assert view.get(b"big") == string(b"replaced")
        assert view.delete(b"big") and view.get(b"big") is None
        return big_reads, counting.reads - big_reads

    assert opened.store.read(run) == (1, 3)


class _HeadersOnly:
    """A base whose payloads must not be read: ``get`` fails, ``header`` answers."""

    def __init__(self, base: KeyValueView) -> None:
        self.base = base

    def get(self, key: bytes) -> Value | None:
        raise AssertionError(f"the payload of {key!r} was read")

    def header(self, key: bytes) -> ValueHeader | None:
        return self.base.header(key)


def test_headers_and_deletes_come_from_the_newest_layer_without_reading_base_payloads(
    opened: Opened,
) -> None:
    stored = {b"base": string(b"x" * 1000, 7), b"old": string(b"o"), b"gone": string(b"g")}
    opened.store.write(lambda t: [t.put(k, v) for k, v in stored.items()])
    pending: list[Writes] = [{b"old": Value(ValueType.LIST, 3, b"abcd"), b"gone": None}]

    def run(base: KeyValueView) -> list[ValueHeader | bool | None]:
        view = BufferedView(_HeadersOnly(base), pending)  # type: ignore[arg-type]
        view.put(b"own", string(b"12345", 9))
        seen: list[ValueHeader | bool | None] = [
            view.header(k) for k in (b"base", b"old", b"gone", b"own", b"absent")
        ]
        seen += [view.delete(b"base"), view.delete(b"absent"), view.header(b"base")]
        return seen

    assert opened.store.read(run) == [
        ValueHeader(ValueType.STRING, 7, 1000),
        ValueHeader(ValueType.LIST, 3, 4),
        None,
        ValueHeader(ValueType.STRING, 9, 5),
        None,
        True,
        False,
        None,
    ]
