"""The linearizability checker: hand-made histories with known verdicts, plus
properties over histories generated from a sequential execution.

The generator executes operations on its own reference model of Redis strings
(``_reference``), independent of the checker's model, at a linearization point
drawn inside each operation's interval; so every generated history is
linearizable by construction.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epaxosdb.sim.linearizability import (
    STEPS_MAX_PER_KEY,
    UNCHECKED,
    UNKNOWN,
    Operation,
    Strategy,
    Verdict,
    check,
    check_key,
    project_transaction,
    render_timeline,
)
from protocol.replies import OK, Error

NOT_INTEGER = Error("ERR value is not an integer or out of range")


def op(
    client: int,
    kind: str,
    *args: object,
    result: object,
    at: tuple[float, float | None],
    key: bytes = b"k",
) -> Operation:
    return Operation(client, key, kind, tuple(args), result, at[0], at[1])


def verdict(
    history: Sequence[Operation],
    initial: dict[bytes, bytes] | None = None,
    steps_max_per_key: int = STEPS_MAX_PER_KEY,
) -> Verdict:
    return check(history, initial=initial, steps_max_per_key=steps_max_per_key).verdict


# --- reads and writes ----------------------------------------------------------


def test_checker_accepts_a_sequential_history() -> None:
    history = [
        op(1, "GET", result=None, at=(0, 1)),
        op(1, "SET", b"a", result=OK, at=(2, 3)),
        op(2, "GET", result=b"a", at=(4, 5)),
        op(2, "DEL", result=1, at=(6, 7)),
        op(1, "GET", result=None, at=(8, 9)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE


def test_checker_accepts_overlapping_writes_taking_effect_in_either_order() -> None:
    writes = [op(1, "SET", b"1", result=OK, at=(0, 10)), op(2, "SET", b"2", result=OK, at=(1, 9))]
    for seen in (b"1", b"2"):
        assert verdict([*writes, op(3, "GET", result=seen, at=(11, 12))]) is Verdict.LINEARIZABLE


def test_checker_accepts_a_read_overlapping_a_write_seeing_old_or_new() -> None:
    base = [op(1, "SET", b"old", result=OK, at=(0, 1)), op(1, "SET", b"new", result=OK, at=(2, 8))]
    for seen in (b"old", b"new"):
        assert verdict([*base, op(2, "GET", result=seen, at=(3, 4))]) is Verdict.LINEARIZABLE


def test_checker_rejects_a_read_that_misses_a_completed_write() -> None:
    history = [
        op(1, "SET", b"1", result=OK, at=(0, 1)),
        op(1, "SET", b"2", result=OK, at=(2, 3)),
        op(2, "GET", result=b"1", at=(4, 5)),
    ]
    result = check(history)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == b"k"
    failure = result.failure
    assert failure is not None and failure.unplaced is history[2]
    assert "holds b'2'" in result.explanation


def test_checker_rejects_a_read_of_a_value_never_written() -> None:
    history = [op(1, "SET", b"1", result=OK, at=(0, 5)), op(2, "GET", result=b"9", at=(1, 4))]
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_rejects_readers_that_see_two_concurrent_writes_in_opposite_orders() -> None:
    history = [
        op(1, "SET", b"1", result=OK, at=(0, 10)),
        op(2, "SET", b"2", result=OK, at=(0, 10)),
        op(3, "GET", result=b"1", at=(1, 2)),
        op(3, "GET", result=b"2", at=(3, 4)),
        op(4, "GET", result=b"2", at=(1, 2)),
        op(4, "GET", result=b"1", at=(3, 4)),
    ]
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_treats_touching_intervals_as_concurrent() -> None:
    history = [op(1, "SET", b"1", result=OK, at=(0, 5)), op(2, "GET", result=None, at=(5, 6))]
    assert verdict(history) is Verdict.LINEARIZABLE
    history[1] = op(2, "GET", result=None, at=(6, 7))
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_uses_the_initial_value_of_preexisting_keys() -> None:
    history = [op(1, "GET", result=b"seed", at=(0, 1))]
    assert verdict(history, initial={b"k": b"seed"}) is Verdict.LINEARIZABLE
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


# --- read-modify-write commands -----------------------------------------------


def test_checker_accepts_concurrent_increments_in_any_order() -> None:
    history = [
        op(1, "INCR", result=2, at=(0, 10)),
        op(2, "INCR", result=1, at=(1, 9)),
        op(3, "INCRBY", 10, result=12, at=(2, 11)),
        op(4, "GET", result=b"12", at=(12, 13)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE


def test_checker_rejects_an_increment_gap() -> None:
    history = [op(1, "INCR", result=1, at=(0, 1)), op(1, "INCR", result=3, at=(2, 3))]
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_rejects_two_increments_returning_the_same_value() -> None:
    history = [op(1, "INCR", result=1, at=(0, 5)), op(2, "INCR", result=1, at=(0, 5))]
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_explains_not_an_integer_only_while_the_value_is_not_an_integer() -> None:
    history = [
        op(1, "SET", b"abc", result=OK, at=(0, 1)),
        op(1, "INCR", result=NOT_INTEGER, at=(2, 3)),
        op(1, "SET", b"7", result=OK, at=(4, 5)),
        op(1, "INCR", result=8, at=(6, 7)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE
    history[3] = op(1, "INCR", result=NOT_INTEGER, at=(6, 7))
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_accepts_error_replies_given_as_client_exceptions() -> None:
    history = [
        op(1, "SET", "01", result=True, at=(0, 1)),
        op(1, "INCR", result=RuntimeError("value is not an integer or out of range"), at=(2, 3)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE


def test_checker_models_increment_overflow_as_an_error_that_leaves_the_value() -> None:
    top = str(2**63 - 1).encode()
    history = [
        op(1, "SET", top, result=OK, at=(0, 1)),
        op(1, "INCR", result=Error("ERR increment or decrement would overflow"), at=(2, 3)),
        op(1, "GET", result=top, at=(4, 5)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE


def test_checker_models_the_conditional_and_returning_forms_of_set() -> None:
    history = [
        op(1, "SET", b"x", "XX", result=None, at=(0, 1)),
        op(1, "SET", b"a", "NX", result=OK, at=(2, 3)),
        op(1, "SET", b"b", "NX", result=None, at=(4, 5)),
        op(1, "SET", b"c", "XX", "GET", result=b"a", at=(6, 7)),
        op(1, "GETSET", b"d", result=b"c", at=(8, 9)),
        op(1, "SETNX", b"e", result=0, at=(10, 11)),
        op(1, "APPEND", b"ef", result=3, at=(12, 13)),
        op(1, "STRLEN", result=3, at=(14, 15)),
        op(1, "GETDEL", result=b"def", at=(16, 17)),
        op(1, "EXISTS", result=0, at=(18, 19)),
        op(1, "SETNX", b"f", result=1, at=(20, 21)),
        op(1, "DEL", result=1, at=(22, 23)),
        op(1, "DEL", result=0, at=(24, 25)),
        op(1, "DECRBY", 5, result=-5, at=(26, 27)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE
    wrong_nx = replace(history[2], result=OK)
    assert verdict([*history[:2], wrong_nx]) is Verdict.NOT_LINEARIZABLE


# --- indeterminate operations --------------------------------------------------


def test_checker_accepts_an_indeterminate_write_that_is_seen_later() -> None:
    history = [
        op(1, "SET", b"maybe", result=UNKNOWN, at=(0, None)),
        op(2, "GET", result=None, at=(1, 2)),
        op(2, "GET", result=b"maybe", at=(100, 101)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE


def test_checker_accepts_an_indeterminate_write_that_is_never_seen() -> None:
    history = [
        op(1, "SET", b"maybe", result=UNKNOWN, at=(0, 3)),
        op(2, "GET", result=None, at=(5, 6)),
        op(2, "GET", result=None, at=(100, 101)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE


def test_checker_rejects_an_indeterminate_write_that_would_take_effect_before_its_call() -> None:
    history = [
        op(2, "GET", result=b"late", at=(0, 5)),
        op(1, "SET", b"late", result=UNKNOWN, at=(10, None)),
    ]
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_lets_an_indeterminate_increment_explain_a_later_jump() -> None:
    history = [
        op(1, "INCR", result=1, at=(0, 1)),
        op(2, "INCR", result=UNKNOWN, at=(2, None)),
        op(1, "INCR", result=3, at=(5, 6)),
    ]
    assert verdict(history) is Verdict.LINEARIZABLE
    history[1] = op(2, "INCR", result=UNKNOWN, at=(7, None))
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_checker_does_not_let_an_indeterminate_write_take_effect_twice() -> None:
    history = [
        op(1, "SET", b"x", result=UNKNOWN, at=(0, None)),
        op(2, "GET", result=b"x", at=(1, 2)),
        op(3, "SET", b"y", result=OK, at=(3, 4)),
        op(2, "GET", result=b"x", at=(5, 6)),
    ]
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


# --- multi-key operations ------------------------------------------------------


def test_projected_transaction_keeps_its_steps_on_one_key_atomic() -> None:
    transaction = project_transaction(
        1,
        [(b"k", "SET", (b"1",)), (b"other", "SET", (b"z",)), (b"k", "SET", (b"2",))],
        [OK, OK, OK],
        0,
        10,
    )
    assert {o.key: o.kind for o in transaction} == {b"k": "MULTI", b"other": "SET"}
    seen_final = op(2, "GET", result=b"2", at=(3, 4))
    seen_intermediate = op(2, "GET", result=b"1", at=(3, 4))
    assert verdict([*transaction, seen_final]) is Verdict.LINEARIZABLE
    assert verdict([*transaction, seen_intermediate]) is Verdict.NOT_LINEARIZABLE


def test_projected_transaction_checks_each_reply_in_it() -> None:
    commands = [(b"k", "INCR", ()), (b"k", "INCR", ())]
    assert verdict(project_transaction(1, commands, [1, 2], 0, 1)) is Verdict.LINEARIZABLE
    assert verdict(project_transaction(1, commands, [1, 1], 0, 1)) is Verdict.NOT_LINEARIZABLE


def test_unchecked_replies_still_have_their_effect() -> None:
    history = [
        op(1, "SET", b"v", result=OK, at=(0, 1)),
        *project_transaction(2, [(b"k", "DEL", ()), (b"j", "DEL", ())], [UNCHECKED] * 2, 2, 3),
        op(1, "GET", result=b"v", at=(4, 5)),
    ]
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_indeterminate_transaction_may_apply_all_of_its_steps_or_none() -> None:
    transaction = project_transaction(1, [(b"k", "INCR", ()), (b"k", "INCR", ())], UNKNOWN, 0, None)
    for seen, expected in (
        (None, Verdict.LINEARIZABLE),
        (b"2", Verdict.LINEARIZABLE),
        (b"1", Verdict.NOT_LINEARIZABLE),
    ):
        read = op(2, "GET", result=seen, at=(5, 6))
        assert verdict([*transaction, read]) is expected


# --- verdicts, budget and reporting --------------------------------------------


def test_checker_reports_the_failing_key_among_linearizable_ones() -> None:
    history = [
        op(1, "SET", b"1", result=OK, at=(0, 1), key=b"good"),
        op(1, "GET", result=b"1", at=(2, 3), key=b"good"),
        op(1, "SET", b"1", result=OK, at=(0, 1), key=b"bad"),
        op(1, "GET", result=None, at=(2, 3), key=b"bad"),
    ]
    result = check(history)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == b"bad"
    assert {r.key: r.verdict for r in result.keys} == {
        b"bad": Verdict.NOT_LINEARIZABLE,
        b"good": Verdict.LINEARIZABLE,
    }


def test_checker_answers_unknown_when_the_step_budget_runs_out() -> None:
    history = [op(c, "SET", b"v%d" % c, result=UNKNOWN, at=(0, None)) for c in range(12)]
    history += [op(99, "GET", result=b"v%d" % c, at=(2 * c + 1, 2 * c + 2)) for c in range(12)]
    history.append(op(99, "GET", result=b"no such value", at=(30, 31)))
    assert verdict(history, steps_max_per_key=50) is Verdict.UNKNOWN
    assert verdict(history) is Verdict.NOT_LINEARIZABLE


def test_failure_rendering_names_the_key_and_marks_the_unplaced_operation() -> None:
    history = [
        op(1, "SET", b"1", result=OK, at=(0, 1)),
        op(2, "SET", b"2", result=OK, at=(2, 3)),
        op(3, "GET", result=b"1", at=(4, 5)),
        op(4, "SET", b"3", result=UNKNOWN, at=(4, None)),
    ]
    text = check(history).render()
    assert "key b'k': not linearizable" in text
    lines = text.splitlines()
    unplaced = [line for line in lines if line.lstrip().startswith("!!")]
    assert len(unplaced) == 1 and "GET -> b'1'" in unplaced[0]
    assert any("#1" in line and "SET b'1'" in line for line in lines)
    assert any(line.rstrip().endswith("SET b'3' -> ?") and ">" in line for line in lines)


def test_timeline_rendering_shows_a_window_of_a_long_history() -> None:
    history = [op(1, "INCR", result=i + 1, at=(2 * i, 2 * i + 1)) for i in range(100)]
    text = render_timeline(history, ops_max=10)
    assert "90 earlier operation(s) not shown" in text
    assert len(text.splitlines()) == 12


def test_malformed_operations_are_refused() -> None:
    with pytest.raises(ValueError, match="returns before its call"):
        op(1, "GET", result=None, at=(5, 4))
    with pytest.raises(ValueError, match="does not know"):
        check([op(1, "LPUSH", b"x", result=1, at=(0, 1))])
    with pytest.raises(ValueError, match="not modelled"):
        check([op(1, "SET", b"x", "EX", 10, result=OK, at=(0, 1))])
    with pytest.raises(ValueError, match="syntax error"):
        check([op(1, "SET", b"x", "NX", "XX", result=OK, at=(0, 1))])


# --- generated histories ---------------------------------------------------------


def _integer(value: bytes | None) -> int | None:
    if value is None:
        return 0
    try:
        number = int(value)
    except ValueError:
        return None
    return number if str(number).encode() == value else None


def _reference(
    store: dict[bytes, bytes], key: bytes, kind: str, args: tuple[object, ...]
) -> object:
    """Redis string semantics, written independently of the checker's model."""
    old = store.get(key)
    if kind == "GET":
        return old
    if kind == "SET":
        value, options = args[0], set(args[1:])
        assert isinstance(value, bytes)
        if ("NX" in options and old is not None) or ("XX" in options and old is None):
            return old if "GET" in options else None
        store[key] = value
        return old if "GET" in options else OK
    if kind == "SETNX":
        if old is not None:
            return 0
        store[key] = args[0]  # type: ignore[assignment]
        return 1
    if kind == "GETSET":
        store[key] = args[0]  # type: ignore[assignment]
        return old
    if kind in ("DEL", "GETDEL"):
        store.pop(key, None)
        return int(old is not None) if kind == "DEL" else old
    if kind == "APPEND":
        assert isinstance(args[0], bytes)
        store[key] = (old or b"") + args[0]
        return len(store[key])
    if kind == "STRLEN":
        return len(old or b"")
    if kind == "EXISTS":
        return int(old is not None)
    current = _integer(old)
    if current is None:
        return NOT_INTEGER
    delta = {"INCR": 1, "DECR": -1}.get(kind)
    if delta is None:
        assert isinstance(args[0], int)
        delta = args[0] if kind == "INCRBY" else -args[0]
    store[key] = str(current + delta).encode()
    return current + delta


