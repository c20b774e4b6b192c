"""Reading stored values the way every handler must: expired means absent.

A value whose ``expire_ms`` is non-zero and not after the executing command's
timestamp does not exist for any command, even though it is still stored
until a write or the expiry sweep removes it. Reads never delete it: only
the proposing replica runs a read, and every replica must keep the same state.
"""

from __future__ import annotations

from storage.interface import KeyValueView, Value, ValueHeader, ValueType

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


def is_expired(value: Value | ValueHeader, now_ms: int) -> bool:
    return value.expire_ms != 0 and value.expire_ms <= now_ms


def expired_keys(kv: KeyValueView, now_ms: int) -> set[bytes]:
    """Stored keys that are expired at ``now_ms`` (the sweep keeps this set small)."""
    return set(kv.expiring(now_ms, kv.count()))


def live_count(kv: KeyValueView, now_ms: int) -> int:
    return kv.count() - len(kv.expiring(now_ms, kv.count()))
