"""OBJECT ENCODING, REFCOUNT, FREQ, IDLETIME and HELP, and SUBSTR (GETRANGE's old name).

Redis's OBJECT reports fields of its in-memory object: the encoding it chose,
the reference count, and the LRU or LFU word. epaxosdb stores values in
forms of its own (``containers``, ``packed_list``), so none of these fields
exists here; what can be answered honestly is answered from the value
itself, and what cannot is refused.

ENCODING: the encoding Redis 7.0.15 gives a value of these contents built
the plain way (SET, HSET, SADD, ZADD...; for HyperLogLogs PFADD), or
restored with RESTORE, under its default thresholds, which CONFIG reports
and keeps fixed here:

* strings: ``int`` for an integer as ``string2l`` reads it (canonical, within
  64 bits, at most 20 characters), ``embstr`` up to 44 bytes, ``raw`` beyond;
  a string that is a HyperLogLog (what PFADD, PFCOUNT and PFMERGE accept) is
  ``raw`` whatever its length, as those commands leave it in Redis;
* lists ``quicklist`` (Redis 7.0 has no listpack lists), streams ``stream``;
* hashes ``listpack`` up to 512 fields (``hash-max-listpack-entries``: 512 in
  Redis 7.0's code) whose fields and values are all at most 64 bytes, else
  ``hashtable``;
* sets ``intset`` up to 512 members that are all integers, else ``hashtable``
  (Redis 7.0 has no listpack sets);
* sorted sets ``listpack`` up to 128 members of at most 64 bytes each (scores
  do not count), else ``skiplist``.

That is also the form DUMP writes (``rdb``), so the two agree. Redis's
encoding depends on history as well, which no stored value here records, and
there we differ: Redis never converts a hash, set or sorted set back after it
outgrew its compact form (HDEL, SREM, SPOP, ZREM, ZPOPMIN, ZREMRANGEBY* leave
it ``hashtable`` or ``skiplist``; we answer from what is left); APPEND to an
existing key, SETRANGE, SETBIT and BITOP leave a string ``raw`` in Redis
(we say ``int`` or ``embstr`` if it is short); INCRBYFLOAT leaves ``embstr``
even when the result reads as an integer (we say ``int``); and an HLL
written with SET or RESTORE is ``embstr`` in Redis until a PF command touches
it (we say ``raw``). COPY keeps the source's encoding in Redis.

REFCOUNT: 2147483647 for the integers 0 to 9999, which Redis shares (with
``maxmemory 0``, fixed here), and 1 for every other value. Redis differs by
history here too: a COPY of such an integer, and an INCRBYFLOAT result that
reads as one, are private objects there (1; we answer 2147483647), and a
string SET earlier in the MULTI being executed is also held by the queued
command's arguments until EXEC ends (2; we answer 1).

FREQ: Redis tracks access frequency only under an LFU ``maxmemory-policy``;
here the policy is ``noeviction`` and CONFIG SET refuses any other, so FREQ
answers Redis's error for that case, always.

IDLETIME: Redis answers the seconds since the key was last touched, from a
per-instance clock that is not replicated. Tracking it here would mean a
write of per-key state for every command that names a key, reads included
(which run only at the replica their client talks to, so each replica would
know its own clients' reads and everybody's writes), kept outside the
replicated state and lost on restart: a cost on every command for a number
that differs from replica to replica. So it is refused, in the shape of
Redis's own refusal under an LFU policy (``... idle time not tracked.``).

For a missing (or expired) key every sub-command answers the null reply,
FREQ and IDLETIME included, as Redis looks the key up first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from protocol.replies import Error, Reply, help_reply
from storage.interface import KeyValueView, Payload, ValueHeader, ValueType

from . import errors
from .hashes import HASHES
from .hyperloglog import DENSE, DENSE_SIZE, HEADER_SIZE, SPARSE
from .integers import parse_ll
from .rdb import HASH_LISTPACK_ENTRIES, HASH_LISTPACK_VALUE
from .sets import INTSET_ENTRIES_MAX, SETS
from .values import is_expired, live_header
from .zsets import ZSET_LISTPACK_ENTRIES, ZSET_LISTPACK_VALUE, ZSETS, held_big

EMBSTR_SIZE_LIMIT = 44
"""``OBJ_ENCODING_EMBSTR_SIZE_LIMIT``: longer strings are ``raw``."""
INT_LENGTH_MAX = 20
"""``tryObjectEncoding`` tries integers only on strings this short."""
SHARED_INTEGERS = 10_000
"""``OBJ_SHARED_INTEGERS``: the values 0 to 9999 are shared objects in Redis."""
SHARED_REFCOUNT = 2_147_483_647
"""``OBJ_SHARED_REFCOUNT`` (``INT_MAX``): the reference count of a shared object."""

FREQ_NOT_TRACKED = Error(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time "
    "to adjust."
)
"""Redis 7.0's reply under any non-LFU ``maxmemory-policy``: here, always."""
IDLETIME_NOT_TRACKED = Error("ERR epaxosdb keeps no per-key access time, idle time not tracked.")
"""Ours, shaped like Redis's under an LFU policy ("An LFU maxmemory policy is selected,
idle time not tracked. ..."); see the module docstring for why."""

OBJECT_HELP = (
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
)

_ARRAY_HEADER_MAX = 5
"""A msgpack array's header: at most 5 bytes (``containers`` stores a collection as an
array of byte strings)."""
_ITEM_HEADER = 2
"""A msgpack ``bin 8``'s header: every item of at most 255 bytes has one of 2 bytes."""
_SCORE_ITEM = _ITEM_HEADER + 8
"""A sorted set's score item: 8 bytes (``zsets``)."""

