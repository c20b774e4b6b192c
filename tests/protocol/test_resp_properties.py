"""Properties of the RESP codec, checked with hypothesis.

* Any list of byte strings survives ``encode_request`` → ``RespParser``,
  however the stream is cut into reads.
* On arbitrary input (well-formed requests mixed with RESP fragments and
  junk) the parser either parses or raises one of its protocol errors, and
  FAST mode (hiredis) gives exactly the answers of SLOW mode (pure Python):
  the guard and the position checks that decide when hiredis may be
  trusted are what this property exercises.
* Any reply encodes to bytes that hiredis, an independent RESP decoder,
  reads back as the value the reply stands for.
"""

from __future__ import annotations

import itertools
import math

import hiredis
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import CrossProtocolRequest, QueryBufferLimitExceeded, RespProtocolError
from protocol.replies import (
    BigNumber,
    Error,
    Map,
    NullArray,
    Push,
    Reply,
    Set,
    SimpleString,
    Verbatim,
)
from protocol.resp import NEED_DATA, RespParser, encode_push, encode_reply, encode_request

args_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=8)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def run(chunks: list[bytes], use_hiredis: bool) -> tuple[list[list[bytes]], str]:
    parser = RespParser(use_hiredis=use_hiredis)
    requests: list[list[bytes]] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (request := parser.next_request()) is not NEED_DATA:
                assert isinstance(request, list)
                assert request and all(type(arg) is bytes for arg in request)
                requests.append(request)
    except RespProtocolError as error:
        return requests, error.text
    except CrossProtocolRequest:
        return requests, "cross protocol"
    except QueryBufferLimitExceeded:
        return requests, "query buffer limit"
    return requests, ""


@given(st.lists(args_lists, min_size=1, max_size=6), st.lists(st.integers(0, 10_000), max_size=8))
def test_encoded_requests_parse_back_whatever_the_read_boundaries(
    requests: list[list[bytes]], cuts: list[int]
) -> None:
    data = b"".join(encode_request(r) for r in requests)
    expected = [r for r in requests if not _is_http_word(r[0])]
    for use_hiredis in (True, False):
        parsed, error = run(chunked(data, cuts), use_hiredis)
        if error == "cross protocol":
            assert parsed == expected[: len(parsed)]
        else:
            assert (parsed, error) == (requests, "")


def _is_http_word(word: bytes) -> bool:
    return word.lower() in (b"post", b"host:")


fragments = st.one_of(
    args_lists.map(encode_request),
    st.sampled_from(
        [
            b"\r\n",
            b"*",
            b"$",
            b"*1\r\n",
            b"$3\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b":5\r\n",
            b"+OK\r\n",
            b"=7\r\ntxt:abc\r\n",
            b"(12\r\n",
            b"_\r\n",
            b"%1\r\n",
            b"~1\r\n",
            b"$-1\r\n",
            b"PING\r\n",
            b'ECHO "a b"\r\n',
            b"'",
            b'"',
            b"\x00",
            b"\r",
            b"\n",
            b"xx",
            b"$12345",
            b"*99999\r\n",
            b"$99999\r\n",
            b"|1\r\n",
            b">2\r\n",
            b"!3\r\nerr\r\n",
            b"#t\r\n",
            b",1.5\r\n",
        ]
    ),
    st.binary(max_size=12),
)


@settings(max_examples=300)
@given(st.lists(fragments, max_size=12), st.lists(st.integers(0, 10_000), max_size=6))
def test_fast_mode_answers_exactly_like_slow_mode_on_any_input(
    parts: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(parts)
    slow = run([data], use_hiredis=False)
    assert run(chunked(data, cuts), use_hiredis=True) == slow
    assert run(chunked(data, cuts), use_hiredis=False) == slow


scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.binary(max_size=30),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.builds(
        SimpleString, st.binary(max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b)
    ),
    st.builds(BigNumber, st.integers()),
    st.builds(Verbatim, st.binary(max_size=20)),
    st.just(NullArray()),
)
replies = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.builds(Set, st.lists(inner, max_size=4)),
        st.builds(Push, st.lists(inner, min_size=1, max_size=4)),
        st.dictionaries(st.binary(max_size=8), inner, max_size=3).map(
            lambda d: Map(list(d.items()))
        ),
    ),
    max_leaves=12,
)


def expected_value(value: Reply, proto: int) -> object:
    """What hiredis-py returns for ``value`` encoded in ``proto``."""
    resp3 = proto == 3
    if isinstance(value, bool):
        return value if resp3 else int(value)
    if isinstance(value, float):
        return (
            value if resp3 else (b"%.17g" % value if math.isfinite(value) else str(value).encode())
        )
    if isinstance(value, SimpleString):
        return value.text
    if isinstance(value, Verbatim):
        return value.text
    if isinstance(value, BigNumber):
        return str(value.value).encode() if resp3 else b"%d" % value.value
    if isinstance(value, NullArray):
        return None
    if isinstance(value, Map):
        if resp3:
            return {k: expected_value(v, proto) for k, v in value.items}
        return [x for k, v in value.items for x in (k, expected_value(v, proto))]
    if isinstance(value, Set | Push):
        return [expected_value(v, proto) for v in value.items]
    if isinstance(value, list | tuple):
        return [expected_value(v, proto) for v in value]
    return value


def decode(data: bytes) -> object:
    reader = hiredis.Reader(notEnoughData=NEED_DATA)
    reader.feed(data)
    value = reader.gets()
    assert value is not NEED_DATA
    assert reader.gets() is NEED_DATA  # exactly one reply, nothing left over
    return value


def _normalize(value: object) -> object:
    if isinstance(value, list | tuple | set):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    return value


@given(replies, st.sampled_from([2, 3]))
def test_every_reply_decodes_to_the_value_it_stands_for(value: Reply, proto: int) -> None:
    decoded = decode(encode_reply(value, proto))
    assert _normalize(decoded) == _normalize(expected_value(value, proto))


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5), st.sampled_from([2, 3]))
def test_a_push_of_bulk_strings_encodes_as_the_generic_encoder_does(
    items: list[bytes], proto: int
) -> None:
    assert encode_push(items, proto) == encode_reply(Push(items), proto)


@given(st.text(max_size=40))
def test_error_replies_stay_on_one_line(text: str) -> None:
    encoded = encode_reply(Error("ERR " + text), 2)
    assert encoded.startswith(b"-ERR ") and encoded.endswith(b"\r\n")
    assert b"\r" not in encoded[:-2] and b"\n" not in encoded[:-2]
