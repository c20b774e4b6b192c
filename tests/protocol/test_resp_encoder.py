"""encode_reply: every reply type, spelled as Redis 7.0 spells it in RESP2 and RESP3.

The expected bytes were read off a real redis-server 7.0.15 (ZSCORE for
doubles, HELLO for maps, ZRANGE WITHSCORES for pairs, INFO for verbatim
strings, EXEC for null arrays).
"""

from __future__ import annotations

import math

import pytest

from protocol.errors import LocalProtocolError
from protocol.replies import (
    NULL_ARRAY,
    OK,
    BigNumber,
    Error,
    Map,
    Pairs,
    Push,
    Reply,
    Set,
    SimpleString,
    Verbatim,
)
from protocol.resp import encode_reply, encode_request, format_double, write_reply

CASES: list[tuple[str, Reply, bytes, bytes]] = [
    ("OK", OK, b"+OK\r\n", b"+OK\r\n"),
    ("simple string", SimpleString(b"PONG"), b"+PONG\r\n", b"+PONG\r\n"),
    ("error", Error("ERR syntax error"), b"-ERR syntax error\r\n", b"-ERR syntax error\r\n"),
    ("integer", 42, b":42\r\n", b":42\r\n"),
    ("negative integer", -7, b":-7\r\n", b":-7\r\n"),
    ("big integer", 2**62, b":4611686018427387904\r\n", b":4611686018427387904\r\n"),
    ("bulk", b"hello", b"$5\r\nhello\r\n", b"$5\r\nhello\r\n"),
    ("empty bulk", b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    ("binary bulk", b"\x00\r\n\xff", b"$4\r\n\x00\r\n\xff\r\n", b"$4\r\n\x00\r\n\xff\r\n"),
    ("null", None, b"$-1\r\n", b"_\r\n"),
    ("null array", NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    ("true", True, b":1\r\n", b"#t\r\n"),
    ("false", False, b":0\r\n", b"#f\r\n"),
    ("double", 1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    ("double in %.17g", 0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
    ("huge double", 1e300, b"$23\r\n1.0000000000000001e+300\r\n", b",1.0000000000000001e+300\r\n"),
    ("integral double", 3.0, b"$1\r\n3\r\n", b",3\r\n"),
    ("inf", math.inf, b"$3\r\ninf\r\n", b",inf\r\n"),
    ("-inf", -math.inf, b"$4\r\n-inf\r\n", b",-inf\r\n"),
    ("nan", math.nan, b"$3\r\nnan\r\n", b",nan\r\n"),
    ("negative nan", -math.nan, b"$4\r\n-nan\r\n", b",-nan\r\n"),  # glibc's, a script's 0/0
    ("array", [1, b"a", None], b"*3\r\n:1\r\n$1\r\na\r\n$-1\r\n", b"*3\r\n:1\r\n$1\r\na\r\n_\r\n"),
    ("tuple", (b"x",), b"*1\r\n$1\r\nx\r\n", b"*1\r\n$1\r\nx\r\n"),
    ("empty array", [], b"*0\r\n", b"*0\r\n"),
    ("nested array", [[1], []], b"*2\r\n*1\r\n:1\r\n*0\r\n", b"*2\r\n*1\r\n:1\r\n*0\r\n"),
    (
        "map",
        Map([(b"a", 1), (b"b", [])]),
        b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*0\r\n",
        b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*0\r\n",
    ),
    ("empty map", Map([]), b"*0\r\n", b"%0\r\n"),
    (
        "pairs (WITHSCORES)",
        Pairs([(b"a", 1.0), (b"a", 2.5)]),
        b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$3\r\n2.5\r\n",
        b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\na\r\n,2.5\r\n",
    ),
    ("empty pairs", Pairs([]), b"*0\r\n", b"*0\r\n"),
    ("set", Set([b"m"]), b"*1\r\n$1\r\nm\r\n", b"~1\r\n$1\r\nm\r\n"),
    (
        "verbatim",
        Verbatim(b"# Cluster\r\ncluster_enabled:0\r\n"),
        b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n",
        b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n",
    ),
    ("verbatim markdown", Verbatim(b"*x*", b"mkd"), b"$3\r\n*x*\r\n", b"=7\r\nmkd:*x*\r\n"),
    (
        "big number",
        BigNumber(2**70),
        b"$22\r\n1180591620717411303424\r\n",
        b"(1180591620717411303424\r\n",
    ),
    (
        "push",
        Push([b"message", b"ch", b"hi"]),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
    ),
]


@pytest.mark.parametrize(
    ("value", "resp2", "resp3"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_reply_type_is_spelled_as_redis_spells_it(
    value: Reply, resp2: bytes, resp3: bytes
) -> None:
    assert encode_reply(value, 2) == resp2
    assert encode_reply(value, 3) == resp3
    for proto, expected in ((2, resp2), (3, resp3)):
        out = bytearray(b"previous")
        write_reply(out, value, proto)
        assert out == b"previous" + expected


def test_the_hello_reply_matches_redis_byte_for_byte() -> None:
    hello = Map(
        [
            (b"server", b"redis"),
            (b"version", b"7.0.15"),
            (b"proto", 3),
            (b"id", 11),
            (b"mode", b"standalone"),
            (b"role", b"master"),
            (b"modules", []),
        ]
    )
    assert encode_reply(hello, 3) == (
        b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n"
        b":3\r\n$2\r\nid\r\n:11\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\n"
        b"master\r\n$7\r\nmodules\r\n*0\r\n"
    )
    assert encode_reply(hello, 2).startswith(b"*14\r\n$6\r\nserver\r\n")


def test_error_texts_lose_their_line_breaks_as_in_redis() -> None:
    assert encode_reply(Error("ERR bad\r\nthing\n"), 2) == b"-ERR bad  thing \r\n"


def test_error_texts_carry_raw_bytes_through_surrogate_escapes() -> None:
    text = b"ERR got '\xff'".decode("utf-8", "surrogateescape")
    assert encode_reply(Error(text), 2) == b"-ERR got '\xff'\r\n"


def test_large_values_use_computed_headers() -> None:
    value = b"v" * 70000
    assert encode_reply(value, 2) == b"$70000\r\n" + value + b"\r\n"
    assert encode_reply(list(range(2000)), 2).startswith(b"*2000\r\n:0\r\n")
    assert encode_reply(123456789, 2) == b":123456789\r\n"


def test_subclasses_of_plain_types_encode_like_their_base() -> None:
    class Name(bytes):
        pass

    class Count(int):
        pass

    assert encode_reply(Name(b"ab"), 2) == b"$2\r\nab\r\n"
    assert encode_reply(Count(5), 3) == b":5\r\n"


def test_values_that_are_not_replies_are_refused_as_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        encode_reply({"a": 1}, 2)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        encode_reply(Verbatim(b"x", b"text"), 3)


def test_format_double_matches_c_printf() -> None:
    assert format_double(2.5) == b"2.5"
    assert format_double(-0.0) == b"-0"
    assert format_double(1 / 3) == b"0.33333333333333331"


def test_encode_request_writes_a_multibulk_of_bulk_strings() -> None:
    assert encode_request([b"SET", "k", 5]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n5\r\n"