VALUES = (b"1", b"2", b"10", b"x")
COMMANDS: tuple[tuple[str, tuple[object, ...]], ...] = (
    ("GET", ()),
    ("GET", ()),
    ("STRLEN", ()),
    ("EXISTS", ()),
    ("DEL", ()),
    ("GETDEL", ()),
    ("INCR", ()),
    ("DECR", ()),
    ("INCRBY", (3,)),
    ("DECRBY", (2,)),
    *((kind, (v,)) for kind in ("SET", "GETSET", "SETNX", "APPEND") for v in VALUES),
    *(
        ("SET", (v, *options))
        for v in VALUES
        for options in (("NX",), ("XX",), ("GET",), ("NX", "GET"))
    ),
)
FATES = ("ok", "ok", "ok", "ok", "took-effect-unseen", "never-took-effect")


@dataclass(frozen=True)
class Spec:
    """One client operation of a generated run: when it runs and when it takes effect."""

    client: int
    key: bytes
    command: tuple[str, tuple[object, ...]]
    gap: int
    duration: int
    effect: float  # fraction of the interval at which the operation takes effect
    fate: str


def build_history(specs: Sequence[Spec]) -> list[Operation]:
    """Run the specs' clients, each sequentially, and execute every operation at
    its linearization point on the reference model."""
    clock: dict[int, int] = defaultdict(int)
    timed = []
    for index, spec in enumerate(specs):
        call = clock[spec.client] + spec.gap
        ret = call + spec.duration
        clock[spec.client] = ret + 1
        timed.append((call + spec.effect * spec.duration, index, call, ret))
    results: dict[int, object] = {}
    store: dict[bytes, bytes] = {}
    for _, index, _, _ in sorted(timed):
        spec = specs[index]
        if spec.fate != "never-took-effect":
            results[index] = _reference(store, spec.key, spec.command[0], spec.command[1])
    history = []
    for _, index, call, ret in timed:
        spec = specs[index]
        kind, args = spec.command
        if spec.fate == "ok":
            history.append(Operation(spec.client, spec.key, kind, args, results[index], call, ret))
        else:
            unseen_ret = None if index % 2 else ret  # both spellings of "indeterminate"
            history.append(Operation(spec.client, spec.key, kind, args, UNKNOWN, call, unseen_ret))
    return history


