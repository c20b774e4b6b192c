"""PFADD, PFCOUNT, PFMERGE on their own: Redis's layout, promotion, merges, the cache.

Reference values (register positions, counts, bytes) come from redis-server
7.0.15 (``PFDEBUG DECODE``, GET); the differential tests compare the rest with
a live server. These tests pin down the pieces: the hash, the two encodings
and the switch between them, what merging keeps, when the cached cardinality
is trusted, what a corrupted value gets, and that every replica — not only
the one that proposed a PFCOUNT — ends with the same bytes.
"""

from __future__ import annotations

import random

import pytest

from epaxosdb.commands import command_access, execute, is_read_only, prepare, settle_expiry_of
from epaxosdb.commands.hyperloglog import (
    CORRUPTED,
    DENSE,
    DENSE_SIZE,
    EMPTY,
    HEADER_SIZE,
    NOT_HLL,
    REGISTERS,
    SPARSE,
    SPARSE_MAX_BYTES,
    _Editing,
    _estimate,
    _span,
    _Sparse,
    decode_sparse,
    pack_dense,
    register_of,
    unpack_dense,
)
from protocol.messages import Command
from protocol.replies import OK, Error, Reply
from storage.interface import Value, ValueType
from storage.memory import MemoryStore
from tests.commands.differential import Model, injected_value

T0 = 1_700_000_000_000


class Node:
    """A replica's command layer over a MemoryStore, at a fixed time."""

    def __init__(self) -> None:
        self.model = Model()

    def __call__(self, *args: bytes) -> Reply:
        return self.model.call(args, now_ms=T0)

    def value(self, key: bytes) -> Value | None:
        return self.model.store.read(lambda kv: kv.get(key))

    def payload(self, key: bytes) -> bytes:
        value = self.value(key)
        assert value is not None and value.type == ValueType.STRING, key
        return value.payload

    def put(self, key: bytes, payload: bytes, expire_ms: int = 0) -> None:
        self.model.put(key, Value(ValueType.STRING, expire_ms, payload))


def header(encoding: int, card: int = 0, *, valid: bool = False) -> bytes:
    return (
        b"HYLL"
        + bytes((encoding, 0, 0, 0))
        + (card | (0 if valid else 1 << 63)).to_bytes(8, "little")
    )


def registers_of(payload: bytes) -> bytearray:
    """Every register of a stored HLL, whatever its encoding."""
    if payload[4] == DENSE:
        return unpack_dense(payload[HEADER_SIZE:])
    editing = _Sparse(payload[HEADER_SIZE:])
    registers = editing.registers()
    assert registers is not None
    return registers


def elements(prefix: bytes, count: int) -> list[bytes]:
    return [b"%s%d" % (prefix, i) for i in range(count)]


# --- hashing and encodings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "register", "count"),
    [
        (b"a", 12711, 2),
        (b"", 5938, 2),
        (b"hello world", 9399, 4),
        (b"0123456789abcdefXYZ", 8222, 1),  # two whole 8-byte words and a 3-byte tail
    ],
)
def test_elements_land_in_the_register_redis_puts_them_in(
    element: bytes, register: int, count: int
) -> None:
    """Positions read from redis-server with ``PFDEBUG DECODE`` after one PFADD."""
    assert register_of(element) == (register, count)


def test_first_pfadd_creates_redis_sparse_bytes() -> None:
    node = Node()
    assert node(b"PFADD", b"k", b"a") == 1
    # XZERO 12711, VAL 2x1, XZERO 3672: GET k on redis-server 7.0.15, header included
    assert node.payload(b"k") == header(SPARSE) + bytes.fromhex("71a6844e57")


def test_pfadd_without_elements_creates_an_empty_hll_once() -> None:
    node = Node()
    assert header(SPARSE, valid=True) + b"\x7f\xff" == EMPTY
    assert node(b"PFADD", b"k") == 1  # created: counts as a change, so the cache is invalid
    assert node.payload(b"k") == header(SPARSE) + b"\x7f\xff"
    assert node(b"PFCOUNT", b"k") == 0
    assert node(b"PFADD", b"k") == 0
    assert node.payload(b"k") == EMPTY


