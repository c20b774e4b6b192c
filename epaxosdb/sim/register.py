"""The sequential model of one Redis string key that histories are checked against.

Redis 7 semantics: GET, SET [NX|XX] [GET] [KEEPTTL], GETSET, SETNX, DEL,
GETDEL, INCR/DECR/INCRBY/DECRBY (with their "not an integer" and overflow
errors, which must be explained like any other reply), APPEND, STRLEN,
EXISTS, and MULTI (an atomic sequence of those on one key). Each operation is
compiled once into a transition over the register's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from protocol.replies import OK, Error

from .operations import IMPOSSIBLE, UNCHECKED, Marker, Operation, steps_of

State: TypeAlias = bytes | None
Transition: TypeAlias = Callable[[State], tuple[State, object]]
StepFn: TypeAlias = Callable[[State], State | Literal[Marker.IMPOSSIBLE]]


@dataclass(frozen=True, slots=True)
class _Failure:
    """An error reply, reduced to what the model can predict about it."""

    reason: str

    def __repr__(self) -> str:
        return f"ERR {self.reason}"


NOT_AN_INTEGER: Final = _Failure("not an integer")
OVERFLOW: Final = _Failure("increment or decrement would overflow")
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_INTEGER = re.compile(rb"0|-?[1-9][0-9]{0,19}")
_READ_ONLY_KINDS: Final = frozenset({"GET", "STRLEN", "EXISTS"})
_SET_OPTIONS: Final = frozenset({"NX", "XX", "GET", "KEEPTTL"})


@dataclass(frozen=True, slots=True)
class Compiled:
    transition: Transition
    writes: bool
    normalise: Callable[[object], object]
    blind: bool = False
    """The new value does not depend on the old one."""
    transparent: bool = False
    """The reply is constant or the old value itself, so it tells an unique
    value from any other only by naming it."""


def _redis_integer(value: State) -> int | None:
    """The integer Redis's string2ll reads from a value (absent is 0), or None."""
    if value is None:
        return 0
    if _INTEGER.fullmatch(value) is None:
        return None
    number = int(value)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode()
    raise ValueError(f"{what}: expected bytes, got {value!r}")