def specs_strategy(
    clients: int = 4,
    keys: Sequence[bytes] = (b"a", b"b"),
    commands: Sequence[tuple[str, tuple[object, ...]]] = COMMANDS,
    fates: Sequence[str] = FATES,
    size_max: int = 40,
) -> st.SearchStrategy[list[Spec]]:
    spec = st.builds(
        Spec,
        client=st.integers(0, clients - 1),
        key=st.sampled_from(keys),
        command=st.sampled_from(commands),
        gap=st.integers(0, 6),
        duration=st.integers(0, 12),
        effect=st.floats(0, 1),
        fate=st.sampled_from(fates),
    )
    return st.lists(spec, min_size=1, max_size=size_max)


def random_specs(rng: random.Random, count: int, clients: int, keys: int) -> list[Spec]:
    return [
        Spec(
            client=rng.randrange(clients),
            key=b"key%d" % rng.randrange(keys),
            command=rng.choice(COMMANDS),
            gap=rng.randint(0, 6),
            duration=rng.randint(0, 12),
            effect=rng.random(),
            fate=rng.choice(FATES),
        )
        for _ in range(count)
    ]


def _respects_real_time(order: Sequence[Operation]) -> bool:
    return all(
        later.indeterminate or later.ret is None or earlier.call <= later.ret
        for i, earlier in enumerate(order)
        for later in order[i + 1 :]
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_strategy())
def test_histories_of_a_sequential_execution_are_always_accepted(specs: list[Spec]) -> None:
    result = check(build_history(specs))
    assert result.verdict is Verdict.LINEARIZABLE, result.render()
    for key_result in result.keys:
        assert _respects_real_time(key_result.linearized)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_strategy(), st.data())