COMPACT_PAYLOAD_MAX: dict[ValueType, int] = {
    ValueType.HASH: _ARRAY_HEADER_MAX
    + 2 * HASH_LISTPACK_ENTRIES * (_ITEM_HEADER + HASH_LISTPACK_VALUE),
    ValueType.SET: _ARRAY_HEADER_MAX + INTSET_ENTRIES_MAX * (_ITEM_HEADER + INT_LENGTH_MAX),
    ValueType.ZSET: _ARRAY_HEADER_MAX
    + ZSET_LISTPACK_ENTRIES * (_ITEM_HEADER + ZSET_LISTPACK_VALUE + _SCORE_ITEM),
}
"""The longest payload a hash, set or sorted set in compact form (listpack, intset) can
have here: a longer one is a ``hashtable`` or ``skiplist`` without being decoded, and a
shorter one (at most 67 KB) is cheap to decode and look at."""


# --- encodings ------------------------------------------------------------------------


def string_encoding(payload: Payload) -> bytes:
    """``int``, ``embstr`` or ``raw``, as ``tryObjectEncoding`` leaves a string (or, for
    an HLL, as PFADD leaves it)."""
    if len(payload) > EMBSTR_SIZE_LIMIT:
        return b"raw"
    text = bytes(payload)
    if len(text) <= INT_LENGTH_MAX and parse_ll(text) is not None:
        return b"int"
    return b"raw" if _is_hll(text) else b"embstr"


def _is_hll(text: bytes) -> bool:
    """Whether PFADD would take ``text`` as a HyperLogLog (``isHLLObjectOrReply``)."""
    if len(text) < HEADER_SIZE or text[:4] != b"HYLL":
        return False
    encoding = text[4]
    return encoding == SPARSE or (encoding == DENSE and len(text) == DENSE_SIZE)


def _hash_encoding(payload: Payload) -> bytes:
    fields = HASHES.decode_shared(bytes(payload))
    if len(fields) > HASH_LISTPACK_ENTRIES:
        return b"hashtable"
    longest = max(max(map(len, fields)), max(map(len, fields.values()))) if fields else 0
    return b"listpack" if longest <= HASH_LISTPACK_VALUE else b"hashtable"


def _set_encoding(payload: Payload) -> bytes:
    members = SETS.decode_shared(bytes(payload))
    if len(members) > INTSET_ENTRIES_MAX:
        return b"hashtable"
    integers = all(parse_ll(member) is not None for member in members)
    return b"intset" if integers else b"hashtable"


def _zset_encoding(payload: Payload) -> bytes:
    return b"skiplist" if held_big(ZSETS.decode_shared(bytes(payload))) else b"listpack"


_ENCODINGS: dict[ValueType, Callable[[Payload], bytes]] = {
    ValueType.STRING: string_encoding,
    ValueType.LIST: lambda payload: b"quicklist",
    ValueType.HASH: _hash_encoding,
    ValueType.SET: _set_encoding,
    ValueType.ZSET: _zset_encoding,
    ValueType.STREAM: lambda payload: b"stream",
}


_LARGE = {ValueType.HASH: b"hashtable", ValueType.SET: b"hashtable", ValueType.ZSET: b"skiplist"}


def encoding_of(kv: KeyValueView, key: bytes, now_ms: int) -> bytes | None:
    """OBJECT ENCODING's answer for ``key`` (see the module docstring), ``None`` when the
    key is missing or expired. Read where the value is stored, and decided from the size
    alone for long strings and large collections (O(1), as in Redis)."""

    def reader(header: ValueHeader, payload: Payload) -> bytes | None:
        if is_expired(header, now_ms):
            return None
        if header.size > COMPACT_PAYLOAD_MAX.get(header.type, header.size):
            return _LARGE[header.type]
        return _ENCODINGS[header.type](payload)

    return kv.read_in_place(key, reader)


def refcount_of(kv: KeyValueView, key: bytes, now_ms: int) -> int | None:
    """OBJECT REFCOUNT's answer: ``SHARED_REFCOUNT`` for a shared integer, else 1."""

    def reader(header: ValueHeader, payload: Payload) -> int | None:
        if is_expired(header, now_ms):
            return None
        if header.type != ValueType.STRING or header.size > INT_LENGTH_MAX:
            return 1
        value = parse_ll(bytes(payload))
        shared = value is not None and 0 <= value < SHARED_INTEGERS
        return SHARED_REFCOUNT if shared else 1

    return kv.read_in_place(key, reader)


# --- handlers -------------------------------------------------------------------------


def cmd_object_encoding(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    return encoding_of(kv, args[2], now_ms)


def cmd_object_refcount(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    return refcount_of(kv, args[2], now_ms)


def cmd_object_freq(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Null for a missing key, else Redis's error for a server without an LFU policy."""
    return None if live_header(kv, args[2], now_ms) is None else FREQ_NOT_TRACKED


def cmd_object_idletime(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    """Null for a missing key, else a refusal: no access time is kept (module docstring)."""
    return None if live_header(kv, args[2], now_ms) is None else IDLETIME_NOT_TRACKED


def cmd_object_help(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return help_reply(OBJECT_HELP)


def prepare_substr(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """SUBSTR is GETRANGE under its Redis 1.0 name: the same checks, before the key is
    looked up, and the same handler (``strings.cmd_getrange``); the op keeps its own
    name, which SLOWLOG shows."""
    if parse_ll(args[2]) is None or parse_ll(args[3]) is None:
        return errors.NOT_INTEGER
    return (b"SUBSTR", args[1], args[2], args[3])
