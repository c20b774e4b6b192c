"""The random command sequences of ``test_differential_random``, also run from scripts and
inside MULTI, and compared reply by reply with redis-server.

Each step draws a request from the same ``Generator`` and sends it to both sides
plainly, then as ``EVAL "return redis.pcall(unpack(ARGV))"`` with every key the
generator uses declared (so a command's error reply comes back as the script's
reply), and for a share of steps as ``redis.call`` (so it becomes a script error,
whose text names the script and its line), through ``redis.pcall`` in EVAL_RO (which
refuses writes), and, where Redis fixes the reply's order, one level down in an array
(``NESTED``) and spelled out by ``cjson.encode`` (``AS_JSON``: the Lua value itself).
That runs each command's reply through Redis's reply → Lua value → script reply
conversion: nil bulks and arrays to ``false`` and back, status replies to ``{ok=...}``,
errors to ``{err=...}``, RESP3 doubles, maps and sets as the RESP2 a script sees,
integers through Lua's doubles.
Now and then a run of one to five requests goes inside MULTI/EXEC instead, some of
them wrapped in a script, with the queue-time checks of the front end
(``queue_error``: an unknown command or a wrong arity is refused when queued and
EXEC answers EXECABORT).

Replies are compared as ``test_differential_random`` compares them (TTLs within a
tolerance, order-free replies as sets, HSCAN/SSCAN/ZSCAN by a full iteration, run
through the script too). A failure names the seed and the step; rerun one seed with
``EPAXOSDB_SCRIPTS_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random

import pytest

from epaxosdb.commands import queue_error, resolve
from protocol.replies import Error
from protocol.resp import encode_reply
from storage.interface import ValueType
from tests.commands.differential import (
    PTTL_TOLERANCE_MS,
    TTL_TOLERANCE_S,
    Differential,
    _flatten_pairs,
    _mismatch,
)
from tests.commands.test_differential_random import (
    KEYS,
    ZKEYS,
    Generator,
    Request,
    check_final_state,
)
from tests.redis_server import Parsed, parse_reply

STEPS = 3000
SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_SCRIPTS_SEED", "1 2 3").split()]

DECLARED = [*KEYS, *ZKEYS]
"""Every key the generator names: a script here may touch them all (README, EVAL row: a
script may touch only the keys it declares)."""
PCALL = b"return redis.pcall(unpack(ARGV))"
CALL = b"return redis.call(unpack(ARGV))"
NESTED = b"return {redis.pcall(unpack(ARGV))}"
"""The reply one level down, where an error or a nil is an element of an array."""
AS_JSON = b"return cjson.encode({redis.pcall(unpack(ARGV))})"
"""The Lua value the reply became, spelled out: ``false`` for a nil, numbers for
integers, strings for doubles, ``{"ok": ...}`` and ``{"err": ...}``."""
READ_ONLY_SHARE = 0.15
"""Steps also sent through ``redis.pcall`` in EVAL_RO, which refuses writes."""
CALL_SHARE = 0.3
"""Steps also sent through ``redis.call``, whose errors are the script's."""
NESTED_SHARE = 0.2
JSON_SHARE = 0.2
"""Steps also sent as ``NESTED`` and ``AS_JSON`` (those whose reply's order is Redis's)."""
MULTI_SHARE = 0.05
SCRIPTED_IN_MULTI = 0.3
"""Requests of a MULTI run sent as a script rather than plainly."""
BODIES = {"pcall": PCALL, "call": CALL, "nested": NESTED, "json": AS_JSON, "ro": PCALL}
EXECABORT = Error("EXECABORT Transaction discarded because of previous errors.")
"""What the front end answers EXEC after a queue-time error (``runtime.connection``)."""

REFUSED_IN_SCRIPTS = frozenset({b"KEYS", b"SCAN", b"RANDOMKEY", b"DBSIZE", b"FLUSHALL",
                                b"FLUSHDB"})  # fmt: skip
