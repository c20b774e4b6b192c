"""DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis's fingerprint of the data, computed as Redis does.

Replicas that executed the same commands hold the same data; a digest lets an
operator check it. DEBUG DIGEST is a keyspace-wide read, ordered like any
other command, so the digest it answers is that of the data at one point of
the order — every replica that answers one computes it at its own point, and
two replicas' digests agree when nothing wrote in between (see the README).
DIGEST-VALUE reads only the keys it names.

The arithmetic is Redis 7.0's (``debug.c``), so a digest taken here and one
taken from a Redis holding the same data agree (compared with redis-server in
``tests/commands/test_differential_debug.py``): SHA1 throughout; ordered
things (a list's elements, a stream's entries, a key then its value) are
*mixed* — hashed into the running digest, which is hashed again — and
unordered things (a set's members, a hash's fields, a sorted set's members,
the keys of the dataset) are XORed in, each as the SHA1 of its own digest
(members as the SHA1 of the member), so their order does not matter. A stream
contributes its entries only (not its consumer groups), as in Redis; an empty
dataset digests to forty zeros.
"""

from __future__ import annotations

import hashlib
import struct

from protocol.replies import Reply, SimpleString, help_reply
from storage.interface import KeyValueView, Value, ValueType

from . import errors
from .hashes import HASHES
from .lists import decode_list
from .sets import SETS
from .streams import STREAMS
from .values import live
from .zsets import ZSETS

ZERO = bytes(20)

REDIS_TYPE = {
    ValueType.STRING: 0,
    ValueType.LIST: 1,
    ValueType.SET: 2,
    ValueType.ZSET: 3,
    ValueType.HASH: 4,
    ValueType.STREAM: 6,
}
"""Redis's object type numbers (``OBJ_STRING``...), which the digest includes."""

DB_0 = struct.pack(">I", 0)
"""Database 0's number as Redis mixes it in before its keys (the only database here)."""

DEBUG_HELP = (
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "HELP",
    "    Prints this help.",
)
"""Redis's DEBUG HELP, cut to the subcommands epaxosdb has."""


def _xor(digest: bytes, data: bytes) -> bytes:
    """``digest`` XOR SHA1(``data``): adds ``data`` in an order-independent way."""
    return (int.from_bytes(digest) ^ int.from_bytes(hashlib.sha1(data).digest())).to_bytes(20)


def _mix(digest: bytes, data: bytes) -> bytes:
    """SHA1(``digest`` XOR SHA1(``data``)): adds ``data`` after what is already in."""
    return hashlib.sha1(_xor(digest, data)).digest()


def value_digest(value: Value, digest: bytes = ZERO) -> bytes:
    """``value``'s contents and expiry mixed into ``digest`` (Redis's ``xorObjectDigest``)."""
    digest = _mix(digest, struct.pack(">I", REDIS_TYPE[value.type]))
    payload = value.payload
    if value.type is ValueType.STRING:
        digest = _mix(digest, payload)
    elif value.type is ValueType.LIST:
        for element in decode_list(payload):
            digest = _mix(digest, element)
    elif value.type is ValueType.SET:
        for member in SETS.decode_shared(payload):
            digest = _xor(digest, member)
    elif value.type is ValueType.ZSET:
        for member, score in ZSETS.decode_shared(payload).items():
            pair = _mix(_mix(ZERO, member), b"%.17g" % score)
            digest = _xor(digest, pair)
    elif value.type is ValueType.HASH:
        for field, text in HASHES.decode_shared(payload).items():
            digest = _xor(digest, _mix(_mix(ZERO, field), text))
    else:
        for (ms, seq), pairs in STREAMS.decode_shared(payload).entries.items():
            digest = _mix(digest, b"%d.%d" % (ms, seq))
            for item in pairs:
                digest = _mix(digest, item)
    if value.expire_ms:
        digest = _xor(digest, b"!!expire!!")
    return digest


def dataset_digest(kv: KeyValueView, now_ms: int) -> bytes:
    """The digest of every live key and its value (Redis's ``computeDatasetDigest``)."""
    total, empty = _mix(ZERO, DB_0), True  # only a database holding keys is mixed in
    for key in kv.iter_keys():
        value = live(kv, key, now_ms)
        if value is not None:
            total, empty = _xor(total, value_digest(value, _mix(ZERO, key))), False
    return ZERO if empty else total


def cmd_debug(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """DEBUG DIGEST, DIGEST-VALUE and HELP; every other subcommand as Redis answers one it
    does not know."""
    sub = args[1].upper()
    if sub == b"DIGEST" and len(args) == 2:
        return SimpleString(dataset_digest(kv, now_ms).hex().encode())
    if sub == b"DIGEST-VALUE":
        digests: list[Reply] = []
        for key in args[2:]:
            value = live(kv, key, now_ms)
            hexed = (ZERO if value is None else value_digest(value)).hex().encode()
            digests.append(SimpleString(hexed))
        return digests
    if sub == b"HELP" and len(args) == 2:
        return help_reply(DEBUG_HELP)
    return errors.subcommand_arity(b"debug", args[1])