def _as_int(value: object, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _redis_integer(_as_bytes(value, what)) if value is not None else None
    if number is None:
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    return number


def _arity(kind: str, args: tuple[object, ...], count: int) -> None:
    if len(args) != count:
        raise ValueError(f"{kind} takes {count} argument(s) after the key, got {args!r}")


def _normalise(raw: object, ok_reply: bool = False) -> object:
    """Map the spellings clients use for one reply onto the model's spelling."""
    if isinstance(raw, Marker):
        return raw
    if isinstance(raw, Error):
        return _failure(raw.text)
    if isinstance(raw, BaseException):
        return _failure(str(raw))
    if ok_reply and (raw is True or raw == OK or raw in (b"OK", "OK")):
        return OK  # redis-py spells +OK as True
    if isinstance(raw, bool):
        raw = int(raw)
    if isinstance(raw, str | bytearray | memoryview):
        raw = _as_bytes(raw, "reply")
    return raw


def _failure(text: str) -> _Failure:
    if "not an integer" in text:
        return NOT_AN_INTEGER
    if "overflow" in text:
        return OVERFLOW
    return _Failure(text)


def _compile_increment(kind: str, args: tuple[object, ...]) -> Compiled:
    if kind in ("INCR", "DECR"):
        _arity(kind, args, 0)
        delta = 1
    else:
        _arity(kind, args, 1)
        delta = _as_int(args[0], kind)
    if kind.startswith("DECR"):
        delta = -delta

    def increment(state: State) -> tuple[State, object]:
        current = _redis_integer(state)
        if current is None:
            return state, NOT_AN_INTEGER
        new = current + delta
        if not _INT64_MIN <= new <= _INT64_MAX:
            return state, OVERFLOW
        return str(new).encode(), new

    return Compiled(increment, True, _normalise)


def _compile_set(args: tuple[object, ...]) -> Compiled:
    if not args:
        raise ValueError("SET needs a value")
    value = _as_bytes(args[0], "SET value")
    options = [_as_bytes(option, "SET option").decode().upper() for option in args[1:]]
    unsupported = set(options) - _SET_OPTIONS
    if unsupported:
        raise ValueError(f"SET options {sorted(unsupported)} are not modelled (expiry is not)")
    nx, xx, get = "NX" in options, "XX" in options, "GET" in options
    if nx and xx:
        raise ValueError("SET NX XX is a syntax error, not an operation")

    def set_(state: State) -> tuple[State, object]:
        applies = (not nx or state is None) and (not xx or state is not None)
        new = value if applies else state
        if get:
            return new, state
        return new, OK if applies else None

    return Compiled(
        set_,
        True,
        lambda raw: _normalise(raw, ok_reply=not get),
        blind=not (nx or xx),
        transparent=not (nx or xx),
    )


def _compile_value_command(kind: str, args: tuple[object, ...]) -> Compiled:
    """GETSET, SETNX and APPEND: one value argument."""
    _arity(kind, args, 1)
    value = _as_bytes(args[0], f"{kind} value")
    transition: Transition
    if kind == "GETSET":

        def transition(state: State) -> tuple[State, object]:
            return value, state

    elif kind == "SETNX":

        def transition(state: State) -> tuple[State, object]:
            return (value, 1) if state is None else (state, 0)

    else:

        def transition(state: State) -> tuple[State, object]:
            new = value if state is None else state + value
            return new, len(new)

    getset = kind == "GETSET"
    return Compiled(transition, True, _normalise, blind=getset, transparent=getset)


def _compile_keyed(kind: str, args: tuple[object, ...]) -> Compiled:
    """Commands with no argument after the key."""
    _arity(kind, args, 0)
    transitions: dict[str, Transition] = {
        "GET": lambda state: (state, state),
        "STRLEN": lambda state: (state, 0 if state is None else len(state)),
        "EXISTS": lambda state: (state, int(state is not None)),
        "DEL": lambda state: (None, int(state is not None)),
        "GETDEL": lambda state: (None, state),
    }
    return Compiled(
        transitions[kind],
        kind not in _READ_ONLY_KINDS,
        _normalise,
        blind=kind in ("DEL", "GETDEL"),
        transparent=kind in ("GET", "GETDEL"),
    )


def _compile_multi(args: tuple[object, ...]) -> Compiled:
    parts = [
        compile_operation(str(kind), step_args, nested=True) for kind, step_args in steps_of(args)
    ]
    if not parts:
        raise ValueError("MULTI on a key needs at least one step")

    def multi(state: State) -> tuple[State, object]:
        replies = []
        for part in parts:
            state, reply = part.transition(state)
            replies.append(reply)
        return state, tuple(replies)

    def normalise(raw: object) -> object:
        if isinstance(raw, Marker):
            return raw
        if not isinstance(raw, tuple | list) or len(raw) != len(parts):
            raise ValueError(f"MULTI result must hold {len(parts)} replies, got {raw!r}")
        return tuple(part.normalise(reply) for part, reply in zip(parts, raw, strict=True))

    return Compiled(multi, any(part.writes for part in parts), normalise)


def compile_operation(kind: str, args: tuple[object, ...], nested: bool = False) -> Compiled:
    """Turn a command into a pure transition of the register, validating it once."""
    kind = kind.upper()
    if kind in ("GET", "STRLEN", "EXISTS", "DEL", "GETDEL"):
        return _compile_keyed(kind, args)
    if kind == "SET":
        return _compile_set(args)
    if kind in ("GETSET", "SETNX", "APPEND"):
        return _compile_value_command(kind, args)
    if kind in ("INCR", "DECR", "INCRBY", "DECRBY"):
        return _compile_increment(kind, args)
    if kind == "MULTI" and not nested:
        return _compile_multi(args)
    raise ValueError(f"the register model does not know {kind!r}")


def _replies_match(expected: object, actual: object) -> bool:
    if actual is UNCHECKED:
        return True
    if isinstance(actual, tuple) and isinstance(expected, tuple):
        return len(actual) == len(expected) and all(
            _replies_match(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return expected == actual


def step_fn(compiled: Compiled, op: Operation) -> StepFn:
    """A function from the register before ``op`` to the register after it, or
    IMPOSSIBLE when the model cannot produce the reply the client recorded."""
    transition = compiled.transition
    if op.indeterminate:
        return lambda state: transition(state)[0]
    actual = compiled.normalise(op.result)
    if actual is UNCHECKED:
        return lambda state: transition(state)[0]

    def step(state: State) -> State | Literal[Marker.IMPOSSIBLE]:
        new, reply = transition(state)
        return new if _replies_match(reply, actual) else IMPOSSIBLE

    return step


def model_reply(op: Operation, state: State) -> tuple[State, object]:
    """What the model says ``op`` does to a register holding ``state``."""
    return compile_operation(op.kind, op.args).transition(state)
