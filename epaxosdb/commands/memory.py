"""MEMORY USAGE: what one key costs, so ``redis-cli --memkeys`` and dashboards work.

Redis answers from its allocator's view of the key's objects. epaxosdb's
keys live in an LMDB B-tree, so the honest figure is what the key takes
there: its record (the stored key, which is the key after a 4-byte hash,
plus the value's header and payload) and the B-tree's per-entry bookkeeping,
and for a key with a TTL the entry in the index by expiry time as well.
Free space inside half-full pages is not counted (Redis's figure leaves out
allocator slack the same way), so the result is an estimate: like Redis's,
good for comparing keys, not for summing to the process size.

``SAMPLES`` is accepted and checked as Redis checks it, then ignored: the
figure comes from the whole stored value's length, with nothing to sample.
(A key longer than the stored-key limit is counted as if stored verbatim.)

Like Redis, it answers for a key that is stored; a key expired at the
command's time has already been deleted (``execution.settle_expiry``).
"""

from __future__ import annotations

from protocol.replies import Reply, help_reply
from storage.interface import KeyValueView, Payload, ValueHeader

from . import errors
from .integers import parse_ll

_HASH_BYTES = 4
"""The hash every stored key starts with (``storage.keys.kv_key``)."""
_VALUE_HEADER_BYTES = 9
"""A record's type and expiry (``storage.values``)."""
_ENTRY_BYTES = 8
"""An LMDB leaf node's header, per entry."""
_EXPIRY_ENTRY_BYTES = 8 + _HASH_BYTES + _ENTRY_BYTES
"""The expiry index's entry: deadline, hash and bookkeeping (plus the key)."""

MEMORY_HELP = (
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
)


def cmd_memory_usage(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """``MEMORY USAGE key [SAMPLES count]``: bytes, or nil for a missing key. Options are
    checked before the key is looked up, with Redis's replies."""
    index = 3
    while index < len(args):
        if errors.c_string(args[index]).lower() != b"samples" or index + 1 >= len(args):
            return errors.SYNTAX
        samples = parse_ll(args[index + 1])
        if samples is None:
            return errors.NOT_INTEGER
        if samples < 0:
            return errors.SYNTAX
        index += 2
    key = args[2]
    # In place, not ``header``: a collection kept decoded between steps has a size only
    # once encoded (``storage.buffered``), which reading its payload does.
    header = kv.read_in_place(key, _header)
    if header is None:
        return None
    size = _HASH_BYTES + len(key) + _VALUE_HEADER_BYTES + header.size + _ENTRY_BYTES
    if header.expire_ms:
        size += _EXPIRY_ENTRY_BYTES + _HASH_BYTES + len(key)
    return size


def _header(header: ValueHeader, payload: Payload) -> ValueHeader:
    return header


def cmd_memory_help(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return help_reply(MEMORY_HELP)