def test_a_read_mutated_to_a_value_never_written_is_rejected(
    specs: list[Spec], data: st.DataObject
) -> None:
    final_read = Spec(0, specs[0].key, ("GET", ()), gap=1, duration=1, effect=0.5, fate="ok")
    history = build_history([*specs, final_read])  # so there is a read to corrupt
    reads = [i for i, o in enumerate(history) if o.kind == "GET" and not o.indeterminate]
    victim = data.draw(st.sampled_from(reads))
    history[victim] = replace(history[victim], result=b"\xff never written")
    result = check(history)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == history[victim].key


@pytest.mark.parametrize("seed", range(5))
def test_a_thousand_operations_over_ten_keys_from_five_clients_are_accepted(seed: int) -> None:
    history = build_history(random_specs(random.Random(seed), 1000, clients=5, keys=10))
    started = time.perf_counter()
    result = check(history)
    elapsed = time.perf_counter() - started
    assert result.verdict is Verdict.LINEARIZABLE, f"seed={seed}\n{result.render()}"
    print(f"seed={seed}: 1000 ops checked in {elapsed * 1000:.1f} ms")


def test_a_long_history_on_one_hot_key_is_accepted_within_the_default_budget() -> None:
    history = build_history(random_specs(random.Random(7), 1000, clients=5, keys=1))
    key_result = check_key(b"key0", history)
    assert key_result.verdict is Verdict.LINEARIZABLE, key_result.render()
    assert len(key_result.linearized) <= len(history)


