"""The stored form of a hash, set, list or sorted set: what ``encode_*`` writes, ``decode_*``
reads.

Anything else in a HASH-, SET-, LIST- or ZSET-typed record is damage, and damage must surface as a
``StorageError`` (which stops a replica with one log line and is what
``epaxosdb inspect --check`` names), never as a wrong reply or a crash.
"""

from __future__ import annotations

import math
import struct

import msgpack
import pytest

from epaxosdb.commands.containers import CONTENT_MATCH_MIN
from epaxosdb.commands.hashes import decode_hash, encode_hash
from epaxosdb.commands.lists import LISTS, decode_list, encode_list
from epaxosdb.commands.sets import SETS, decode_set, encode_set
from epaxosdb.commands.zsets import decode_zset, encode_zset, ordered
from storage.interface import StorageError


def test_hash_fields_round_trip_in_insertion_order() -> None:
    fields = {b"z": b"1", b"": b"", b"a": b"\x00\xff" * 100, b"m": b"x"}
    decoded = decode_hash(encode_hash(fields))
    assert decoded == fields
    assert list(decoded) == [b"z", b"", b"a", b"m"]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",  # never used by msgpack
        msgpack.packb([b"f"]),  # a field without its value
        msgpack.packb({b"f": b"v"}),  # a map, not the flat list
        msgpack.packb([b"f", 1]),  # a value that is not bytes
        msgpack.packb(["f", "v"]),  # text, not bytes
        msgpack.packb([b"f", b"v", b"f", b"w"]),  # a field twice
        msgpack.packb([b"f", b"v"]) + b"\x00",  # trailing bytes
    ],
    ids=lambda p: p.hex()[:24] or "empty",
)
def test_a_payload_that_is_not_a_hash_is_a_storage_error(payload: bytes) -> None:
    with pytest.raises(StorageError):
        decode_hash(payload)


def test_set_members_round_trip_in_insertion_order() -> None:
    members = [b"z", b"", b"\x00\xff" * 100, b"10"]
    assert list(decode_set(encode_set(members))) == members


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        msgpack.packb({b"m": None}),  # a map, not a list
        msgpack.packb([b"m", 1]),  # a member that is not bytes
        msgpack.packb(["m"]),  # text, not bytes
        msgpack.packb([b"m", b"m"]),  # a member twice
        msgpack.packb([b"m"]) + b"\x00",  # trailing bytes
    ],
    ids=lambda p: p.hex()[:24] or "empty",
)
def test_a_payload_that_is_not_a_set_is_a_storage_error(payload: bytes) -> None:
    with pytest.raises(StorageError):
        decode_set(payload)


def test_list_elements_round_trip_head_first_repeats_included() -> None:
    elements = [b"a", b"", b"a", b"\x00\xff" * 100]
    assert decode_list(encode_list(elements)) == elements


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xc1", msgpack.packb({b"e": None}), msgpack.packb([b"e", 1]), msgpack.packb(["e"])],
    ids=lambda p: p.hex()[:24] or "empty",
)
def test_a_payload_that_is_not_a_list_is_a_storage_error(payload: bytes) -> None:
    with pytest.raises(StorageError):
        decode_list(payload)


def test_sorted_set_scores_round_trip_bit_for_bit_in_score_then_member_order() -> None:
    scores = {
        b"z": 1.0, b"": -math.inf, b"a": 1.0, b"\x00\xff" * 100: math.inf,
        b"tiny": 5e-324, b"third": 0.1 + 0.2, b"neg": -0.0, b"big": 1e300,
    }  # fmt: skip
    payload = encode_zset(scores)
    decoded = decode_zset(payload)
    assert decoded == scores
    assert all(struct.pack(">d", decoded[m]) == struct.pack(">d", s) for m, s in scores.items())
    stored_order = msgpack.unpackb(payload)[::2]
    assert stored_order == [member for member, _ in ordered(scores)]
    assert stored_order[:3] == [b"", b"neg", b"tiny"]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        msgpack.packb([b"m"]),  # a member without its score
        msgpack.packb({b"m": struct.pack(">d", 1.0)}),  # a map, not the flat list
        msgpack.packb([b"m", 1.0]),  # a msgpack float, not 8 bytes
        msgpack.packb([b"m", b"1"]),  # a score as text
        msgpack.packb([b"m", struct.pack(">d", 1.0) + b"\x00"]),  # 9 bytes
        msgpack.packb([b"m", struct.pack(">d", math.nan)]),  # NaN: no writer stores it
        msgpack.packb(["m", struct.pack(">d", 1.0)]),  # text, not bytes
        msgpack.packb([b"m", struct.pack(">d", 1.0), b"m", struct.pack(">d", 2.0)]),  # twice
        msgpack.packb([b"m", struct.pack(">d", 1.0)]) + b"\x00",  # trailing bytes
    ],
    ids=lambda p: p.hex()[:24] or "empty",
)
def test_a_payload_that_is_not_a_sorted_set_is_a_storage_error(payload: bytes) -> None:
    with pytest.raises(StorageError):
        decode_zset(payload)


def test_a_remembered_decode_is_a_copy_so_changing_it_changes_nothing_else() -> None:
    """Handlers change what they load; the next load of the same payload must not see it."""
    payload = encode_list([b"a"])
    first = LISTS.decode(payload)
    first.push([b"b"], at_head=False)
    assert LISTS.decode(payload).elements() == [b"a"]
    fields = decode_hash(encode_hash({b"f": b"v"}))
    fields[b"g"] = b"w"
    stored = encode_hash({b"f": b"v"})
    assert decode_hash(stored) == {b"f": b"v"}
    second = decode_hash(stored)
    second.clear()
    assert decode_hash(stored) == {b"f": b"v"}


def _counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    decoded: list[bytes] = []
    original = SETS._decode

    def counting(payload: bytes) -> dict[bytes, None]:
        decoded.append(payload)
        return original(payload)

    monkeypatch.setattr(SETS, "_decode", counting)
    return decoded


def test_a_payload_read_again_as_a_new_object_is_matched_by_content_not_decoded_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LMDB hands out a new ``bytes`` object at every read of a key: a large set read by
    one command after another must not be decoded every time."""
    decoded = _counting_decodes(monkeypatch)
    payload = encode_set([b"member:%d" % i for i in range(CONTENT_MATCH_MIN)])
    again = bytes(bytearray(payload))  # equal, but another object
    assert again is not payload
    assert SETS.decode_shared(payload) is SETS.decode_shared(again)
    assert len(decoded) == 1
    other = bytearray(payload)
    other[-1] = ord("x")  # same length, one byte different: another set
    assert decode_set(bytes(other)) != decode_set(payload)
    assert len(decoded) == 2


def test_small_payloads_are_decoded_again_and_shared_contents_are_not_copied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded = _counting_decodes(monkeypatch)
    small = encode_set([b"a", b"b"])
    assert len(small) < CONTENT_MATCH_MIN
    SETS.decode_shared(small)
    SETS.decode_shared(bytes(bytearray(small)))
    assert len(decoded) == 2
    shared = SETS.decode_shared(small)
    assert SETS.decode_shared(small) is shared  # the same object: readers must not change it
    owned = SETS.decode(small)
    assert owned is not shared and owned == shared
