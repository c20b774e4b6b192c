"""A list's stored form, built so that work at either end costs a copy, not a decode.

Why: a list is one stored value, so a command that changes it writes all of
it. When that meant decoding every element into Python and encoding them all
again, an LPUSH onto a queue of 100,000 elements cost milliseconds, and
``redis-benchmark``'s list tests crawled. In this form the records of any
run of elements are found from a table of lengths, so a list being changed
(``list_contents.ListContents``) reads only the elements a command names,
and a new value is built from the old one's untouched records, copied whole
(``assemble``), and the elements added, packed: memcpy speed, plus Python
work only for the elements that changed.

Layout::

    0xC1  msgpack array of the elements (each a bin)  length:u32le × count

``0xC1`` is the one byte msgpack never uses, so it tells this form from a
bare msgpack array, the form lists were stored in before: that form is still
read, and a list is rewritten in this one at its first change. The array is
exactly what ``msgpack.packb`` makes of the elements, so the whole list
decodes in C; the lengths say where each element's record is counting from
either end, which msgpack's own encoding cannot (a record's size shows only
at its start).

Damage surfaces as ``StorageError``: a bad marker or header, lengths that do
not fit the value, or elements that disagree with their lengths when decoded.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from typing import NamedTuple

import msgpack

from storage.interface import Payload, StorageError

MARK = 0xC1
_MARK = b"\xc1"
_LE = sys.byteorder == "little"
_SHORT = 255
"""Longest element whose record has a 2-byte header (msgpack bin 8)."""
_MEDIUM = 65535
"""Longest element whose record has a 3-byte header (bin 16); longer ones take 5 (bin 32)."""

if array("I").itemsize != 4:  # pragma: no cover - every platform CPython supports today
    raise ImportError("packed lists need a 4-byte array('I')")


class Packed(NamedTuple):
    """A parsed list value: where its records and its lengths are."""

    payload: Payload
    """The stored value: bytes, or a view of it where it is stored (a read in place)."""
    length: int
    """How many elements."""
    body: int
    """Offset of the first element's record."""
    end: int
    """Offset just past the last record; the lengths start here."""


def _array_header(count: int) -> bytes:
    """msgpack's array header for ``count`` items, in the shortest form, as ``packb`` writes it."""
    if count < 16:
        return bytes((0x90 | count,))
    if count <= 0xFFFF:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def _length_table(lengths: array[int]) -> bytes:
    if not _LE:  # pragma: no cover - big-endian hosts
        lengths.byteswap()
    return lengths.tobytes()


def pack(elements: Sequence[bytes]) -> bytes:
    """The stored form of a non-empty list, head first."""
    table = _length_table(array("I", map(len, elements)))
    return b"".join((_MARK, msgpack.packb(list(elements), use_bin_type=True), table))


def parse(payload: Payload) -> Packed:
    """Where the parts of a value in this form are; ``StorageError`` if it is not one."""
    size = len(payload)
    if size < 2 or payload[0] != MARK:
        raise StorageError("a stored list does not start with its marker")
    first = payload[1]
    if 0x90 <= first <= 0x9F:
        count, body = first & 0x0F, 2
    elif first == 0xDC and size >= 4:
        count, body = int.from_bytes(payload[2:4], "big"), 4
    elif first == 0xDD and size >= 6:
        count, body = int.from_bytes(payload[2:6], "big"), 6
    else:
        raise StorageError("a stored list has no array header")
    end = size - 4 * count
    if count == 0 or end < body + 2 * count:
        raise StorageError(f"a stored list of {count} elements does not fit in {size} bytes")
    return Packed(payload, count, body, end)


def view(payload: Payload) -> Packed:
    """``parse`` for a value in either form: one in the older form is converted first."""
    if payload[:1] == _MARK:
        return parse(payload)
    return parse(pack(unpack(payload)))


def contents_bytes(payload: bytes) -> bytes | memoryview:
    """The part of a stored list that says what it holds, the same in either form: the
    msgpack array, which the older form stored alone and this one stores whole too.

    What a value's digest must cover (``watch.digest``): replicas that changed a
    list under different versions of epaxosdb — one upgraded before the others —
    hold it in different forms, and must still agree on whether it changed."""
    if payload[:1] != _MARK:
        return payload
    packed = parse(payload)
    return memoryview(payload)[1 : packed.end]


def unpack(payload: Payload) -> list[bytes]:
    """Every element, head first, from a value in either form."""
    if payload[:1] == _MARK:
        packed = parse(payload)
        return items(packed, 0, packed.length)
    try:
        elements = msgpack.unpackb(payload, raw=False, use_list=True)
    except (ValueError, msgpack.UnpackException) as exc:
        raise StorageError(f"a stored list does not decode: {exc}") from None
    if type(elements) is not list or not all(type(e) is bytes for e in elements):
        raise StorageError("a stored list is not a list of byte strings")
    return elements