def test_counts_match_redis_in_sparse_and_dense_form() -> None:
    node = Node()
    node(b"PFADD", b"small", *elements(b"e", 1000))
    node(b"PFADD", b"large", *elements(b"e", 100_000))
    assert node.payload(b"small")[4] == SPARSE and len(node.payload(b"small")) == 1906
    assert node.payload(b"large")[4] == DENSE
    assert (node(b"PFCOUNT", b"small"), node(b"PFCOUNT", b"large")) == (1008, 100853)


def test_dense_registers_pack_six_bits_little_endian_and_round_trip() -> None:
    rng = random.Random(7)
    registers = bytearray(rng.randrange(64) for _ in range(REGISTERS))
    packed = pack_dense(registers)
    assert len(packed) == DENSE_SIZE - HEADER_SIZE
    assert unpack_dense(packed) == registers
    number = int.from_bytes(packed, "little")
    for index in (0, 1, 2, 3, 4, 5000, REGISTERS - 1):
        assert (number >> (6 * index)) & 63 == registers[index]


def test_setting_neighbouring_registers_splits_then_merges_vals_as_redis_does() -> None:
    sparse = _Sparse(EMPTY[HEADER_SIZE:])
    assert sparse.set(5, 1) == 1
    assert sparse.encode() == bytes((0x04, 0x80, 0x7F, 0xF9))  # ZERO 5, VAL 1x1, XZERO 16378
    assert sparse.set(6, 1) == 1
    assert sparse.encode() == bytes((0x04, 0x81, 0x7F, 0xF8))  # the two VALs became VAL 1x2
    assert sparse.set(6, 1) == 0  # already there
    assert sparse.set(6, 3) == 1
    assert sparse.encode() == bytes((0x04, 0x80, 0x88, 0x7F, 0xF8))  # split back: 1, 3


def element_in(first: int, last: int, min_count: int = 1) -> bytes:
    """The first ``w<n>`` that lands in registers ``first..last`` with at least that count."""
    return next(
        element
        for element in (b"w%d" % n for n in range(1_000_000))
        if first <= register_of(element)[0] <= last and register_of(element)[1] >= min_count
    )


def row_of_vals(values: list[int]) -> bytes:
    """A sparse body of one-register VALs of these values, never merged (as only a SET
    can make it), then an XZERO for the rest."""
    rest = REGISTERS - len(values) - 1
    return bytes(0x80 | (v - 1) << 2 for v in values) + bytes((0x40 | rest >> 8, rest & 0xFF))


MERGE_WINDOW_ELEMENT = element_in(1, 9, min_count=3)
"""Lands in one of the first registers, with a count above any value below."""


def merge_window_rows() -> tuple[list[int], list[int]]:
    """Two rows around ``MERGE_WINDOW_ELEMENT``'s register ``r``: sixteen 1s, where the
    change starts three merges that use up the window; and 1s and 2s alternating, with
    the pair at ``r+4``, ``r+5`` equal: just past the window, so Redis leaves it."""
    index = register_of(MERGE_WINDOW_ELEMENT)[0]
    alternating = [1 + i % 2 for i in range(16)]
    alternating[index + 5] = alternating[index + 4]
    return [1] * 16, alternating


def _ops_after_adding(values: list[int], element: bytes) -> list[int]:
    node = Node()
    node.put(b"k", header(SPARSE) + row_of_vals(values))
    assert node(b"PFADD", b"k", element) == 1
    return decode_sparse(node.payload(b"k")[HEADER_SIZE:])[0]


def test_a_change_merges_equal_neighbours_until_five_opcodes_are_looked_at() -> None:
    """Redis looks for equal VALs to merge from the opcode before the change, five
    opcodes at most, a merge counting as one: three merges here, then it stops."""
    index, count = register_of(MERGE_WINDOW_ELEMENT)
    ones, _ = merge_window_rows()
    changed = 0x80 | (count - 1) << 2
    expected = [0x80] * index + [changed, 0x83] + [0x80] * (16 - index - 5) + [0x7FEF]
    assert _ops_after_adding(ones, MERGE_WINDOW_ELEMENT) == expected


def test_equal_neighbours_just_past_the_five_opcodes_stay_apart() -> None:
    index, count = register_of(MERGE_WINDOW_ELEMENT)
    _, alternating = merge_window_rows()
    expected = [*row_of_vals(alternating)[:16], 0x7FEF]
    expected[index] = 0x80 | (count - 1) << 2
    assert _ops_after_adding(alternating, MERGE_WINDOW_ELEMENT) == expected


