"""What hashes, sets and lists share: one typed value per key holding byte strings.

Each is stored as one value whose payload is a msgpack list of byte strings
(a hash flattens to ``[field, value, ...]``; a list adds a table of lengths,
``packed_list``) and whose type tag says which it is. A ``Kind`` knows how
to read one back from the store (WRONGTYPE for a key of another type,
nothing for a missing or expired key), how to write it (keeping the key's
TTL, deleting the key when it empties: Redis never keeps an empty hash, set
or list), and how to turn damage into a ``StorageError`` instead of a wrong
reply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar, cast

import msgpack

from protocol.replies import NULL_ARRAY, Error, Reply
from storage.interface import KeyValueView, StorageError, Value, ValueType

from . import errors
from .integers import parse_cursor, parse_ll
from .keyspace import scan_collection
from .spec import Handler
from .values import live
from .workspace import Held, Workspace

C = TypeVar("C")

RECENT_ENTRIES = 8
RECENT_PAYLOAD_BYTES_MAX = 16 << 20
CONTENT_MATCH_MIN = 512
"""Payloads shorter than this are decoded again rather than compared with remembered
ones: for them a decode costs about what looking for a match would."""


HELD_PAYLOAD = b""
"""The payload of the value ``Kind.load`` answers for a collection a ``Workspace`` holds:
not its encoding (there is none yet). Callers use that value for its expiry only; a
payload read from it would fail to decode, loudly."""


class Kind(Generic[C]):
    """A container type: its tag, and how its contents ``C`` map to a list of byte strings.

    ``from_items`` must raise ``StorageError`` for items no writer of ours could
    have produced (a hash with an odd count, a set with a repeat); ``copy``
    makes an independent copy of contents (handlers change what they load).

    Decoding is remembered for the few most recently used payloads. By
    identity first: a command that rewrites a hot list, set or hash hands its
    new payload to the view, and the next command on that key gets the very
    same ``bytes`` object back. Then, for payloads of ``CONTENT_MATCH_MIN``
    bytes and more, by content: a value read from LMDB is a new object at every
    read, and comparing it with the few remembered payloads of its length costs
    a memcmp, against a decode and a check of every item. Payloads are
    immutable and decoding is a pure function, so what is remembered can never
    be stale. Handlers that change what they load get a copy (``decode``);
    read-only ones (``reading``) get the remembered contents themselves
    (``decode_shared``), and must not change them."""

    def __init__(
        self,
        value_type: ValueType,
        name: str,
        from_items: Callable[[list[bytes]], C],
        to_items: Callable[[C], Iterable[bytes]],
        copy: Callable[[C], C],
        *,
        changing: Callable[[C], None] | None = None,
    ) -> None:
        self.value_type = value_type
        self.name = name
        self._from_items = from_items
        self._to_items = to_items
        self._copy = copy
        self._changing = changing
        """Called with a ``Workspace``'s contents before they are lent to a handler that
        may change them: readers may have remembered something of them by identity
        (a sorted set's order), which would go stale."""
        self._recent: dict[int, tuple[bytes, C]] = {}
        """``id(payload)`` → (that payload, its contents), least recently used first; the
        payload is held so the id cannot be reused by another object while the entry
        exists."""

    def encode(self, contents: C) -> bytes:
        return self._encode_items(list(self._to_items(contents)))

    def _encode_items(self, items: list[bytes]) -> bytes:
        """The payload for these items (a kind with a form of its own overrides this and
        ``_decode``)."""
        return _pack(items)

    def _remember(self, payload: bytes, contents: C) -> None:
        """Remember ``contents`` as ``payload``'s (the caller must not change them after)."""
        if len(payload) > RECENT_PAYLOAD_BYTES_MAX:
            return
        recent = self._recent
        recent[id(payload)] = (payload, contents)
        if len(recent) > RECENT_ENTRIES:
            recent.pop(next(iter(recent)), None)

    def _remembered(self, payload: bytes) -> C | None:
        recent = self._recent
        hit = recent.get(id(payload))
        if hit is None or hit[0] is not payload:
            if len(payload) < CONTENT_MATCH_MIN:
                return None
            hit = next((entry for entry in recent.values() if entry[0] == payload), None)
            if hit is None:
                return None
        recent.pop(id(hit[0]), None)
        recent[id(hit[0])] = hit  # most recently used last
        return hit[1]

    def decode(self, payload: bytes) -> C:
        """The contents of a stored value, the caller's to change; ``StorageError`` if the
        payload is not one."""
        remembered = self._remembered(payload)
        if remembered is not None:
            return self._copy(remembered)
        contents = self._decode(payload)
        self._remember(payload, self._copy(contents))
        return contents

    def decode_shared(self, payload: bytes) -> C:
        """``decode`` for a reader that changes nothing: no copy."""
        remembered = self._remembered(payload)
        if remembered is not None:
            return remembered
        contents = self._decode(payload)
        self._remember(payload, contents)
        return contents

    def _decode(self, payload: bytes) -> C:
        try:
            items = msgpack.unpackb(payload, raw=False, use_list=True)
        except (ValueError, msgpack.UnpackException) as exc:
            raise StorageError(f"a stored {self.name} does not decode: {exc}") from None
        if type(items) is not list or not all(type(item) is bytes for item in items):
            raise StorageError(f"a stored {self.name} is not a list of byte strings")
        return self._from_items(items)

    def empty(self) -> C:
        """What a missing key reads as."""
        return self._from_items([])

    def value(self, kv: KeyValueView, key: bytes, now_ms: int) -> Value | Error | None:
        """The live value at ``key``, not decoded; WRONGTYPE for a key of another type."""
        value = live(kv, key, now_ms)
        if value is not None and value.type != self.value_type:
            return errors.WRONGTYPE
        return value

    def load(self, kv: KeyValueView, key: bytes, now_ms: int) -> tuple[Value | None, C] | Error:
        """The live value at ``key`` and its contents (empty when absent); WRONGTYPE for
        a key of another type. The contents are the caller's to change, and a caller
        that changes them must ``store`` them (see ``workspace``'s contract).

        In a ``Workspace`` the value is only good for its expiry (its payload is not
        encoded yet), and the contents are the workspace's own."""
        if type(kv) is Workspace:
            return self._load_held(kv, key, now_ms)
        value = self.value(kv, key, now_ms)
        if value is None:
            return None, self.empty()
        if isinstance(value, Error):
            return value
        return value, self.decode(value.payload)

    def _load_held(
        self, workspace: Workspace, key: bytes, now_ms: int
    ) -> tuple[Value | None, C] | Error:
        held = workspace.held(key) or workspace.adopt(key)
        if held is None:
            value = self.value(workspace, key, now_ms)
            if value is None or isinstance(value, Error):
                return (None, self.empty()) if value is None else value
            contents = self.decode(value.payload)
            held = workspace.hold(
                key, self, self.value_type, contents, value.expire_ms, stored=value.payload
            )
            return value, workspace.lend(key, held)
        live = self.liveness(held, now_ms)
        if live is not True:
            return (None, self.empty()) if live is False else live
        if self._changing is not None:
            self._changing(held.contents)
        return Value(self.value_type, held.expire_ms, HELD_PAYLOAD), workspace.lend(key, held)

    def liveness(self, held: Held, now_ms: int) -> bool | Error:
        """As ``value`` judges a stored value: ``False`` when ``held`` is expired at
        ``now_ms`` (the key reads as absent), WRONGTYPE for another kind's."""
        if held.expire_ms and held.expire_ms <= now_ms:
            return False
        return errors.WRONGTYPE if held.type != self.value_type else True

    def store(self, kv: KeyValueView, key: bytes, expire_ms: int, contents: C) -> None:
        """Write ``contents`` with ``expire_ms``; empty contents delete the key. The
        contents are the store's (or the workspace's) from now on: the caller must
        not change them."""
        if type(kv) is Workspace:
            if self._is_empty(contents):
                kv.delete(key)
            else:
                kv.hold(key, self, self.value_type, contents, expire_ms, stored=None)
            return
        if self._is_empty(contents):
            kv.delete(key)
            return
        payload = self.encode(contents)
        kv.put(key, Value(self.value_type, expire_ms, payload))
        self._remember(payload, self._copy(contents))

    def _is_empty(self, contents: C) -> bool:
        """Whether ``contents`` would store no items (and so delete the key)."""
        return not contents

    def size_of(self, contents: C) -> int:
        """Roughly the bytes ``contents`` take in memory (deferred writes are bounded by it):
        for a dict, 48 per entry; 0 when only the stored size is known."""
        return 48 * len(contents) if isinstance(contents, dict) else 0

    def remember(self, payload: bytes, contents: C) -> None:
        """``payload`` decodes to ``contents``, which nobody changes any more: a
        ``Workspace`` that wrote them says so, and the next command that loads the key
        gets them without a decode."""
        self._remember(payload, contents)

    def reading(self, answer: Callable[[C, tuple[bytes, ...]], Reply]) -> Handler:
        """A read-only command on one key: WRONGTYPE for another type, else ``answer``
        from the contents (empty for a missing key)."""

        def handler(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
            contents = self.load_shared(kv, args[1], now_ms)
            return contents if isinstance(contents, Error) else answer(contents, args)

        return handler

    def held_shared(self, kv: KeyValueView, key: bytes, now_ms: int) -> C | Error | None:
        """The contents a ``Workspace`` holds or carries at ``key``, for a reader that
        changes nothing (empty when they expired, WRONGTYPE for another type's); ``None``
        when ``kv`` holds nothing there (read the store)."""
        if type(kv) is not Workspace:
            return None
        held = kv.held(key) or kv.carried(key)
        if held is None:
            return None
        live = self.liveness(held, now_ms)
        if live is not True:
            return self.empty() if live is False else live
        return cast(C, kv.lend(key, held))

    def load_shared(self, kv: KeyValueView, key: bytes, now_ms: int) -> C | Error:
        """``load``'s contents for a reader that changes nothing (``decode_shared``):
        empty for a missing key, WRONGTYPE for a key of another type."""
        held = self.held_shared(kv, key, now_ms)
        if held is not None:
            return held
        value = self.value(kv, key, now_ms)
        if value is None or isinstance(value, Error):
            return self.empty() if value is None else value
        return self.decode_shared(value.payload)

    def pop_from_first(
        self,
        kv: KeyValueView,
        keys: Sequence[bytes],
        now_ms: int,
        take: Callable[[C], list[Reply]],
    ) -> Reply:
        """ZMPOP and the blocking pops of sorted sets from several keys (BZPOPMIN,
        BZMPOP...; lists have their own, ``lists._pop_from_first``): ``[key,
        *take(contents)]`` for the first of ``keys`` that exists, where
        ``take`` removes what it returns (the reply's items after the key); what is left is
        stored with the key's TTL (nothing left: the key is deleted). A key of another type
        met before it is WRONGTYPE, keys after it are not looked at; no key at all is the
        null array."""
        for key in keys:
            found = self.load(kv, key, now_ms)
            if isinstance(found, Error):
                return found
            old, contents = found
            if old is None:
                continue
            taken = take(contents)
            self.store(kv, key, old.expire_ms, contents)
            return [key, *taken]
        return NULL_ARRAY

    def scanning(self, entries: Callable[[C], Iterable[tuple[bytes, ...]]]) -> Handler:
        """HSCAN or SSCAN: a bad cursor first, then WRONGTYPE, then an empty step for a
        missing key, then the options and the whole contents in one step
        (``keyspace.scan_collection``) — Redis's order."""

        def handler(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
            if parse_cursor(args[2]) is None:
                return errors.INVALID_CURSOR
            found = self.load(kv, args[1], now_ms)
            if isinstance(found, Error):
                return found
            old, contents = found
            return [b"0", []] if old is None else scan_collection(args, entries(contents))

        return handler


BLOCKING_MPOPS = frozenset({b"BZMPOP", b"BLMPOP"})
"""The blocking forms of ZMPOP and LMPOP, whose ``timeout`` comes before ``numkeys``."""


def mpop_request(
    args: Sequence[bytes], sides: tuple[bytes, bytes]
) -> tuple[Sequence[bytes], int, int] | Error:
    """ZMPOP's and LMPOP's arguments (``numkeys key... where [COUNT count]``), checked in
    ``zmpopGenericCommand``/``lmpopGenericCommand``'s order before any key is looked up:
    the number of keys, the side (one of the lower-case ``sides``), one optional COUNT.
    BZMPOP and BLMPOP have the same after their timeout, which Redis checks only once
    these passed (``blocking.prepare_blocking_mpop``). Returns the keys, the index of
    the side in ``sides`` and the count."""
    at = 2 if args[0].upper() in BLOCKING_MPOPS else 1
    numkeys = parse_ll(args[at])
    if numkeys is None or numkeys < 1:
        return errors.NUMKEYS_NOT_POSITIVE
    where = at + 1 + numkeys
    if where >= len(args):
        return errors.SYNTAX
    side = errors.c_string(args[where]).lower()
    if side not in sides:
        return errors.SYNTAX
    count: int | None = None
    j = where + 1
    while j < len(args):
        if count is not None or errors.c_string(args[j]).lower() != b"count" or j + 1 >= len(args):
            return errors.SYNTAX
        count = parse_ll(args[j + 1])
        if count is None or count < 1:
            return errors.COUNT_NOT_POSITIVE
        j += 2
    return args[at + 1 : where], sides.index(side), 1 if count is None else count


def _pack(items: list[bytes]) -> bytes:
    return msgpack.packb(items, use_bin_type=True)


def expire_of(old: Value | None) -> int:
    """The TTL a rewritten value keeps: its old one (none for a new key)."""
    return 0 if old is None else old.expire_ms
