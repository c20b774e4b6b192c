"""HyperLogLog commands (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE.

A HyperLogLog is an ordinary string laid out as Redis lays it out, so that
GET returns Redis's bytes, and a value copied with GET and SET from Redis to
here, or back, works on the other side. The layout:

* a 16-byte header: ``HYLL``, the encoding (0 dense, 1 sparse), three unused
  bytes (kept as found), and the cached cardinality, 8 bytes little-endian
  whose top bit says the cache is invalid;
* dense: 16384 registers of 6 bits, packed little-endian (register ``i`` is
  bits ``6i..6i+5`` of the byte string read as one little-endian number);
* sparse: run-length opcodes over the registers — ZERO ``00xxxxxx`` (1 to 64
  zero registers), XZERO ``01xxxxxx yyyyyyyy`` (1 to 16384), VAL ``1vvvvvxx``
  (1 to 4 registers of value 1 to 32). A new HLL is one XZERO of 16384.

An element lands in register ``hash & 16383`` with the length of the run of
zero bits above it plus one (MurmurHash64A, seed ``0xadc83b19``), and the
count is Ertl's improved estimator over the histogram of register values
(``_estimate``): Redis 7's, with its rounding, so replies are equal, not close.

Bytes, not only replies, match Redis, which makes the sparse form subtle: it
is not canonical. Setting a register splits the opcode that covers it and
then merges equal neighbouring VALs only within five opcodes of the change,
and the string turns dense once a split would take it past 3000 bytes
(``hll-sparse-max-bytes``) or a value past 32. So the result depends on the
order of the updates, and ``_Sparse.set`` replays Redis's ``hllSparseSet``
step by step, on a list of opcodes with the first register of each (found by
bisection) rather than on the bytes, which Redis scans from the start for
every element: that would cost a Python loop over up to 3000 bytes per element.

PFCOUNT writes. Redis 7.0 flags it ``readonly`` but declares its keys ``RW``
("it may change the internal representation of the key, and propagate to
replicas"): a single-key PFCOUNT that finds the cache invalid stores the
estimate in the header and propagates the new string. We do the same, so
that a GET after PFCOUNT returns Redis's bytes on every replica. The row keeps
Redis's flags and key spec (COMMAND INFO is compared byte for byte); the RW
spec already makes it interfere with everything that touches its keys, as
anything that writes must; and our own ``replicated`` flag makes every replica
execute it, not only the one that proposed it, so each rewrites the cache
with the same bytes. Never writing the cache instead would keep PFCOUNT a
local read, but then the stored value would keep the invalid bit that Redis
clears: GET, and WATCH, would see a different string than Redis's. The cost
is that a PFCOUNT goes through consensus and conflicts like a write, and runs
on every replica (read-only scripts refuse it as a write, which Redis 7.0
does too). PFCOUNT of several keys merges them into a temporary and writes
nothing, as in Redis; it is replicated and ordered as a write all the same
(one row, one key spec for all its keys).

A string that is not an HLL (too short, another magic or encoding, a dense one
of the wrong length) gets Redis's WRONGTYPE text; a sparse body that does not
cover exactly 16384 registers, INVALIDOBJ (the checks of the CVE-2025-32023 fix,
which Debian's 7.0.15 carries). A PFADD that meets a corrupted register after
changing others keeps the changes, as Redis's in-place update does.

Reproduced only in part: a sparse string that ends in the first byte of an
XZERO (only a crafted SET makes one). Redis reads the second byte past the end
of the string: the terminating zero in a string just SET, which is what we
read, so a first command on it agrees; but after some updates of such a string
it is a byte of the update, left in Redis's memory (not in the string) for the
next command to read, which no replica can know from the stored value.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable
from functools import partial
from struct import iter_unpack

from protocol.replies import OK, Error, Reply
from storage.interface import KeyValueView, Value

from . import errors
from .values import STRING, live

HLL_P = 14
REGISTERS = 1 << HLL_P
_Q = 64 - HLL_P
"""Bits of the hash left after the register index: runs are 1..Q+1 long."""
HEADER_SIZE = 16
DENSE_SIZE = HEADER_SIZE + REGISTERS * 6 // 8
DENSE, SPARSE = 0, 1
SPARSE_MAX_BYTES = 3000
"""Redis's ``hll-sparse-max-bytes`` default: the whole string, header included."""
_ENCODING_AT = 4
_CACHE_AT = 8
_CACHE_INVALID = 0x80
"""In the last byte of the cached cardinality."""