# --- sparse to dense --------------------------------------------------------------------


@pytest.mark.parametrize(("size", "encoding"), [(2997, SPARSE), (2998, DENSE)])
def test_a_split_turns_the_string_dense_only_if_it_would_pass_3000_bytes(
    size: int, encoding: int
) -> None:
    """Splitting an XZERO in its middle adds 3 bytes: 2997 + 3 fits, 2998 + 3 does not."""
    vals = size - HEADER_SIZE - 2  # VALs of four registers each, then one XZERO
    rest = REGISTERS - 4 * vals
    body = b"\x83" * vals + bytes((0x40 | (rest - 1) >> 8, (rest - 1) & 0xFF))
    node = Node()
    node.put(b"k", header(SPARSE) + body)
    assert node(b"PFADD", b"k", element_in(4 * vals + 100, REGISTERS - 100)) == 1
    payload = node.payload(b"k")
    assert payload[4] == encoding
    assert len(payload) == (size + 3 if encoding == SPARSE else DENSE_SIZE)


def test_sparse_turns_dense_when_a_split_would_pass_3000_bytes() -> None:
    node = Node()
    node(b"PFADD", b"k", b"x")  # unused header bytes are carried into the dense form
    node.put(b"k", node.payload(b"k")[:5] + b"\xaa\xbb\xcc" + node.payload(b"k")[8:])
    sizes: list[int] = []
    for element in elements(b"p", 3000):
        before = node.payload(b"k")
        node(b"PFADD", b"k", element)
        after = node.payload(b"k")
        if after[4] == DENSE:
            break
        sizes.append(len(after))
    else:
        pytest.fail("never turned dense")
    assert max(sizes) <= SPARSE_MAX_BYTES and max(sizes) > SPARSE_MAX_BYTES - 4
    assert len(after) == DENSE_SIZE and after[:4] == b"HYLL" and after[5:8] == b"\xaa\xbb\xcc"
    index, count = register_of(element)
    expected = registers_of(before)
    expected[index] = max(expected[index], count)
    assert registers_of(after) == expected
    assert after[15] & 0x80  # the cache is invalid after a change


def test_a_register_above_32_needs_the_dense_form() -> None:
    """A VAL holds at most 32; a run that long is one hash in 2^32, so set it directly."""
    editing = _Editing(EMPTY)
    assert editing.add(100, 33) == 1
    payload = editing.payload()
    assert payload[4] == DENSE and len(payload) == DENSE_SIZE
    assert registers_of(payload)[100] == 33 and sum(registers_of(payload)) == 33


# --- merging ----------------------------------------------------------------------------


def test_merge_of_sparse_and_dense_is_dense_with_the_registerwise_maximum() -> None:
    node = Node()
    node(b"PFADD", b"sparse", *elements(b"s", 300))
    node(b"PFADD", b"dense", *elements(b"d", 5000))
    assert node.payload(b"sparse")[4] == SPARSE and node.payload(b"dense")[4] == DENSE
    assert node(b"PFMERGE", b"out", b"sparse", b"dense") == OK
    merged = node.payload(b"out")
    assert merged[4] == DENSE and merged[15] & 0x80
    sparse, dense = registers_of(node.payload(b"sparse")), registers_of(node.payload(b"dense"))
    assert registers_of(merged) == bytearray(map(max, sparse, dense))
    assert node(b"PFCOUNT", b"out") == node(b"PFCOUNT", b"sparse", b"dense")


def test_merge_of_small_sparse_hlls_stays_sparse_and_includes_the_destination() -> None:
    node = Node()
    node(b"PFADD", b"a", *elements(b"a", 50))
    node(b"PFADD", b"b", *elements(b"b", 50))
    node(b"PFADD", b"out", b"own")
    assert node(b"PFMERGE", b"out", b"a", b"b", b"missing") == OK
    merged = node.payload(b"out")
    assert merged[4] == SPARSE
    expected = bytearray(
        map(max, registers_of(node.payload(b"a")), registers_of(node.payload(b"b")))
    )
    index, count = register_of(b"own")
    expected[index] = max(expected[index], count)
    assert registers_of(merged) == expected


