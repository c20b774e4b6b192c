"""SORT beyond its replies: whom it is ordered against, scripts, and both execution paths.

Its BY and GET patterns read keys no argument names, so such a SORT must interfere with
every write (``access``), a script may not run one (it touches only declared keys), and
a replica's buffered execution — which refuses only keyspace-wide storage calls — must
still run it, reading the pattern keys from the batches not yet committed.
"""

from __future__ import annotations

import random

import pytest

from epaxosdb.commands import access_of, execute, prepare
from epaxosdb.commands.pqsort import partial_quicksort
from epaxosdb.commands.scripting import UNDECLARED_KEY, WHOLE_KEYSPACE
from protocol.messages import Access, Command
from protocol.replies import Error, Reply
from storage.buffered import BufferedView, NeedsTransaction, Writes
from storage.interface import KeyValueView, Value, ValueType
from tests.commands.differential import Model

T0 = 1_700_000_000_000


def _model(*requests: list[bytes]) -> Model:
    model = Model()
    for args in requests:
        reply = model.call(args, T0)
        assert not isinstance(reply, Error), (args, reply)
    return model


def _command(*args: bytes) -> Command:
    op = prepare(list(args), T0)
    assert not isinstance(op, Error)
    return Command(origin=1, id=7, time_ms=T0, ops=(op,))


WRITE_ELSEWHERE = Access(writes=frozenset({b"w_b"}))


@pytest.mark.parametrize(
    ("args", "interferes"),
    [
        ((b"SORT", b"ids", b"BY", b"w_*"), True),
        ((b"SORT_RO", b"ids", b"GET", b"h_*->f"), True),
        ((b"SORT", b"ids", b"GET", b"#", b"STORE", b"d"), False),
        ((b"SORT", b"ids", b"BY", b"nosort", b"GET", b"#"), False),
        ((b"SORT_RO", b"ids", b"ALPHA", b"LIMIT", b"0", b"2"), False),
    ],
)
def test_a_sort_whose_patterns_read_keys_interferes_with_any_write(
    args: tuple[bytes, ...], interferes: bool
) -> None:
    """``w_b`` is named nowhere in the SORT, yet BY ``w_*`` reads it for element ``b``."""
    assert access_of(args).interferes(WRITE_ELSEWHERE) is interferes


def test_a_script_may_not_sort_by_patterns_but_may_sort_its_declared_keys() -> None:
    model = _model([b"RPUSH", b"ids", b"b", b"a"], [b"SET", b"w_a", b"2"], [b"SET", b"w_b", b"1"])
    script = b"return redis.call('SORT', KEYS[1], unpack(ARGV))"
    for pattern in ([b"BY", b"w_*"], [b"GET", b"w_*"], [b"BY", b"nosort", b"GET", b"*->f"]):
        reply = model.call([b"EVAL", script, b"1", b"ids", *pattern], T0)
        assert isinstance(reply, Error) and WHOLE_KEYSPACE in reply.text, pattern
    ro = b"return redis.call('SORT_RO', KEYS[1], 'BY', 'w_*')"
    refused = model.call([b"EVAL_RO", ro, b"1", b"ids"], T0)
    assert isinstance(refused, Error) and WHOLE_KEYSPACE in refused.text
    assert model.call([b"EVAL", script, b"1", b"ids", b"ALPHA", b"GET", b"#"], T0) == [b"a", b"b"]
    undeclared = model.call([b"EVAL", script, b"1", b"ids", b"STORE", b"d"], T0)
    assert isinstance(undeclared, Error) and UNDECLARED_KEY in undeclared.text
    store = b"return redis.call('SORT', KEYS[1], 'ALPHA', 'DESC', 'STORE', KEYS[2])"
    assert model.call([b"EVAL", store, b"2", b"ids", b"d"], T0) == 2
    assert model.call([b"LRANGE", b"d", b"0", b"-1"], T0) == [b"b", b"a"]


def _buffered(model: Model, pending: Writes, cmd: Command) -> tuple[Reply, Writes]:
    """``cmd`` executed as a replica executes a batch ahead of its transaction."""

    def run(base: KeyValueView) -> tuple[Reply, Writes]:
        view = BufferedView(base, [pending])
        return execute(view, cmd), view.writes

    return model.store.read(run)


def _string(payload: bytes, expire_ms: int = 0) -> Value:
    return Value(ValueType.STRING, expire_ms, payload)


def test_sort_by_patterns_runs_buffered_and_reads_the_keys_not_yet_committed() -> None:
    model = _model(
        [b"RPUSH", b"ids", b"a", b"b", b"c"],
        [b"SET", b"w_a", b"3"],
        [b"SET", b"w_b", b"2"],
        [b"HSET", b"h_c", b"f", b"x"],
    )
    pending: Writes = {b"w_c": _string(b"1"), b"w_b": None}  # c weighs 1; b lost its weight
    cmd = _command(b"SORT", b"ids", b"BY", b"w_*", b"GET", b"#", b"GET", b"h_*->f", b"STORE", b"d")
    reply, writes = _buffered(model, pending, cmd)
    assert reply == 6
    assert set(writes) == {b"d"}
    for key, value in pending.items():  # the same batches, committed: the same answer
        model.store.write(lambda txn, k=key, v=value: txn.delete(k) if v is None else txn.put(k, v))
    assert model.store.write(lambda txn: execute(txn, cmd)) == 6
    assert model.call([b"LRANGE", b"d", b"0", b"-1"], T0) == [b"b", b"", b"c", b"x", b"a", b""]


def test_a_sort_by_patterns_asks_for_a_transaction_only_to_delete_expired_keys() -> None:
    """Keyspace-wide, it deletes whatever is expired before it runs (``settle_expiry``),
    which a buffered view cannot list; with nothing expired it runs buffered."""
    model = _model([b"RPUSH", b"ids", b"a", b"b"], [b"SET", b"w_a", b"2"])
    cmd = _command(b"SORT_RO", b"ids", b"BY", b"w_*")
    assert _buffered(model, {}, cmd)[0] == [b"b", b"a"]
    model.store.write(lambda txn: txn.put(b"w_b", _string(b"9", expire_ms=T0 - 1)))
    model.store.write(lambda txn: txn.put(b"other", _string(b"x", expire_ms=T0 - 1)))
    with pytest.raises(NeedsTransaction):
        _buffered(model, {}, cmd)
    assert _buffered(model, {}, _command(b"SORT_RO", b"ids", b"ALPHA"))[0] == [b"a", b"b"]
    assert model.store.write(lambda txn: execute(txn, cmd)) == [b"b", b"a"]
    assert model.store.read(lambda kv: (kv.get(b"w_b"), kv.get(b"other"))) == (None, None)


def _compare(a: tuple[int, int], b: tuple[int, int]) -> int:
    return (a[0] > b[0]) - (a[0] < b[0])


@pytest.mark.parametrize("seed", range(40))
def test_partial_quicksort_sorts_the_asked_range_and_keeps_every_element(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice((0, 1, 6, 7, 8, 40, 41, 200))
    items = [(rng.randrange(10 if seed % 2 else 10_000), i) for i in range(n)]
    low = rng.randrange(n) if n else 0
    high = rng.randrange(low, n) if n else -1
    work = list(items)
    partial_quicksort(work, _compare, low, high)
    assert sorted(work, key=lambda item: item[1]) == items
    assert [key for key, _ in work[low : high + 1]] == sorted(k for k, _ in items)[low : high + 1]