def lengths(packed: Packed, start: int, stop: int) -> array[int]:
    """The lengths of elements ``start`` to ``stop - 1``."""
    table = array("I")
    table.frombytes(packed.payload[packed.end + 4 * start : packed.end + 4 * stop])
    if not _LE:  # pragma: no cover - big-endian hosts
        table.byteswap()
    return table


def _records_size(table: array[int]) -> int:
    """Bytes taken by the records of elements with these lengths (bin header included)."""
    return (
        sum(table)
        + 2 * len(table)
        + sum(map(_SHORT.__lt__, table))
        + 2 * sum(map(_MEDIUM.__lt__, table))
    )


def records_size(packed: Packed, start: int, stop: int) -> int:
    """Bytes taken by the records of elements ``start`` to ``stop - 1``."""
    return _records_size(lengths(packed, start, stop)) if start < stop else 0


Window = tuple[int, int, int, int]
"""``(lo, hi, lo_byte, hi_byte)``: the records of elements ``lo`` to ``hi - 1`` of a value,
at its bytes ``lo_byte`` to ``hi_byte - 1`` (``whole``, or what a ``ListContents`` keeps
of it)."""

MISMATCH = "a stored list's lengths do not match its elements"


def whole(packed: Packed) -> Window:
    """Every record of ``packed``."""
    return (0, packed.length, packed.body, packed.end)


def offset(packed: Packed, window: Window, index: int) -> int:
    """Where element ``index``'s record starts (``lo <= index <= hi``; ``hi``: where the
    window's records end), counted from the window's nearer end so that work near
    either end stays small."""
    lo, hi, lo_byte, hi_byte = window
    if index - lo <= hi - index:
        at = lo_byte + records_size(packed, lo, index)
    else:
        at = hi_byte - records_size(packed, index, hi)
    if not lo_byte <= at <= hi_byte:
        raise StorageError(MISMATCH)
    return at


def items(packed: Packed, start: int, stop: int, window: Window | None = None) -> list[bytes]:
    """Elements ``start`` to ``stop - 1``, head first, of ``window`` (default: ``whole``;
    ``lo <= start <= stop <= hi``)."""
    if start >= stop:
        return []
    window = window or whole(packed)
    lo, hi, _, hi_byte = window
    first = offset(packed, window, start)
    if stop - start <= min(stop - lo, hi - stop):
        last = first + records_size(packed, start, stop)
    else:
        last = offset(packed, window, stop)
    if not first <= last <= hi_byte:
        raise StorageError(MISMATCH)
    return decode_records(packed, start, stop, first, last)


def decode_records(packed: Packed, start: int, stop: int, first: int, last: int) -> list[bytes]:
    """Elements ``start`` to ``stop - 1`` (``start < stop``), whose records are bytes
    ``first`` to ``last - 1``; ``StorageError`` unless they decode to byte strings of
    the lengths the table gives them."""
    try:
        elements = msgpack.unpackb(
            b"".join((_array_header(stop - start), memoryview(packed.payload)[first:last])),
            raw=False,
            use_list=True,
        )
    except (ValueError, msgpack.UnpackException) as exc:
        raise StorageError(f"a stored list does not decode: {exc}") from None
    if (
        type(elements) is not list
        or not all(type(e) is bytes for e in elements)
        or array("I", map(len, elements)) != lengths(packed, start, stop)
    ):
        raise StorageError("a stored list's elements do not match its lengths")
    return elements


def _records(elements: Sequence[bytes]) -> memoryview:
    """The records of ``elements``, as ``pack`` writes them, without the array header."""
    packed = msgpack.packb(list(elements), use_bin_type=True)
    return memoryview(packed)[len(_array_header(len(elements))) :]


def assemble(
    head: Sequence[bytes],
    packed: Packed | None,
    bounds: tuple[int, int, int, int],
    tail: Sequence[bytes],
) -> bytes:
    """The stored form of ``head``, then elements ``lo`` to ``hi - 1`` of ``packed`` (its
    bytes ``lo_byte`` to ``hi_byte - 1``: ``bounds``), then ``tail``; not empty. The
    middle's records and lengths are copied, not decoded."""
    lo, hi, lo_byte, hi_byte = bounds
    count = len(head) + hi - lo + len(tail)
    parts: list[bytes | memoryview] = [_MARK, _array_header(count)]
    tables: list[bytes | memoryview] = []
    if head:
        parts.append(_records(head))
        tables.append(_length_table(array("I", map(len, head))))
    if packed is not None and lo < hi:
        whole = memoryview(packed.payload)
        parts.append(whole[lo_byte:hi_byte])
        tables.append(whole[packed.end + 4 * lo : packed.end + 4 * hi])
    if tail:
        parts.append(_records(tail))
        tables.append(_length_table(array("I", map(len, tail))))
    return b"".join(parts + tables)