def _brute_force_linearizable(history: Sequence[Operation]) -> bool:
    """Try every subset of the indeterminate operations and every real-time
    respecting order of the chosen ones, on the reference model."""
    determinate = [o for o in history if not o.indeterminate]
    optional = [o for o in history if o.indeterminate]
    for mask in range(1 << len(optional)):
        chosen = determinate + [o for i, o in enumerate(optional) if mask >> i & 1]
        for order in itertools.permutations(chosen):
            if not _respects_real_time(order):
                continue
            store: dict[bytes, bytes] = {}
            if all(
                _reference(store, o.key, o.kind, o.args) == o.result or o.indeterminate
                for o in order
            ):
                return True
    return False


REPLIES = (None, b"1", b"2", b"x", b"v1", b"v2", OK, 0, 1, 2, 3, 4, NOT_INTEGER)
TIMEOUT_HEAVY = ("ok", "ok", "took-effect-unseen", "never-took-effect")
REGISTER = (
    ("GET", ()),
    ("GET", ()),
    *(("SET", (b"v%d" % i,)) for i in range(6)),
    ("GETSET", (b"v1",)),
    ("SET", (b"v2", "GET")),
    ("GETDEL", ()),
)
COUNTER = (("GET", ()), ("INCR", ()), ("INCR", ()), ("DECR", ()), ("INCRBY", (2,)))


