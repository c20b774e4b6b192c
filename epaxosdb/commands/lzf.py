"""LZF, the compression of Redis's RDB strings (liblzf 3.6 as Redis vendors it).

DUMP and RESTORE carry values in RDB form, where a string longer than 20
bytes is stored LZF-compressed whenever that saves at least four bytes. So
RESTORE must decompress what Redis sends, and DUMP compresses as Redis does:
``compress`` follows ``lzf_compress`` step by step (Redis's build: ``HLOG``
16, ``VERY_FAST``, the output refused once it would pass ``limit`` bytes), so
that a value dumped here has the bytes Redis's DUMP gives it.

The one way it can differ: Redis leaves the hash table of ``lzf_compress`` on
the stack uninitialised (``INIT_HTAB`` 0), so a slot this compression never
wrote may still hold a position from an earlier call, and when the bytes
there happen to match, Redis emits a back reference that a fresh table cannot
find. Both outputs decompress to the same string; ours starts from an empty
table, so it depends on the string alone, which every replica needs.

The format: a control byte ``000LLLLL`` is a run of ``L+1`` literal bytes;
``LLLooooo oooooooo`` copies ``L+2`` bytes from ``o+1`` bytes back in the
output, and ``111ooooo LLLLLLLL oooooooo`` the same with ``L+7+2`` bytes (a
copy may overlap what it writes: a run of one repeated byte is one reference).
"""

from __future__ import annotations

from collections import defaultdict

_HASH_SLOTS = 1 << 16
_HASH_MASK = _HASH_SLOTS - 1
_MAX_LITERAL = 1 << 5
_MAX_OFFSET = 1 << 13
_MAX_REFERENCE = (1 << 8) + (1 << 3)
"""The longest back reference ``lzf_compress`` looks for (``MAX_REF``)."""
_UNROLLED = 16
"""``lzf_compress`` compares this many bytes of a match without checking its bound when
more than this many remain; the first mismatch found there ends the match."""


def _slot(window: int) -> int:
    """``IDX``: the hash table slot of the three bytes in ``window`` (``VERY_FAST``)."""
    return ((window >> 8) - window * 5) & _HASH_MASK


def compress(data: bytes, limit: int) -> bytes | None:
    """``lzf_compress(data, len(data), out, limit)``: the compressed bytes, or ``None`` when
    they would not fit in ``limit`` bytes (checked where the C code checks its output
    pointer, so the answer is the same for every input)."""
    size = len(data)
    if not size or limit <= 0:
        return None
    # The slots this string sets, in a dict (a missing one reads 0, as a fresh table's
    # does): a list of all 65,536 cost a 32-byte DUMP about 100 us to allocate, and is
    # no faster to reach for a long string.
    table: defaultdict[int, int] = defaultdict(int)
    out = bytearray(1)  # the control byte of the first literal run, filled in later
    literals = 0
    at = 0
    stop = size - 2
    window = (data[0] << 8) | data[1] if size > 1 else 0
    while at < stop:
        window = ((window << 8) | data[at + 2]) & 0xFFFFFF
        slot = ((window >> 8) - window * 5) & _HASH_MASK  # ``_slot``, inlined: the hot loop
        ref = table[slot]
        table[slot] = at
        offset = at - ref - 1
        if (
            ref > 0  # position 0 is never a reference: the C code asks ``ref > in_data``
            and offset < _MAX_OFFSET
            and data[ref + 2] == data[at + 2]
            and data[ref] == data[at]
            and data[ref + 1] == data[at + 1]
        ):
            longest = min(size - at - 2, _MAX_REFERENCE)
            if len(out) - (not literals) + 4 >= limit:
                return None
            if literals:
                out[-literals - 1] = literals - 1
            else:
                del out[-1]
            length = _match_length(data, ref, at, longest)
            encoded = length - 2
            if encoded < 7:
                out.append((offset >> 8) + (encoded << 5))
            else:
                out.append((offset >> 8) + (7 << 5))
                out.append(encoded - 7)
            out.append(offset & 0xFF)
            out.append(0)
            literals = 0
            at += length
            if at >= stop:
                break
            # VERY_FAST: hash the two positions before the next one, then go on.
            at -= 2
            window = (data[at] << 8) | data[at + 1]
            window = ((window << 8) | data[at + 2]) & 0xFFFFFF
            table[_slot(window)] = at
            at += 1
            window = ((window << 8) | data[at + 2]) & 0xFFFFFF
            table[_slot(window)] = at
            at += 1
        else:
            if len(out) >= limit:
                return None
            out.append(data[at])
            at += 1
            literals += 1
            if literals == _MAX_LITERAL:
                out[-literals - 1] = literals - 1
                out.append(0)
                literals = 0
    if len(out) + 3 > limit:
        return None
    while at < size:
        out.append(data[at])
        at += 1
        literals += 1
        if literals == _MAX_LITERAL:
            out[-literals - 1] = literals - 1
            out.append(0)
            literals = 0
    if literals:
        out[-literals - 1] = literals - 1
    else:
        del out[-1]
    return bytes(out)


def _match_length(data: bytes, ref: int, at: int, longest: int) -> int:
    """How many bytes the match at ``ref`` covers, as ``lzf_compress``'s loop counts them:
    three are known equal; past ``_UNROLLED`` more it stops at ``longest`` (which the
    unrolled part may overshoot, the bytes being there and equal)."""
    length = 3
    if longest > _UNROLLED:
        while length <= _UNROLLED + 2:
            if data[ref + length] != data[at + length]:
                return length
            length += 1
    step = 32
    while length < longest:
        # Compare slices first (one C call each), bytes only around the mismatch.
        end = min(length + step, longest)
        if data[ref + length : ref + end] == data[at + length : at + end]:
            length = end
            continue
        while length < longest and data[ref + length] == data[at + length]:
            length += 1
        break
    return length


def decompress(data: bytes, size: int) -> bytes | None:
    """``lzf_decompress`` into ``size`` bytes: the output when the input decodes to exactly
    ``size`` bytes, else ``None``.

    Redis accepts whatever ``lzf_decompress`` returns when it equals the announced
    length, and the function returns 0 for every error: so an announced length of 0
    makes any input an empty string, and so it does here. The work is bounded by the
    input: each control byte yields at most 264 bytes, and the output never grows past
    ``size``."""
    if size == 0:
        return b""
    end = len(data)
    if not end:
        return None
    out = bytearray()
    at = 0
    while at < end:
        control = data[at]
        at += 1
        if control < _MAX_LITERAL:
            run = control + 1
            if len(out) + run > size or at + run > end:
                return None
            out += data[at : at + run]
            at += run
            continue
        length = control >> 5
        if at >= end:
            return None
        if length == 7:
            length += data[at]
            at += 1
            if at >= end:
                return None
        start = len(out) - ((control & 0x1F) << 8) - 1 - data[at]
        at += 1
        length += 2
        if len(out) + length > size or start < 0:
            return None
        distance = len(out) - start
        if distance >= length:
            out += out[start : start + length]
        else:  # the copy reads what it writes: the last ``distance`` bytes repeat
            pattern = bytes(out[start:])
            out += (pattern * (length // distance + 1))[:length]
    return bytes(out) if len(out) == size else None
