"""One recorded client operation on one key, and how to spell it in a failure message.

Shared by the linearizability checker (``linearizability``), its Redis register
model (``register``) and the timeline renderer (``timeline``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from protocol.replies import Error, SimpleString


class Marker(enum.Enum):
    """Sentinels for results that are not replies."""

    UNKNOWN = "?"
    """The client never learned the outcome: the operation is indeterminate."""
    UNCHECKED = "*"
    """The operation certainly ran within [call, ret], but its reply is not checked
    (e.g. one key's share of a multi-key DEL whose count cannot be projected)."""
    IMPOSSIBLE = "impossible"
    """Internal: the model step cannot produce the recorded reply."""

    def __repr__(self) -> str:
        return self.name


UNKNOWN: Final = Marker.UNKNOWN
UNCHECKED: Final = Marker.UNCHECKED
IMPOSSIBLE: Final = Marker.IMPOSSIBLE


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation on one key, as recorded by a client.

    ``kind`` is the Redis command name; ``args`` are its arguments after the key
    (``("v", "NX")`` for ``SET k v NX``; for ``MULTI``, a tuple of
    ``(kind, args)`` steps on this key). ``result`` is the reply as the client
    saw it: bytes/str, None, int, ``protocol.replies.OK`` (or ``b"OK"``/``True``
    for SET), a ``protocol.replies.Error`` or an exception for error replies, a
    tuple for MULTI, or ``UNKNOWN``. ``call``/``ret`` are ticks or seconds.
    """

    client: int
    key: bytes
    kind: str
    args: tuple[object, ...]
    result: object
    call: float
    ret: float | None

    def __post_init__(self) -> None:
        if self.ret is not None and self.ret < self.call:
            raise ValueError(f"operation returns before its call: {self}")

    @property
    def indeterminate(self) -> bool:
        """May or may not have taken effect, at any time after ``call``."""
        return self.ret is None or self.result is UNKNOWN

    def describe(self) -> str:
        """``SET b'1' NX -> OK``: the command and reply, without the key."""
        if self.kind.upper() == "MULTI":
            inner = "; ".join(describe_command(str(k), tuple(a)) for k, a in steps_of(self.args))
            command = f"MULTI[{inner}]"
        else:
            command = describe_command(self.kind, self.args)
        return f"{command} -> {'?' if self.indeterminate else short(self.result)}"


def steps_of(args: tuple[object, ...]) -> list[tuple[object, tuple[object, ...]]]:
    steps: list[tuple[object, tuple[object, ...]]] = []
    for step in args:
        if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[1], tuple)):
            raise ValueError(f"a MULTI step is a (kind, args) pair, got {step!r}")
        steps.append((step[0], step[1]))
    return steps


def short(value: object, limit: int = 32) -> str:
    if isinstance(value, SimpleString):
        text = value.text.decode(errors="replace")
    elif isinstance(value, Error):
        text = value.text
    elif isinstance(value, BaseException):
        text = f"{type(value).__name__}: {value}"
    elif isinstance(value, Marker):
        text = value.value
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_command(kind: str, args: tuple[object, ...]) -> str:
    return " ".join([kind.upper(), *(short(arg, 16) for arg in args)])