_VAL_MAX_VALUE = 32
_VAL_MAX_LEN = 4
_ZERO_MAX_LEN = 64
_MERGE_SCAN = 5
"""Opcodes Redis looks at, from the one before a change, for VALs to merge."""
_PROMOTE = 2
"""``_Sparse.set``'s answer when the change needs the dense form."""

_SEED = 0xADC83B19
_MURMUR_M = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1
_ALPHA_INF = 0.721347520444481703680
_LLROUND_OVERFLOW = 1 << 63
"""``llroundl`` of an infinite or too large estimate (``LLONG_MIN``), as Redis's uint64."""

NOT_HLL = Error("WRONGTYPE Key is not a valid HyperLogLog string value.")
CORRUPTED = Error("INVALIDOBJ Corrupted HLL object detected")

EMPTY = b"HYLL" + bytes((SPARSE, 0, 0, 0)) + bytes(8) + bytes((0x7F, 0xFF))
"""A new HLL: sparse, cache valid at 0, one XZERO covering every register."""


# --- hashing --------------------------------------------------------------------------


def murmurhash64a(data: bytes, seed: int = _SEED) -> int:
    """Redis's MurmurHash64A (little-endian words), an unsigned 64-bit number."""
    m = _MURMUR_M
    h = (seed ^ (len(data) * m)) & _U64
    whole = len(data) & ~7
    for (k,) in iter_unpack("<Q", data[:whole]):
        k = (k * m) & _U64
        k ^= k >> 47
        k = (k * m) & _U64
        h ^= k
        h = (h * m) & _U64
    if len(data) & 7:
        h ^= int.from_bytes(data[whole:], "little")
        h = (h * m) & _U64
    h ^= h >> 47
    h = (h * m) & _U64
    return h ^ (h >> 47)


def register_of(element: bytes) -> tuple[int, int]:
    """``(register, count)`` for an element: Redis's ``hllPatLen``. The count is the
    position of the lowest set bit above the index bits (a sentinel bit at Q bounds it)."""
    h = murmurhash64a(element)
    rest = (h >> HLL_P) | (1 << _Q)
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# --- dense registers ------------------------------------------------------------------

_LOW6 = bytes(b & 63 for b in range(256))
_HIGH2 = bytes(b >> 6 for b in range(256))
_LOW4_UP2 = bytes((b & 15) << 2 for b in range(256))
_HIGH4 = bytes(b >> 4 for b in range(256))
_LOW2_UP4 = bytes((b & 3) << 4 for b in range(256))
_HIGH6 = bytes(b >> 2 for b in range(256))
_UP6 = bytes((b & 3) << 6 for b in range(256))
_DOWN2 = bytes((b >> 2) & 15 for b in range(256))
_UP4 = bytes((b & 15) << 4 for b in range(256))
_DOWN4 = bytes((b >> 4) & 3 for b in range(256))
_UP2 = bytes((b & 63) << 2 for b in range(256))


