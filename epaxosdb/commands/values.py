"""Reading stored values the way every handler must: expired means absent.

A value whose ``expire_ms`` is non-zero and not after the executing command's
timestamp does not exist for any command, even though it is still stored
until a write or the expiry sweep removes it. Reads never delete it: only
the proposing replica runs a read, and every replica must keep the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from protocol.replies import Error
from storage.interface import KeyValueView, Payload, Value, ValueHeader, ValueType

from . import errors

R = TypeVar("R")

STRING = ValueType.STRING
STRING_LENGTH_MAX = 512 * 1024 * 1024
"""``proto-max-bulk-len``'s default: the largest string SETRANGE/APPEND may build."""

TYPE_NAMES: dict[int, bytes] = {
    ValueType.STRING: b"string",
    ValueType.LIST: b"list",
    ValueType.HASH: b"hash",
    ValueType.SET: b"set",
    ValueType.ZSET: b"zset",
    ValueType.STREAM: b"stream",
}


def live(kv: KeyValueView, key: bytes, now_ms: int) -> Value | None:
    """The value of ``key`` unless it is absent or expired at ``now_ms``."""
    value = kv.get(key)
    if value is None or (value.expire_ms and value.expire_ms <= now_ms):
        return None
    return value


def live_header(kv: KeyValueView, key: bytes, now_ms: int) -> ValueHeader | None:
    """``live``'s answer without the payload, for handlers that need only the type, the
    expiry or the size: EXISTS or TTL of a 64 MB value does not copy it."""
    header = kv.header(key)
    if header is None or (header.expire_ms and header.expire_ms <= now_ms):
        return None
    return header


def read_live(
    kv: KeyValueView,
    key: bytes,
    now_ms: int,
    value_type: ValueType,
    reader: Callable[[Payload], R],
    absent: R,
) -> R | Error:
    """``reader(payload)`` of the live value at ``key`` where it is stored, not copied:
    ``absent`` when the key is missing or expired, WRONGTYPE for another type.

    For reads of a part of a large value (GETRANGE, LRANGE near an end), which
    then cost what the part does. ``reader`` copies out what it returns (see
    ``KeyValueView.read_in_place``)."""

    def checked(header: ValueHeader, payload: Payload) -> tuple[R | Error]:
        if is_expired(header, now_ms):
            return (absent,)
        if header.type != value_type:
            return (errors.WRONGTYPE,)
        return (reader(payload),)

    found = kv.read_in_place(key, checked)
    return absent if found is None else found[0]


def is_expired(value: Value | ValueHeader, now_ms: int) -> bool:
    return value.expire_ms != 0 and value.expire_ms <= now_ms


def expired_keys(kv: KeyValueView, now_ms: int) -> set[bytes]:
    """Stored keys that are expired at ``now_ms`` (the sweep keeps this set small)."""
    return set(kv.expiring(now_ms, kv.count()))


def live_count(kv: KeyValueView, now_ms: int) -> int:
    return kv.count() - len(kv.expiring(now_ms, kv.count()))