def test_pfcount_of_several_keys_counts_the_union_and_writes_nothing() -> None:
    node = Node()
    node(b"PFADD", b"a", *elements(b"x", 200))
    node(b"PFADD", b"b", *elements(b"x", 100), *elements(b"y", 100))
    before = (node.payload(b"a"), node.payload(b"b"))
    union = node(b"PFCOUNT", b"a", b"b", b"missing")
    assert isinstance(union, int) and 280 <= union <= 320
    assert (node.payload(b"a"), node.payload(b"b")) == before
    assert node.value(b"missing") is None


# --- the cached cardinality ------------------------------------------------------------


def test_pfcount_caches_and_pfadd_invalidates_the_cardinality() -> None:
    node = Node()
    node(b"PFADD", b"k", *elements(b"c", 100))
    assert node.payload(b"k")[15] & 0x80  # invalid after PFADD
    count = node(b"PFCOUNT", b"k")
    cached = node.payload(b"k")
    assert isinstance(count, int) and int.from_bytes(cached[8:16], "little") == count
    assert node(b"PFADD", b"k", b"c7") == 0  # nothing new: the value is left alone
    assert node.payload(b"k") == cached
    assert node(b"PFADD", b"k", b"new one") == 1
    assert node.payload(b"k")[15] & 0x80
    assert node.payload(b"k")[8:15] == cached[8:15]  # only the invalid bit is set


def test_a_valid_cache_is_returned_without_looking_at_the_registers() -> None:
    node = Node()
    node.put(b"k", header(SPARSE, 12345, valid=True) + b"\x7f\xff")
    assert node(b"PFCOUNT", b"k") == 12345
    node.put(b"k", header(SPARSE, 12345, valid=True) + b"\x7f")  # corrupted, never read
    assert node(b"PFCOUNT", b"k") == 12345


def test_pfmerge_always_invalidates_the_destination_cache() -> None:
    node = Node()
    node(b"PFADD", b"k", b"a")
    node(b"PFCOUNT", b"k")
    assert not node.payload(b"k")[15] & 0x80
    assert node(b"PFMERGE", b"k") == OK
    assert node.payload(b"k")[15] & 0x80


def test_an_infinite_estimate_replies_like_redis_llroundl() -> None:
    """Every register at 63 leaves nothing to divide by; Redis answers LLONG_MIN and
    stores 2^63, which still reads as an invalid cache."""
    node = Node()
    node.put(b"k", header(DENSE) + b"\xff" * (DENSE_SIZE - HEADER_SIZE))
    assert node(b"PFCOUNT", b"k") == -(1 << 63)
    assert node.payload(b"k")[8:16] == (1 << 63).to_bytes(8, "little")
    assert _estimate([REGISTERS] + [0] * 63) == 0


# --- keys and TTLs ----------------------------------------------------------------------


def test_pfadd_pfcount_and_pfmerge_keep_the_ttl() -> None:
    node = Node()
    expire = T0 + 60_000
    for key in (b"a", b"b"):
        node(b"PFADD", key, b"x")
        value = node.value(key)
        assert value is not None
        node.put(key, value.payload, expire)
    node(b"PFADD", b"a", *elements(b"t", 50))
    node(b"PFCOUNT", b"a")
    node(b"PFMERGE", b"b", b"a")
    node(b"PFMERGE", b"new", b"a")
    assert [getattr(node.value(k), "expire_ms", None) for k in (b"a", b"b", b"new")] == [
        expire,
        expire,
        0,
    ]


# --- values that are not HLLs -----------------------------------------------------------

NOT_HLL_VALUES = {
    "short": b"abc",
    "other magic": b"HYLX" + EMPTY[4:],
    "unknown encoding": EMPTY[:4] + b"\x02" + EMPTY[5:],
    "dense of the wrong length": header(DENSE) + bytes(100),
}


@pytest.mark.parametrize("payload", NOT_HLL_VALUES.values(), ids=NOT_HLL_VALUES.keys())
def test_strings_that_are_not_hlls_get_the_hll_wrongtype_error(payload: bytes) -> None:
    node = Node()
    node.put(b"k", payload)
    node(b"PFADD", b"d", b"x")
    for request in (
        (b"PFADD", b"k", b"x"),
        (b"PFCOUNT", b"k"),
        (b"PFCOUNT", b"d", b"k"),
        (b"PFMERGE", b"d", b"k"),
        (b"PFMERGE", b"k", b"d"),
    ):
        assert node(*request) == NOT_HLL, request
    assert node.payload(b"k") == payload