def _disjoint_or(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    """Bytewise OR of equal-length strings whose set bits never overlap: one big-integer
    addition (no byte carries into the next), instead of a Python loop per byte."""
    total = int.from_bytes(a, "little") + int.from_bytes(b, "little")
    return total.to_bytes(len(a), "little")


def unpack_dense(packed: bytes | bytearray) -> bytearray:
    """The 16384 registers of a dense body, one byte each. Every 3 bytes hold 4
    registers, so each quarter of the registers is a few ``translate`` calls."""
    b0, b1, b2 = packed[0::3], packed[1::3], packed[2::3]
    registers = bytearray(REGISTERS)
    registers[0::4] = b0.translate(_LOW6)
    registers[1::4] = _disjoint_or(b0.translate(_HIGH2), b1.translate(_LOW4_UP2))
    registers[2::4] = _disjoint_or(b1.translate(_HIGH4), b2.translate(_LOW2_UP4))
    registers[3::4] = b2.translate(_HIGH6)
    return registers


def pack_dense(registers: bytes | bytearray) -> bytearray:
    """``unpack_dense``'s inverse (registers are at most 63)."""
    r0, r1, r2, r3 = registers[0::4], registers[1::4], registers[2::4], registers[3::4]
    packed = bytearray(DENSE_SIZE - HEADER_SIZE)
    packed[0::3] = _disjoint_or(r0.translate(_LOW6), r1.translate(_UP6))
    packed[1::3] = _disjoint_or(r1.translate(_DOWN2), r2.translate(_UP4))
    packed[2::3] = _disjoint_or(r2.translate(_DOWN4), r3.translate(_UP2))
    return packed


def _dense_set(packed: bytearray, index: int, count: int) -> int:
    """Raise register ``index`` to ``count`` in place: 1 if it was lower, else 0."""
    bit = index * 6
    byte, shift = bit >> 3, bit & 7
    two = byte + 1 < len(packed)  # the last register lies wholly in the last byte
    word = packed[byte] | (packed[byte + 1] << 8 if two else 0)
    if (word >> shift) & 63 >= count:
        return 0
    word = (word & ~(63 << shift)) | (count << shift)
    packed[byte] = word & 0xFF
    if two:
        packed[byte + 1] = word >> 8
    return 1


def _maximum(a: bytes | bytearray, b: bytes | bytearray) -> bytearray:
    """Registerwise maximum of two equal-length register strings (values below 128), on
    big integers a byte per lane: ``(a | 0x80) - b`` keeps its top bit exactly where
    ``a >= b``, with no borrow between lanes; that bit, spread to the lane, picks ``a``
    there and ``b`` elsewhere. A few whole-number operations instead of a loop."""
    n = len(a)
    x, y = int.from_bytes(a, "little"), int.from_bytes(b, "little")
    tops = int.from_bytes(b"\x80" * n, "little")
    pick_a = ((((x | tops) - y) & tops) >> 7) * 0xFF
    return bytearray(((x & pick_a) | (y & ~pick_a)).to_bytes(n, "little"))


# --- sparse opcodes -------------------------------------------------------------------
# An opcode is an int: a ZERO or VAL its byte (< 0x100), an XZERO its two bytes read
# big-endian (0x4000..0x7fff), so the kind and the run length come from the int alone.


def _span(op: int) -> int:
    if op > 0xFF:
        return (op & 0x3FFF) + 1
    if op & 0x80:
        return (op & 3) + 1
    return (op & 0x3F) + 1


def _is_val(op: int) -> bool:
    return 0x80 <= op <= 0xFF


def _val(value: int, length: int) -> int:
    return 0x80 | ((value - 1) << 2) | (length - 1)


def _zeros(length: int) -> int:
    """ZERO when it fits in one (up to 64 registers), else XZERO: Redis's choice."""
    return length - 1 if length <= _ZERO_MAX_LEN else 0x4000 | (length - 1)


def _size(op: int) -> int:
    return 2 if op > 0xFF else 1


def decode_sparse(body: bytes | bytearray) -> tuple[list[int], bool]:
    """The opcodes of a sparse body, and whether it ends in the first byte of an XZERO
    (read with a zero second byte, the string's terminator in Redis)."""
    ops: list[int] = []
    append = ops.append
    i, n = 0, len(body)
    while i < n:
        byte = body[i]
        if byte & 0xC0 == 0x40:
            append((byte << 8) | (body[i + 1] if i + 1 < n else 0))
            i += 2
        else:
            append(byte)
            i += 1
    return ops, i > n


def _sparse_registers(ops: Iterable[int]) -> bytearray | None:
    """The registers of a sparse body, or ``None`` when its opcodes do not cover exactly
    16384 registers (Redis's ``hllSparseToDense`` and ``hllMerge``, which stop at the
    first opcode that would run past the last register)."""
    registers = bytearray(REGISTERS)
    index = 0
    for op in ops:
        run = _span(op)
        if index + run > REGISTERS:
            return None
        if _is_val(op):
            registers[index : index + run] = bytes((((op >> 2) & 0x1F) + 1,)) * run
        index += run
    return registers if index == REGISTERS else None


def _sparse_histogram(ops: Iterable[int]) -> list[int] | None:
    """How many registers hold each value, or ``None`` when the opcodes do not cover
    exactly 16384 registers (Redis's ``hllSparseRegHisto``)."""
    histogram = [0] * 64
    index = 0
    for op in ops:
        run = _span(op)
        histogram[((op >> 2) & 0x1F) + 1 if _is_val(op) else 0] += run
        index += run
    return histogram if index == REGISTERS else None


class _Sparse:
    """A sparse body being changed: its opcodes, the first register each covers (so the
    one covering a register is found by bisection), and its size in bytes as Redis
    counts it. ``truncated``: the last opcode is an XZERO whose second byte lies past
    the end of the string (see ``decode_sparse``)."""

    __slots__ = ("ops", "size", "starts", "truncated")

    def __init__(self, body: bytes | bytearray) -> None:
        self.ops, self.truncated = decode_sparse(body)
        self.size = len(body)
        starts: list[int] = []
        first = 0
        for op in self.ops:
            starts.append(first)
            first += _span(op)
        self.starts = starts

    def encode(self) -> bytes:
        out = bytearray()
        for op in self.ops:
            if op > 0xFF:
                out += bytes((op >> 8, op & 0xFF))
            else:
                out.append(op)
        if self.truncated:
            del out[-1]
        return bytes(out)

    def registers(self) -> bytearray | None:
        return _sparse_registers(self.ops)

    def set(self, index: int, count: int) -> int:
        """Redis's ``hllSparseSet``: raise register ``index`` to ``count``. 1 if it
        changed, 0 if it already held as much, -1 if no opcode covers it (corrupted),
        ``_PROMOTE`` if the change needs the dense form (nothing changed then)."""
        if count > _VAL_MAX_VALUE:
            return _PROMOTE
        ops, starts = self.ops, self.starts
        at = bisect_right(starts, index) - 1
        if at < 0 or index >= starts[at] + _span(ops[at]):
            return -1
        op, first = ops[at], starts[at]
        if _is_val(op):
            if ((op >> 2) & 0x1F) + 1 >= count:
                return 0
            if op & 3 == 0:  # a VAL of one register: rewrite it
                ops[at] = _val(count, 1)
                self._merge_from(at)
                return 1
        elif op == 0:  # a ZERO of one register: becomes a VAL
            ops[at] = _val(count, 1)
            self._merge_from(at)
            return 1
        # Split the opcode around the register: [run before] VAL(count) [run after].
        last = first + _span(op) - 1
        run: Callable[[int], int] = partial(_val, ((op >> 2) & 0x1F) + 1) if _is_val(op) else _zeros
        seq: list[int] = []
        seq_starts: list[int] = []
        if index != first:
            seq.append(run(index - first))
            seq_starts.append(first)
        seq.append(_val(count, 1))
        seq_starts.append(index)
        if index != last:
            seq.append(run(last - index))
            seq_starts.append(index + 1)
        delta = sum(map(_size, seq)) - _size(op)
        if delta > 0 and HEADER_SIZE + self.size + delta > SPARSE_MAX_BYTES:
            return _PROMOTE
        replaced_truncated = self.truncated and at == len(ops) - 1
        ops[at : at + 1] = seq
        starts[at : at + 1] = seq_starts
        self.size += delta
        if replaced_truncated and ops[-1] <= 0xFF:
            # Redis wrote the new opcodes from where the cut XZERO began and the string
            # still ends one byte short of them: the last one-byte opcode is not in it.
            ops.pop()
            starts.pop()
            self.truncated = False
        elif self.truncated and not replaced_truncated:
            self._terminated()
        self._merge_from(at)
        return 1

    def _terminated(self) -> None:
        """Redis rewrites the terminator when the length changes: a cut XZERO at the end
        now reads a zero second byte."""
        self.ops[-1] &= 0xFF00

    def _merge_from(self, at: int) -> None:
        """Merge equal adjacent VALs (up to 4 registers) in the five opcodes from the one
        before ``at``, as Redis does after every change — and no further."""
        ops, starts = self.ops, self.starts
        j = at - 1 if at > 0 else 0
        scan = _MERGE_SCAN
        while j < len(ops) and scan:
            scan -= 1
            op = ops[j]
            if _is_val(op) and j + 1 < len(ops):
                following = ops[j + 1]
                length = (op & 3) + (following & 3) + 2
                if _is_val(following) and (op ^ following) & 0x7C == 0 and length <= _VAL_MAX_LEN:
                    ops[j : j + 2] = [(op & 0xFC) | (length - 1)]
                    del starts[j + 1]
                    self.size -= 1
                    if self.truncated:
                        self._terminated()
                    continue  # the merged VAL may merge with the next one too
            j += 1


# --- the estimator --------------------------------------------------------------------


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if previous == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if previous == z:
            return z / 3


def _estimate(histogram: list[int]) -> int:
    """Redis 7's ``hllCount`` from the register histogram, as the uint64 it returns:
    the same floating-point operations in the same order, and ``llroundl``'s rounding
    (half away from zero; ``LLONG_MIN`` when the estimate is infinite)."""
    m = float(REGISTERS)
    z = m * _tau((m - histogram[_Q + 1]) / m)
    for j in range(_Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    estimate = _ALPHA_INF * m * m / z if z else math.inf
    if not estimate < _LLROUND_OVERFLOW:  # infinite or NaN too
        return _LLROUND_OVERFLOW
    whole = math.floor(estimate)
    return whole + 1 if estimate - whole >= 0.5 else whole


def _histogram(registers: bytes | bytearray) -> list[int]:
    """How many registers hold each value; stops counting once all are accounted for
    (registers are small: a few dozen values at most are present)."""
    histogram = [0] * 64
    left = len(registers)
    for value in range(64):
        if not left:
            break
        found = registers.count(value)
        histogram[value] = found
        left -= found
    return histogram


def _signed(card: int) -> int:
    """The uint64 as Redis replies it (``addReplyLongLong``)."""
    return card - (1 << 64) if card >> 63 else card


# --- values ---------------------------------------------------------------------------


def _hll(kv: KeyValueView, key: bytes, now_ms: int) -> tuple[Value | None, bytes | Error]:
    """The live value at ``key`` and its payload if it is an HLL (Redis's
    ``isHLLObjectOrReply``); the payload is ``b""`` when the key is absent."""
    value = live(kv, key, now_ms)
    if value is None:
        return None, b""
    if value.type != STRING:
        return value, errors.WRONGTYPE
    payload = value.payload
    if (
        len(payload) < HEADER_SIZE
        or payload[:4] != b"HYLL"
        or payload[_ENCODING_AT] > SPARSE
        or (payload[_ENCODING_AT] == DENSE and len(payload) != DENSE_SIZE)
    ):
        return value, NOT_HLL
    return value, payload


def refuses(kv: KeyValueView, key: bytes, now_ms: int) -> bool:
    """Whether PFCOUNT or PFMERGE stops at ``key`` with WRONGTYPE: it holds another type,
    or a string that is no HLL (INFO's lookup counts stop there too, ``tally``)."""
    return type(_hll(kv, key, now_ms)[1]) is Error


def _registers(payload: bytes) -> bytearray | None:
    """Every register of a valid-looking HLL, ``None`` for a corrupted sparse one."""
    if payload[_ENCODING_AT] == DENSE:
        return unpack_dense(payload[HEADER_SIZE:])
    return _sparse_registers(decode_sparse(payload[HEADER_SIZE:])[0])


class _Editing:
    """An HLL being added to: its header, and its sparse opcodes or dense registers."""

    __slots__ = ("dense", "header", "sparse")

    def __init__(self, payload: bytes) -> None:
        self.header = bytearray(payload[:HEADER_SIZE])
        body = payload[HEADER_SIZE:]
        self.sparse = _Sparse(body) if payload[_ENCODING_AT] == SPARSE else None
        self.dense = bytearray(body) if self.sparse is None else None

    def add(self, index: int, count: int) -> int:
        """Redis's ``hllAdd`` once hashed: 1 changed, 0 not, -1 corrupted."""
        if self.sparse is not None:
            result = self.sparse.set(index, count)
            if result == 1:
                self.invalidate()
            if result != _PROMOTE:
                return result
            registers = self.sparse.registers()
            if registers is None:
                return -1
            self.dense = pack_dense(registers)
            self.sparse = None
            self.header[_ENCODING_AT] = DENSE
        assert self.dense is not None
        return _dense_set(self.dense, index, count)

    def invalidate(self) -> None:
        self.header[HEADER_SIZE - 1] |= _CACHE_INVALID

    def payload(self) -> bytes:
        if self.sparse is not None:
            return bytes(self.header) + self.sparse.encode()
        assert self.dense is not None
        return bytes(self.header) + self.dense


# --- commands -------------------------------------------------------------------------


def cmd_pfadd(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """1 when a register rose or the key was created, else 0 — and then the value is not
    rewritten at all, so its cached cardinality stays valid, as in Redis."""
    key = args[1]
    value, payload = _hll(kv, key, now_ms)
    if isinstance(payload, Error):
        return payload
    updated = 0
    if value is None:
        payload, updated = EMPTY, 1
    editing = _Editing(payload)
    failed = False
    for element in args[2:]:
        result = editing.add(*register_of(element))
        if result < 0:
            failed = True  # what changed before stays changed, as in Redis
            break
        updated += result
    if updated and not failed:
        editing.invalidate()
    changed = editing.payload()
    if value is None or changed != payload:
        kv.put(key, Value(STRING, 0 if value is None else value.expire_ms, changed))
    if failed:
        return CORRUPTED
    return 1 if updated else 0


def cmd_pfcount(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """One key: the cached cardinality if valid, else the estimate, stored in the header
    (see the module docstring for why every replica does this). Several keys: the
    estimate of their union, stored nowhere."""
    if len(args) > 2:
        return _union_count(kv, args[1:], now_ms)
    key = args[1]
    value, payload = _hll(kv, key, now_ms)
    if value is None or isinstance(payload, Error):
        return 0 if value is None else payload
    cache = payload[_CACHE_AT:HEADER_SIZE]
    if not cache[-1] & _CACHE_INVALID:
        return int.from_bytes(cache, "little")
    if payload[_ENCODING_AT] == DENSE:
        histogram: list[int] | None = _histogram(unpack_dense(payload[HEADER_SIZE:]))
    else:
        histogram = _sparse_histogram(decode_sparse(payload[HEADER_SIZE:])[0])
    if histogram is None:
        return CORRUPTED
    card = _estimate(histogram)
    cached = payload[:_CACHE_AT] + card.to_bytes(8, "little") + payload[HEADER_SIZE:]
    kv.put(key, Value(STRING, value.expire_ms, cached))
    return _signed(card)


def _union(kv: KeyValueView, keys: Iterable[bytes], now_ms: int) -> tuple[bytearray, bool] | Error:
    """The registerwise maximum of the HLLs at ``keys`` (missing ones are empty), and
    whether any of them is dense; the first error in key order otherwise."""
    union = bytearray(REGISTERS)
    any_dense = False
    for key in keys:
        value, payload = _hll(kv, key, now_ms)
        if value is None:
            continue
        if isinstance(payload, Error):
            return payload
        registers = _registers(payload)
        if registers is None:
            return CORRUPTED
        any_dense = any_dense or payload[_ENCODING_AT] == DENSE
        union = _maximum(union, registers)
    return union, any_dense


def _union_count(kv: KeyValueView, keys: tuple[bytes, ...], now_ms: int) -> Reply:
    union = _union(kv, keys, now_ms)
    if isinstance(union, Error):
        return union
    return _signed(_estimate(_histogram(union[0])))


def cmd_pfmerge(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The destination is one of the inputs, as in Redis. It turns dense if any input
    is dense; otherwise the union's registers are set into its sparse form one by one
    in register order — which may turn it dense part way, like any sparse update."""
    union = _union(kv, args[1:], now_ms)
    if isinstance(union, Error):
        return union
    registers, any_dense = union
    destination = args[1]
    value = live(kv, destination, now_ms)
    payload = EMPTY if value is None else value.payload
    header = bytearray(payload[:HEADER_SIZE])
    dense: bytearray | None = None
    sparse: _Sparse | None = None
    if payload[_ENCODING_AT] == DENSE or any_dense:
        own = _registers(payload)
        if own is None:
            return CORRUPTED
        dense = _maximum(own, registers)
    else:
        sparse = _Sparse(payload[HEADER_SIZE:])
        for index, count in enumerate(registers):
            if not count:
                continue
            if sparse.set(index, count) != _PROMOTE:
                continue  # a -1 here is ignored, as Redis ignores it
            converted = sparse.registers()
            if converted is None:
                continue
            converted[index:] = _maximum(converted[index:], registers[index:])
            dense = converted
            break
    if dense is not None:
        header[_ENCODING_AT] = DENSE
        body = bytes(pack_dense(dense))
    else:
        assert sparse is not None
        body = sparse.encode()
    header[HEADER_SIZE - 1] |= _CACHE_INVALID
    kv.put(
        destination, Value(STRING, 0 if value is None else value.expire_ms, bytes(header) + body)
    )
    return OK
