"""What a stored value must be, and how ``LmdbStore`` spells it on disk.

Both stores run the same checks on every ``put`` so that a handler bug
(a ``str`` key, a ``bytearray`` payload, a float expiry) fails the same way
in the simulator as in production, instead of working in memory and
corrupting the disk format later. Payloads must be immutable ``bytes``: the
memory store keeps what it is given, and a mutable buffer changed after
``put`` would make a replica's state differ from what it applied.

On-disk record (big-endian)::

    tag:u8  expire_ms:i64  [key_len:u32 key]  payload

``tag`` is the ``ValueType``; bit 7 says the full key follows, which is the
case exactly for keys too long to be an LMDB key (see ``storage.keys``).
"""

from __future__ import annotations

import struct

from storage.interface import StorageError, Value, ValueHeader, ValueType

EXPIRE_MS_MIN = -(1 << 63)
EXPIRE_MS_MAX = (1 << 63) - 1

_HEADER = struct.Struct(">Bq")
_KEY_LEN = struct.Struct(">I")
_LONG_KEY_FLAG = 0x80
_TAGS = frozenset(int(t) for t in ValueType)
_HEADER_SIZE = _HEADER.size
_unpack_header = _HEADER.unpack_from
_PLAIN_TYPES = {int(t): t for t in ValueType}
"""Tags without the long-key flag, to their type."""
new_value = tuple.__new__
"""``new_value(Value, (type, expire_ms, payload))`` is ``Value(type, expire_ms, payload)``
without NamedTuple's Python-level ``__new__`` (half the cost), for the hottest paths:
decoding a record, the plain SET every pipelined write is."""
_PLAIN_HEADERS = {t: _HEADER.pack(t, 0) for t in ValueType}
"""Headers of values without expiry, by type: most writes, so packed once."""
PLAIN_HEADERS = _PLAIN_HEADERS
"""``encode_value(value, None)`` of a value without expiry is ``PLAIN_HEADERS[value.type]
+ value.payload`` (batch writers inline it)."""


def check_key(key: object) -> None:
    if type(key) is not bytes:
        raise TypeError(f"keys are bytes, got {type(key).__name__}")


def check_value(value: object) -> None:
    if (
        type(value) is Value
        and type(value.type) is ValueType
        and type(value.expire_ms) is int
        and type(value.payload) is bytes
        and EXPIRE_MS_MIN <= value.expire_ms <= EXPIRE_MS_MAX
    ):
        return  # the common case, decided in one expression (this runs for every write)
    if not isinstance(value, Value):
        raise TypeError(f"values are storage.interface.Value, got {type(value).__name__}")
    if not isinstance(value.type, ValueType):
        raise TypeError(f"Value.type must be a ValueType, got {value.type!r}")
    if type(value.expire_ms) is not int:
        raise TypeError(f"Value.expire_ms must be an int, got {type(value.expire_ms).__name__}")
    if not EXPIRE_MS_MIN <= value.expire_ms <= EXPIRE_MS_MAX:
        raise ValueError(f"Value.expire_ms {value.expire_ms} does not fit in 64 bits")
    if type(value.payload) is not bytes:
        raise TypeError(f"Value.payload must be bytes, got {type(value.payload).__name__}")


def encode_value(value: Value, full_key: bytes | None) -> bytes:
    """The record for ``value``; ``full_key`` only for keys stored under a digest."""
    if full_key is None:
        if not value.expire_ms:
            return _PLAIN_HEADERS[value.type] + value.payload
        return _HEADER.pack(value.type, value.expire_ms) + value.payload
    return b"".join(
        (
            _HEADER.pack(int(value.type) | _LONG_KEY_FLAG, value.expire_ms),
            _KEY_LEN.pack(len(full_key)),
            full_key,
            value.payload,
        )
    )


