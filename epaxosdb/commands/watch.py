"""WATCH as replicated commands: read a digest per key, check it when EXEC executes.

Redis flags a watching client "dirty" whenever a watched key is touched and
answers its EXEC with a null array. Here there is no one place that sees
every touch, and the front end must not decide anything from local state: a
replica's view is only valid at a point in the agreed order. So WATCH and
the check are both commands that go through consensus:

* ``WATCH k1 k2`` is proposed as ``WATCHREAD k1 k2``, a read-only op on the
  keys, ordered after every write of them that came before it like a GET
  is. Its reply, kept by the connection and never shown to the client, is
  one ``digest`` per key: the logical value at that point of the order.
* ``EXEC`` with watched keys proposes one ``multi`` command whose first op is
  ``WATCHCHECK k1 d1 k2 d2``, reading the same keys. ``execute`` runs it
  first: if any key's digest differs now, nothing runs and the reply is the
  null array Redis gives; otherwise the other ops run. The check reads the
  keys, so the command's access (the union of its ops') orders it against
  every writer of a watched key: the check and the writes it guards happen
  at one point of the agreed order, on every replica, with the same result.

The check is value-based, which differs from Redis in one way (ABA): if a
watched key is modified and then restored to an identical value (same type,
same expiry, same payload) before EXEC, Redis aborts the transaction and
epaxosdb runs it. For check-and-set loops this is harmless: the value the
client read is still the value. A key that expires between WATCH and EXEC
changes from present to absent, so the transaction aborts, as in Redis 7.0
(``isWatchedKeyExpired``); a key that was already expired at WATCH and is
then deleted stays absent, and nothing aborts, as in Redis.

Digests depend only on the stored ``Value`` and the command's timestamp,
never on which replica computes them: every replica holds the same value
for the same key at the same point of the order. The same value, though not
always the same bytes: a list changed by a replica already upgraded to its
current stored form and by one that was not differs in form only, so a
list's digest covers what both forms share (``packed_list.contents_bytes``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence

from protocol.replies import Reply
from storage.interface import KeyValueView, ValueType

from . import packed_list
from .values import live

WATCHREAD = b"WATCHREAD"
WATCHCHECK = b"WATCHCHECK"

ABSENT = b""
"""The digest of a key that does not exist (or is expired) at the command's time.

Empty, so it can never equal the digest of a present value, which is
``DIGEST_SIZE`` bytes long."""

DIGEST_SIZE = 16
"""128 bits of BLAKE2b: a false "unchanged" needs a collision between two values
of one key, which no workload (or adversary without a 2**64 budget) produces."""

_HEADER = struct.Struct(">BQ")


def digest(kv: KeyValueView, key: bytes, now_ms: int) -> bytes:
    """A fingerprint of the logical value of ``key`` at ``now_ms``: type, expiry, payload.

    Any change of the type, the absolute expiry or the payload changes it;
    an expired key has the digest of an absent one, because no command can
    tell them apart.
    """
    value = live(kv, key, now_ms)
    if value is None:
        return ABSENT
    hasher = hashlib.blake2b(_HEADER.pack(value.type, value.expire_ms), digest_size=DIGEST_SIZE)
    if value.type == ValueType.LIST:
        hasher.update(packed_list.contents_bytes(value.payload))
    else:
        hasher.update(value.payload)
    return hasher.digest()


def watchread_op(keys: Sequence[bytes]) -> tuple[bytes, ...]:
    """The op a ``WATCH keys...`` request proposes."""
    return (WATCHREAD, *keys)


def watchcheck_op(watched: Iterable[tuple[bytes, bytes]]) -> tuple[bytes, ...]:
    """The op that guards a transaction: ``WATCHCHECK key digest [key digest ...]``."""
    op = [WATCHCHECK]
    for key, key_digest in watched:
        op.append(key)
        op.append(key_digest)
    return tuple(op)


def cmd_watchread(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The digest of each key in ``op[1:]``, in order: what the connection records."""
    return [digest(kv, key, now_ms) for key in op[1:]]


def unchanged(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int) -> bool:
    """Whether every key of a ``WATCHCHECK`` op still has its recorded digest."""
    pairs = range(1, len(op) - 1, 2)
    return all(digest(kv, op[index], now_ms) == op[index + 1] for index in pairs)


def cmd_watchcheck(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """1 if no watched key changed, else 0.

    ``execute`` calls ``unchanged`` itself when the op leads a MULTI (where it
    decides whether the rest runs); this handler only answers the op when it
    is found anywhere else, so that every op in the table has one.
    """
    return 1 if unchanged(kv, op, now_ms) else 0
