"""Byte layouts of the keys ``LmdbStore`` writes, and the rules for metadata names.

kv (scan order on disk)::

    short key (<= SHORT_KEY_MAX bytes):  hash:u32 key
    long key:                            hash:u32 key[:SHORT_KEY_MAX] sha256(key)

LMDB refuses keys over 511 bytes, while a Redis key may be 512 MB. A long
key is stored under its hash, a prefix and a digest, with the full key kept
in the value record (``storage.values``). The two forms are told apart by
length alone: a long key's form is always longer than any short key's.
Within one hash the disk order of long keys can differ from byte order, so
readers sort each hash group by the full key (``storage.keyspace``).

expires (an index, value empty)::

    expire_ms + 2**63 :u64  kv-key

The offset makes negative expiries sort first, so a range read from the
start finds every key due by a given time.

instances and executed: ``replica:u32 index:u64``, so a row's instances are
contiguous and in index order.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

from protocol.messages import InstanceId

SHORT_KEY_MAX = 400
"""Longest key stored verbatim. Keeps kv keys (<= 436 bytes) and expiry-index
keys (<= 444 bytes) under LMDB's 511-byte limit."""

_HASH = struct.Struct(">I")
_pack_hash = _HASH.pack
pack_kv_hash = _pack_hash
"""``kv_key`` of a key of at most ``SHORT_KEY_MAX`` bytes is ``pack_kv_hash(zlib.crc32(key))
+ key`` (batch writers inline it)."""
_crc32 = zlib.crc32
_EXPIRY = struct.Struct(">Q")
_INSTANCE = struct.Struct(">IQ")
_DIGEST_BYTES = 32
_LONG_FORM_BYTES = _HASH.size + SHORT_KEY_MAX + _DIGEST_BYTES
_EXPIRY_OFFSET = 1 << 63

RESERVED_META_PREFIX = "storage."
"""Metadata names the store keeps for itself (schema version, identity)."""

META_NAME_BYTES_MAX = 256


def kv_key(key: bytes) -> bytes:
    # ``zlib.crc32`` is ``key_hash`` called directly: this runs for every key
    # read or written (tests/storage/test_lmdb_store.py checks they agree).
    prefix = _pack_hash(_crc32(key))
    if len(key) <= SHORT_KEY_MAX:
        return prefix + key
    return prefix + key[:SHORT_KEY_MAX] + hashlib.sha256(key).digest()


def is_long_form(stored: bytes) -> bool:
    """Whether a kv key is a long key's digest form (its full key lives in the value)."""
    return len(stored) == _LONG_FORM_BYTES


def short_form_key(stored: bytes) -> bytes:
    return stored[_HASH.size :]


def hash_prefix(stored: bytes) -> bytes:
    """The 4 bytes of scan position that begin every kv key."""
    return stored[: _HASH.size]


def position_prefix(position: int) -> bytes:
    return _HASH.pack(position)


def expiry_key(expire_ms: int, stored: bytes) -> bytes:
    return _EXPIRY.pack(expire_ms + _EXPIRY_OFFSET) + stored


def expiry_of(index_key: bytes) -> int:
    offset: int = _EXPIRY.unpack_from(index_key)[0]
    return offset - _EXPIRY_OFFSET


def expiry_group(index_key: bytes) -> bytes:
    """``expire_ms`` and hash: entries sharing them are sorted by full key when read."""
    return index_key[: _EXPIRY.size + _HASH.size]


def kv_key_of_expiry(index_key: bytes) -> bytes:
    return index_key[_EXPIRY.size :]


def instance_key(inst: InstanceId) -> bytes:
    try:
        return _INSTANCE.pack(inst.replica, inst.index)
    except struct.error:
        raise ValueError(
            f"instance {inst} is out of range (replica 0..2**32-1, index 0..2**64-1)"
        ) from None


def instance_id_of(stored: bytes) -> InstanceId:
    replica, index = _INSTANCE.unpack(stored)
    return InstanceId(replica, index)


def check_meta_name(name: str, *, internal: bool = False) -> None:
    """Refuse names the store reserves, and names too long to be an LMDB key."""
    if type(name) is not str:
        raise TypeError(f"metadata names are str, got {type(name).__name__}")
    if len(name.encode()) > META_NAME_BYTES_MAX:
        raise ValueError(f"metadata name longer than {META_NAME_BYTES_MAX} bytes: {name[:40]!r}...")
    if not internal and name.startswith(RESERVED_META_PREFIX):
        raise ValueError(f"metadata names starting with {RESERVED_META_PREFIX!r} are reserved")
