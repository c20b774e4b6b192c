"""Hash commands (Redis's t_hash.c): HSET, HGET, HDEL, HINCRBY, HSCAN and friends.

A hash is one stored value of type HASH whose payload is its fields and
values in insertion order (``encode_hash``): a field that is set again keeps
its place, a deleted one that comes back goes last. That is the order Redis
itself keeps for small hashes (its listpack encoding), so HGETALL, HKEYS,
HVALS and HSCAN answer in the same order as Redis for them; for large ones
Redis's order is its hash table's, which clients must not rely on anyway.
Every write rewrites the whole value, so a write costs time in proportion
to the hash's size: hashes of thousands of small fields are fine, a hash
meant to hold millions of fields is not.

As everywhere, the checks follow Redis 7.0's order: what Redis rejects
before it looks the key up (an odd number of HSET arguments, a bad
increment, a bad HSCAN cursor, a bad HRANDFIELD count) is ``prepare``'s; the
rest is the handler's. A hash never exists empty: deleting its last field
deletes the key.

HRANDFIELD picks from the command's seed, like SRANDMEMBER and ZRANDMEMBER
(whose parsing and reply it shares: ``keyspace.random_pairs_request``), so
every replica that runs it picks alike; WITHVALUES pairs nest under RESP3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

from protocol.replies import OK, Error, Map, Reply
from storage.interface import KeyValueView, StorageError, ValueType

from . import errors, extended
from .containers import Kind, expire_of
from .integers import LLONG_MAX, LLONG_MIN, ll_bytes, parse_ll
from .keyspace import random_pairs_reply, random_pairs_request

HASH = ValueType.HASH
HASH_NOT_INTEGER = Error("ERR hash value is not an integer")
HASH_NOT_FLOAT = Error("ERR hash value is not a float")
NAN_OR_INFINITY_ARGUMENT = Error("ERR value is NaN or Infinity")

Fields = dict[bytes, bytes]


def _fields(items: list[bytes]) -> Fields:
    if len(items) % 2:
        raise StorageError("a stored hash is not a list of field/value pairs")
    fields = dict(zip(items[::2], items[1::2], strict=True))
    if len(fields) * 2 != len(items):
        raise StorageError("a stored hash repeats a field")
    return fields


def _flatten(fields: Fields) -> Iterable[bytes]:
    """``field, value, field, value...``, by two slice assignments (loops in C): every
    write of a hash does this to all of it."""
    items: list[bytes] = [b""] * (2 * len(fields))
    items[::2] = fields.keys()
    items[1::2] = fields.values()
    return items


HASHES = Kind(HASH, "hash", _fields, _flatten, dict)
encode_hash = HASHES.encode
decode_hash = HASHES.decode


# --- prepare -------------------------------------------------------------------


def prepare_hset(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """HSET and HMSET: fields and values come in pairs (Redis's arity error otherwise)."""
    if len(args) % 2:
        return errors.wrong_arity(args[0].lower())
    return (args[0].upper(), *args[1:])


def prepare_hrandfield(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """HRANDFIELD's count and WITHVALUES are refused before the key is looked up."""
    request = random_pairs_request(args, b"withvalues")
    if isinstance(request, Error):
        return request
    return (b"HRANDFIELD", *args[1:])


def prepare_hincrby(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if parse_ll(args[3]) is None:
        return errors.NOT_INTEGER
    return (b"HINCRBY", args[1], args[2], args[3])


def prepare_hincrbyfloat(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    increment = extended.parse(args[3])
    if increment is None:
        return errors.NOT_FLOAT
    if isinstance(increment, float):  # inf or nan
        return NAN_OR_INFINITY_ARGUMENT
    return (b"HINCRBYFLOAT", args[1], args[2], args[3])


# --- handlers ------------------------------------------------------------------


def cmd_hset(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """HSET (the number of new fields) and HMSET (OK)."""
    if len(args) < 4 or len(args) % 2:
        return errors.wrong_arity(args[0].lower())
    key = args[1]
    found = HASHES.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, fields = found
    before = len(fields)
    for i in range(2, len(args), 2):
        fields[args[i]] = args[i + 1]
    HASHES.store(kv, key, expire_of(old), fields)
    return OK if args[0] == b"HMSET" else len(fields) - before


def cmd_hsetnx(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key, field = args[1], args[2]
    found = HASHES.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, fields = found
    if field in fields:
        return 0
    fields[field] = args[3]
    HASHES.store(kv, key, expire_of(old), fields)
    return 1


cmd_hget = HASHES.reading(lambda fields, args: fields.get(args[2]))
cmd_hmget = HASHES.reading(lambda fields, args: [fields.get(field) for field in args[2:]])
cmd_hexists = HASHES.reading(lambda fields, args: 1 if args[2] in fields else 0)
cmd_hlen = HASHES.reading(lambda fields, args: len(fields))
cmd_hstrlen = HASHES.reading(lambda fields, args: len(fields.get(args[2], b"")))
cmd_hgetall = HASHES.reading(lambda fields, args: Map(list(fields.items())))
cmd_hkeys = HASHES.reading(lambda fields, args: list(fields))
cmd_hvals = HASHES.reading(lambda fields, args: list(fields.values()))


def cmd_hdel(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key = args[1]
    found = HASHES.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, fields = found
    deleted = 0
    for field in args[2:]:
        if fields.pop(field, None) is not None:
            deleted += 1
    if deleted:
        HASHES.store(kv, key, expire_of(old), fields)
    return deleted


def cmd_hincrby(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    increment = parse_ll(args[3])
    if increment is None:
        return errors.NOT_INTEGER
    key, field = args[1], args[2]
    found = HASHES.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, fields = found
    current = 0
    if field in fields:
        parsed = parse_ll(fields[field])
        if parsed is None:
            return HASH_NOT_INTEGER
        current = parsed
    result = current + increment
    if not LLONG_MIN <= result <= LLONG_MAX:
        return errors.OVERFLOW
    fields[field] = ll_bytes(result)
    HASHES.store(kv, key, expire_of(old), fields)
    return result


def cmd_hincrbyfloat(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Long double arithmetic and formatting, as INCRBYFLOAT (see ``extended``)."""
    increment = extended.parse(args[3])
    if increment is None:
        return errors.NOT_FLOAT
    if isinstance(increment, float):
        return NAN_OR_INFINITY_ARGUMENT
    key, field = args[1], args[2]
    found = HASHES.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, fields = found
    current = extended.parse(fields[field]) if field in fields else Fraction(0)
    if current is None:
        return HASH_NOT_FLOAT
    total = extended.add(current, increment)
    if total is None or isinstance(total, float):
        return errors.NAN_OR_INFINITY
    payload = extended.format_human(total)
    fields[field] = payload
    HASHES.store(kv, key, expire_of(old), fields)
    return payload


cmd_hscan = HASHES.scanning(lambda fields: fields.items())


def cmd_hrandfield(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Fields (with WITHVALUES, field/value pairs) picked with the command's seed; a
    count covering the whole hash returns it in its stored order, as Redis does."""
    request = random_pairs_request(args, b"withvalues")
    if isinstance(request, Error):
        return request
    fields = HASHES.load_shared(kv, args[1], now_ms)
    if isinstance(fields, Error):
        return fields
    return random_pairs_reply(list(fields.items()), request, seed)