def decode_value(record: bytes) -> tuple[Value, bytes | None]:
    """``(value, full key or None)``; ``StorageError`` if the record is not one of ours."""
    if len(record) >= _HEADER_SIZE:
        # The common case first: a short key's record (no full key inside), whose tag
        # ``_PLAIN_TYPES`` knows; anything else is parsed (and refused) below.
        tag, expire_ms = _unpack_header(record)
        value_type = _PLAIN_TYPES.get(tag)
        if value_type is not None:
            return new_value(Value, (value_type, expire_ms, record[_HEADER_SIZE:])), None
    value_type, expire_ms, key_span = _parse_header(record)
    if key_span is None:
        return Value(value_type, expire_ms, record[_HEADER.size :]), None
    key_start, key_end = key_span
    return Value(value_type, expire_ms, record[key_end:]), record[key_start:key_end]


def decode_mapped(record: memoryview) -> tuple[Value, bytes | None]:
    """``decode_value`` of a record still in LMDB's map: its payload is copied out once.

    (``decode_value`` of a copied record copies the payload a second time, which
    for a 64 MB value is most of what reading it costs.)"""
    if len(record) >= _HEADER_SIZE:  # the common case first, as in ``decode_value``
        tag, expire_ms = _unpack_header(record)
        value_type = _PLAIN_TYPES.get(tag)
        if value_type is not None:
            return new_value(Value, (value_type, expire_ms, record[_HEADER_SIZE:].tobytes())), None
    header, full_key = decode_header(record)
    payload = record[len(record) - header.size :].tobytes()
    return Value(header.type, header.expire_ms, payload), full_key


def decode_header(record: bytes | memoryview) -> tuple[ValueHeader, bytes | None]:
    """The header of a record and its full key (long keys only), without the payload."""
    if len(record) >= _HEADER_SIZE:  # the common case first, as in ``decode_value``
        tag, expire_ms = _unpack_header(record)
        plain_type = _PLAIN_TYPES.get(tag)
        if plain_type is not None:
            return new_value(ValueHeader, (plain_type, expire_ms, len(record) - _HEADER_SIZE)), None
    value_type, expire_ms, key_span = _parse_header(record)
    if key_span is None:
        return ValueHeader(value_type, expire_ms, len(record) - _HEADER_SIZE), None
    key_start, key_end = key_span
    full_key = bytes(record[key_start:key_end])
    return ValueHeader(value_type, expire_ms, len(record) - key_end), full_key


def record_expire_ms(record: bytes) -> int:
    """The expiry of a record without copying its payload (for index upkeep)."""
    return _parse_header(record)[1]


def record_full_key(record: bytes | memoryview) -> bytes | memoryview:
    """The full key kept inside a long key's record, without copying the payload."""
    key_span = _parse_header(record)[2]
    if key_span is None:
        raise StorageError("corrupt value record: a long key's record does not hold its key")
    return record[key_span[0] : key_span[1]]


def _parse_header(record: bytes | memoryview) -> tuple[ValueType, int, tuple[int, int] | None]:
    if len(record) < _HEADER.size:
        raise StorageError(f"corrupt value record: {len(record)} bytes is shorter than a header")
    tag, expire_ms = _HEADER.unpack_from(record)
    value_type = _value_type(tag)
    if not tag & _LONG_KEY_FLAG:
        return value_type, expire_ms, None
    key_start = _HEADER.size + _KEY_LEN.size
    if len(record) < key_start:
        raise StorageError("corrupt value record: truncated key length")
    (key_len,) = _KEY_LEN.unpack_from(record, _HEADER.size)
    key_end = key_start + key_len
    if len(record) < key_end:
        raise StorageError("corrupt value record: truncated key")
    return value_type, expire_ms, (key_start, key_end)


def _value_type(tag: int) -> ValueType:
    plain = tag & ~_LONG_KEY_FLAG
    if plain not in _TAGS:
        raise StorageError(f"corrupt value record: unknown type tag {plain}")
    return ValueType(plain)