def _agrees_with_brute_force(specs: list[Spec], data: st.DataObject) -> None:
    history = build_history(specs)
    for index in data.draw(st.lists(st.integers(0, len(history) - 1), max_size=2)):
        if not history[index].indeterminate:
            history[index] = replace(history[index], result=data.draw(st.sampled_from(REPLIES)))
    expected = _brute_force_linearizable(history)
    for strategy in Strategy:
        result = check(history, strategy=strategy)
        assert result.ok is expected, f"{strategy}: {result.render()}"


@settings(max_examples=500, deadline=None)
@given(specs_strategy(keys=(b"k", b"j"), size_max=6), st.data())
def test_checker_agrees_with_brute_force_on_small_histories(
    specs: list[Spec], data: st.DataObject
) -> None:
    _agrees_with_brute_force(specs, data)


@settings(max_examples=300, deadline=None)
@given(specs_strategy(keys=(b"k",), commands=REGISTER, fates=TIMEOUT_HEAVY, size_max=7), st.data())
def test_checker_agrees_with_brute_force_on_registers_with_many_timeouts(
    specs: list[Spec], data: st.DataObject
) -> None:
    """Exercises the dropping of timed-out writes that no reply names."""
    _agrees_with_brute_force(specs, data)


@settings(max_examples=300, deadline=None)
@given(specs_strategy(keys=(b"k",), commands=COUNTER, fates=TIMEOUT_HEAVY, size_max=7), st.data())
def test_checker_agrees_with_brute_force_on_counters_with_many_timeouts(
    specs: list[Spec], data: st.DataObject
) -> None:
    """Exercises the interchangeability of timed-out increments."""
    _agrees_with_brute_force(specs, data)


def test_timed_out_writes_that_nobody_read_cost_no_search() -> None:
    history = [op(c, "SET", b"lost%d" % c, result=UNKNOWN, at=(c, None)) for c in range(200)]
    history += [op(1000, "SET", b"seen", result=OK, at=(300, 301))]
    history += [op(1000, "GET", result=b"seen", at=(302 + i, 302 + i)) for i in range(50)]
    key_result = check_key(b"k", history)
    assert key_result.verdict is Verdict.LINEARIZABLE
    assert key_result.steps <= 51
    assert len(key_result.linearized) == 51