"""Keyspace-wide commands, refused inside scripts by design (README, EVAL row: "KEYS/SCAN/
FLUSHALL-like commands ... are refused inside one"); Redis runs them."""
RELATIVE_EXPIRES = frozenset({b"EXPIRE", b"PEXPIRE"})
NOT_RESENT = frozenset({b"GT", b"LT"})
"""EXPIRE k <ttl> GT sent twice within a millisecond ties with itself on one side and
not on the other: such a request goes one way only (the generator's TTLs grow with the
step so that different steps never tie)."""
EXEC_MODES = frozenset({"exact", "ttl", "pttl", "keys", "pairs"})
"""Modes whose replies can be compared as items of EXEC's; the others run outside."""


def scripted(body: bytes, args: list[bytes], name: bytes = b"EVAL") -> list[bytes]:
    return [name, body, b"%d" % len(DECLARED), *DECLARED, *args]


def runs_in_scripts(args: list[bytes]) -> bool:
    """Whether Redis and a script here may both run ``args``: not a command refused in
    scripts by design (``REFUSED_IN_SCRIPTS``), nor one naming a key the script did not
    declare (a value the generator appended where a command takes more keys, ``EXISTS k5
    3.5``), which a script here may not touch (README, EVAL row: "a script may touch only
    the keys it declares in KEYS")."""
    if args[0].upper() in REFUSED_IN_SCRIPTS:
        return False
    spec = resolve(args)
    if isinstance(spec, Error):
        return True
    found = spec.keys(args)
    return found is None or all(key in DECLARED for key, _ in found)


def resent(args: list[bytes]) -> bool:
    """Whether a request may be sent more than once in a step (``NOT_RESENT``)."""
    if args[0].upper() not in RELATIVE_EXPIRES:
        return True
    return not any(arg.upper() in NOT_RESENT for arg in args[3:])


def check_scripted(
    diff: Differential, way: str, mode: str, args: list[bytes], context: str
) -> None:
    """``args`` run by the script of ``way`` (``BODIES``), compared as ``mode`` says."""
    body, name = BODIES[way], b"EVAL_RO" if way == "ro" else b"EVAL"
    if mode == "collection_scan":
        # A full iteration, every step through the script.
        command, options = (args[0], args[1]), args[3:]
        pairs = args[0] in (b"HSCAN", b"ZSCAN")
        theirs = Differential._full_scan(
            lambda *a: diff.redis.call(*scripted(body, list(a), name)), command, options, pairs
        )
        ours = Differential._full_scan(
            lambda *a: diff.ours(*scripted(body, list(a), name)), command, options, pairs
        )
        assert theirs == ours, f"{context} {args!r}: {theirs} != {ours}"
        return
    assert mode in EXEC_MODES, mode
    diff.check_request(mode, scripted(body, args, name), context=context)


def check_step(
    diff: Differential, rng: random.Random, mode: str, args: list[bytes], context: str
) -> None:
    """One request plainly, through ``redis.pcall`` and sometimes ``redis.call``; a request
    sent only once goes one of those ways."""
    ways = ["plain"]
    if runs_in_scripts(args) and mode not in ("scan", "random"):
        ways.append("pcall")
        if rng.random() < CALL_SHARE:
            ways.append("call")
        if rng.random() < READ_ONLY_SHARE:
            ways.append("ro")
        if mode == "exact" and rng.random() < NESTED_SHARE:
            ways.append("nested")
        if mode == "exact" and rng.random() < JSON_SHARE:
            ways.append("json")
        if not resent(args):
            ways = [rng.choice(ways)]
    for way in ways:
        where = f"{context} {way}"
        if way == "plain":
            diff.check_request(mode, args, context=where)
        else:
            check_scripted(diff, way, mode, args, where)