def test_other_types_get_the_usual_wrongtype_error() -> None:
    node = Node()
    node.model.put(b"k", injected_value(ValueType.LIST))
    for request in (
        (b"PFADD", b"k"),
        (b"PFCOUNT", b"k"),
        (b"PFMERGE", b"k"),
        (b"PFMERGE", b"d", b"k"),
    ):
        reply = node(*request)
        assert isinstance(reply, Error) and reply.text.startswith("WRONGTYPE Operation"), request
    assert node.value(b"d") is None


@pytest.mark.parametrize(
    "body",
    [b"", b"\x7e\x7f", b"\x7f\xff\x00", b"\x7f\xff\x80", b"\x7f"],
    ids=["empty", "16255 registers", "one zero too many", "one value too many", "cut xzero"],
)
def test_sparse_bodies_that_do_not_cover_16384_registers_are_corrupted(body: bytes) -> None:
    node = Node()
    node.put(b"k", header(SPARSE) + body)
    assert node(b"PFCOUNT", b"k") == CORRUPTED
    assert node(b"PFCOUNT", b"k", b"k") == CORRUPTED
    assert node(b"PFMERGE", b"d", b"k") == CORRUPTED
    assert node.payload(b"k") == header(SPARSE) + body
    assert node.value(b"d") is None


def test_pfadd_into_a_partly_covered_sparse_keeps_what_it_changed_before_failing() -> None:
    """XZERO 16000 covers registers 0..15999 only: an element landing there is set, one
    landing above fails the command, and the first change stays, as in Redis."""
    low = next(e for e in elements(b"l", 1000) if register_of(e)[0] < 16000)
    high = next(e for e in elements(b"h", 1000) if register_of(e)[0] >= 16000)
    node = Node()
    covered = header(SPARSE, valid=True) + bytes((0x40 | (15999 >> 8), 15999 & 0xFF))
    node.put(b"k", covered)
    assert node(b"PFADD", b"k", low, high) == CORRUPTED
    changed = node.payload(b"k")
    assert changed != covered and changed[15] & 0x80
    ops, _ = decode_sparse(changed[HEADER_SIZE:])
    assert sum(map(_span, ops)) == 16000  # still 16000 registers, one of them set
    assert [op for op in ops if 0x80 <= op <= 0xFF] == [0x80 | (register_of(low)[1] - 1) << 2]
    assert node(b"PFADD", b"k", high) == CORRUPTED and node.payload(b"k") == changed


# --- replication ------------------------------------------------------------------------


def test_pfcount_runs_on_every_replica_and_declares_its_keys_written() -> None:
    for args in ([b"PFCOUNT", b"k"], [b"PFCOUNT", b"k", b"j"]):
        op = prepare(args, T0)
        assert not isinstance(op, Error)
        cmd = Command(origin=1, id=1, time_ms=T0, ops=(op,))
        assert not is_read_only(cmd)
        assert command_access(cmd).writes == frozenset(args[1:])


def _apply(store: MemoryStore, cmd: Command, *, proposed: bool) -> None:
    if proposed or not is_read_only(cmd):
        store.write(lambda txn: execute(txn, cmd))
    else:
        store.write(lambda txn: settle_expiry_of(txn, cmd))


def test_proposer_and_follower_end_with_the_same_bytes() -> None:
    """A follower skips what ``is_read_only`` says only the proposer runs (``node``):
    if PFCOUNT were among those, the cache would be written at one replica only."""
    proposer, follower = MemoryStore(), MemoryStore()
    requests = [
        [b"PFADD", b"a", *elements(b"r", 400)],
        [b"PFCOUNT", b"a"],
        [b"PFADD", b"b", *elements(b"q", 3000)],
        [b"PFCOUNT", b"b"],
        [b"PFMERGE", b"c", b"a", b"b"],
        [b"PFCOUNT", b"c"],
        [b"PFCOUNT", b"a", b"c"],
    ]
    for step, args in enumerate(requests):
        op = prepare(args, T0)
        assert not isinstance(op, Error)
        cmd = Command(origin=1, id=step, time_ms=T0, ops=(op,))
        _apply(proposer, cmd, proposed=True)
        _apply(follower, cmd, proposed=False)
    assert dict(proposer.kv_items()) == dict(follower.kv_items())
    cached = proposer.read(lambda kv: kv.get(b"c"))
    assert cached is not None and not cached.payload[15] & 0x80
