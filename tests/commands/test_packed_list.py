"""``packed_list``, the stored form of a list, and ``ListContents``, a list being changed.

Each operation is checked against a plain Python list doing the same, over
element sizes on both sides of msgpack's header-width steps (255/256 and
65535/65536 bytes) and lengths on both sides of the array header's (15/16).
"""

from __future__ import annotations

import random
import sys
from itertools import islice

import msgpack
import pytest

from epaxosdb.commands import list_contents, lists, packed_list
from epaxosdb.commands.list_contents import ListContents
from epaxosdb.commands.spec import Handler
from protocol.replies import Reply
from storage.interface import StorageError, Value, ValueType
from storage.memory import MemoryStore

_SIZES = (0, 1, 3, 15, 255, 256, 300, 65535, 65536, 70000)


def _element(rng: random.Random) -> bytes:
    size = rng.choice(_SIZES) if rng.random() < 0.2 else rng.randrange(0, 12)
    return bytes([rng.randrange(256)]) * size


def _check(payload: bytes | None, model: list[bytes]) -> None:
    if not model:
        assert payload is None
        return
    assert payload is not None
    assert packed_list.unpack(payload) == model
    assert payload == packed_list.pack(model), "the same list is always stored the same way"


@pytest.mark.parametrize("seed", range(16))
def test_list_contents_agree_with_a_python_list(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every operation of ``ListContents``, on contents read from a payload and changed
    again and again; each encoding is what ``pack`` makes of the model (so also what
    a fresh start from it would read), and contents read back from it carry on. Half
    the seeds read the stored records one at a time (``SPILL``) and walk them three at a
    time (``WALK``), so that the edges of what is left stored move one record at a time
    too, and walks cross chunk boundaries."""
    monkeypatch.setattr(list_contents, "SPILL", 1 if seed % 2 else list_contents.SPILL)
    monkeypatch.setattr(list_contents, "WALK", 3 if seed % 2 else list_contents.WALK)
    rng = random.Random(seed)
    model = [_element(rng) for _ in range(rng.randrange(1, 40))]
    contents = ListContents.over(packed_list.pack(model))
    for step in range(300):
        assert len(contents) == len(model)
        start = rng.randrange(len(model) + 1)
        stop = rng.randrange(start, len(model) + 1)
        assert contents.items(start, stop) == model[start:stop]
        operation = rng.randrange(6)
        if operation == 0:
            added = [_element(rng) for _ in range(rng.randrange(1, 4))]
            at_head = rng.random() < 0.5
            contents.push(added, at_head)
            model = [*added, *model] if at_head else [*model, *added]
        elif operation == 1:
            count, from_tail = rng.randrange(0, 5), rng.random() < 0.5
            expected = model[::-1][:count] if from_tail else model[:count]
            assert contents.pop(count, from_tail) == expected
            model = model[: len(model) - len(expected)] if from_tail else model[len(expected) :]
        elif operation == 2 and model:
            index, element = rng.randrange(len(model)), _element(rng)
            contents.set(index, element)
            model[index] = element
        elif operation == 3 and rng.random() < 0.3:
            contents.keep(start, stop)
            model = model[start:stop]
        elif operation == 4:
            index, element = rng.randrange(len(model) + 1), _element(rng)
            contents.insert(index, element)
            model.insert(index, element)
        elif operation == 5 and model and rng.random() < 0.5:
            index = rng.randrange(len(model))
            contents.remove(index)
            del model[index]
        elif operation == 5:
            from_tail, prefix = rng.random() < 0.5, rng.randrange(len(model) + 1)
            expected = model[::-1] if from_tail else model
            assert list(islice(contents.walk(from_tail), prefix)) == expected[:prefix]
        if not model:
            model = [_element(rng)]
            contents = ListContents.of(model)
        if step % 7 == 0 or rng.random() < 0.1:
            payload = contents.encode()
            _check(payload, model)
            contents = ListContents.over(payload) if rng.random() < 0.5 else contents
    assert contents.elements() == model


def test_array_header_widths_at_their_steps() -> None:
    for length in (15, 16, 65535, 65536):
        model = [b""] * length
        contents = ListContents.over(packed_list.pack(model))
        assert len(contents) == length
        grown = contents.copy()
        grown.push([b"x"], at_head=False)
        _check(grown.encode(), [*model, b"x"])
        contents.pop(1, from_tail=False)
        _check(contents.encode(), model[1:])


def test_unchanged_contents_encode_as_the_very_payload_they_were_read_from() -> None:
    payload = packed_list.pack([b"a", b"b", b"c"])
    contents = ListContents.over(payload)
    assert contents.items(1, 3) == [b"b", b"c"]
    assert contents.encode() is payload
    contents.push([b"z"], at_head=True)
    contents.pop(1, from_tail=False)
    assert contents.encode() == payload


def test_the_older_form_is_read_and_converted() -> None:
    model = [b"a", b"", b"b" * 300]
    older = msgpack.packb(model, use_bin_type=True)
    assert packed_list.unpack(older) == model
    packed = packed_list.view(older)
    assert packed.payload == packed_list.pack(model)
    assert packed_list.items(packed, 1, 3) == model[1:]


def _damaged() -> list[bytes]:
    good = packed_list.pack([b"abc", b"de", b"f"])
    table = len(good) - 12
    wrong_length = bytearray(good)
    wrong_length[table] = 4  # "abc" claims 4 bytes
    too_long = bytearray(good)
    too_long[table + 4] = 200  # "de" claims more than the value holds
    return [
        b"",
        b"\xc1",
        b"\xc1\x90",  # an empty list is never stored
        b"\xc1\xc0" + good[2:],  # no array header
        good[:-1],  # a length cut short
        good[:5],  # records cut short
        bytes(wrong_length),
        bytes(too_long),
        b"\xc1" + msgpack.packb([b"a", 1]) + b"\x01\x00\x00\x00\x01\x00\x00\x00",  # not bytes
    ]


@pytest.mark.parametrize("payload", _damaged(), ids=lambda p: p.hex()[:24] or "empty")
def test_a_damaged_list_is_a_storage_error(payload: bytes) -> None:
    with pytest.raises(StorageError):
        packed = packed_list.view(payload)
        packed_list.items(packed, 0, packed.length)


def test_a_list_stored_in_the_older_form_answers_and_is_rewritten_at_its_first_change() -> None:
    store = MemoryStore()
    older = msgpack.packb([b"a", b"b", b"c"], use_bin_type=True)
    store.write(lambda txn: txn.put(b"q", Value(ValueType.LIST, 0, older)))
    handlers: dict[bytes, Handler] = {
        b"LLEN": lists.cmd_llen,
        b"LINDEX": lists.cmd_lindex,
        b"LRANGE": lists.cmd_lrange,
        b"RPOP": lists.cmd_pop,
        b"LPUSH": lists.cmd_push,
    }

    def run(*args: bytes) -> Reply:
        return store.write(lambda txn: handlers[args[0]](txn, args, 1, 0))

    assert run(b"LLEN", b"q") == 3
    assert run(b"LINDEX", b"q", b"-1") == b"c"
    assert run(b"LRANGE", b"q", b"0", b"-1") == [b"a", b"b", b"c"]
    assert store.read(lambda view: view.get(b"q")) == Value(ValueType.LIST, 0, older)
    assert run(b"RPOP", b"q") == b"c"
    assert run(b"LPUSH", b"q", b"z") == 3
    stored = store.read(lambda view: view.get(b"q"))
    assert stored is not None and stored.payload == packed_list.pack([b"z", b"a", b"b"])


class _PopsTailInHeadOrder(ListContents):
    """Broken on purpose: a pop of several from the tail answers them head first."""

    def pop(self, count: int, from_tail: bool) -> list[bytes]:
        taken = super().pop(count, from_tail)
        if from_tail:
            taken.reverse()
        return taken


def test_the_model_check_catches_a_pop_from_the_tail_in_the_wrong_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ListContents", _PopsTailInHeadOrder)
    with pytest.raises(AssertionError):
        for seed in range(16):
            test_list_contents_agree_with_a_python_list(seed, monkeypatch)