def check_multi(
    diff: Differential, rng: random.Random, requests: list[Request], context: str
) -> None:
    """``requests`` inside MULTI/EXEC where their replies can be compared as EXEC's items;
    set-up (INJECT) and full iterations run before it."""
    lines: list[Request] = []
    for mode, args in requests:
        if mode == "inject":
            diff.put_non_string(args[1], ValueType(int(args[2])))
        elif mode not in EXEC_MODES:
            diff.check_request(mode, args, context=f"{context} before MULTI")
        elif runs_in_scripts(args) and rng.random() < SCRIPTED_IN_MULTI:
            lines.append((mode, scripted(rng.choice((PCALL, CALL)), args)))
        else:
            lines.append((mode, args))
    if not lines:
        return
    assert diff.redis.call(b"MULTI") == b"+OK\r\n"
    aborted = False
    for _, args in lines:
        theirs = diff.redis.call(*args)
        error = queue_error(args)
        if error is None:
            assert theirs == b"+QUEUED\r\n", _mismatch(args, theirs, b"+QUEUED\r\n", context)
        else:
            ours = encode_reply(error, diff.protocol)
            assert ours == theirs, _mismatch(args, theirs, ours, f"{context} queued")
            aborted = True
    theirs = diff.redis.call(b"EXEC")
    if aborted:
        ours = encode_reply(EXECABORT, diff.protocol)
    else:
        ours = diff.ours_exec([args for _, args in lines])
    assert same_exec(theirs, ours, [mode for mode, _ in lines]), _mismatch(
        [b"EXEC", *(b" ".join(args) for _, args in lines)], theirs, ours, context
    )


def same_exec(theirs: bytes, ours: bytes, modes: list[str]) -> bool:
    """The same EXEC reply, each item compared as its request's mode says."""
    if theirs == ours:
        return True
    a, b = parse_reply(theirs)[0], parse_reply(ours)[0]
    if a.kind != "*" or b.kind != "*" or not isinstance(a.value, list):
        return False
    if not isinstance(b.value, list) or not len(a.value) == len(b.value) == len(modes):
        return False
    return all(same_item(mode, x, y) for mode, x, y in zip(modes, a.value, b.value, strict=True))


def same_item(mode: str, theirs: Parsed, ours: Parsed) -> bool:
    if theirs == ours:
        return True
    if mode in ("ttl", "pttl"):
        if not theirs.kind == ours.kind == ":":
            return False
        assert isinstance(theirs.value, bytes) and isinstance(ours.value, bytes)
        x, y = int(theirs.value), int(ours.value)
        tolerance = TTL_TOLERANCE_S if mode == "ttl" else PTTL_TOLERANCE_MS
        return x >= 0 and y >= 0 and abs(x - y) <= tolerance
    if not isinstance(theirs.value, list) or not isinstance(ours.value, list):
        return False
    if mode == "keys":
        return theirs.kind == ours.kind and theirs.sorted_items() == ours.sorted_items()
    if mode == "pairs":
        return _pairs(theirs) == _pairs(ours)
    return False


def _pairs(parsed: Parsed) -> list[tuple[str, str]] | Parsed:
    flat = _flatten_pairs(parsed)
    if not isinstance(flat.value, list):
        return flat
    items = [repr(item) for item in flat.value]
    return sorted(zip(items[::2], items[1::2], strict=True))


def replay_scripted(diff: Differential, seed: int, steps: int) -> None:
    generator = Generator(seed)
    rng = random.Random(f"scripts:{seed}")  # the generator's own draws stay as they are
    step = 0
    while step < steps:
        context = f"[seed={seed} step={step + 1} RESP{diff.protocol}]"
        if rng.random() < MULTI_SHARE:
            count = min(rng.randint(1, 5), steps - step)
            requests = [generator.request() for _ in range(count)]
            step += count
            check_multi(diff, rng, requests, f"{context} MULTI of {count}")
            continue
        step += 1
        mode, args = generator.request()
        if mode == "inject":
            diff.put_non_string(args[1], ValueType(int(args[2])))
        else:
            check_step(diff, rng, mode, args, context)
    check_final_state(diff, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_commands_from_scripts_and_multi_reply_like_redis(
    diff: Differential, seed: int
) -> None:
    replay_scripted(diff, seed, STEPS)
