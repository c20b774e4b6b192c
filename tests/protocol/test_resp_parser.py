"""RespParser: what Redis 7.0 accepts, what it refuses, and with which words.

Every fixture runs four ways: fed whole and one byte at a time (h11's
habit: a parser that only works on whole messages is wrong), with hiredis
(FAST mode) and without (SLOW mode). The four must agree; the expected
values were observed on a real redis-server 7.0.15 (ecosystem.md §3).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from protocol.errors import CrossProtocolRequest, QueryBufferLimitExceeded, RespProtocolError
from protocol.resp import NEED_DATA, RespLimits, RespParser, encode_request, split_inline

Outcome = tuple[list[list[bytes]], str | None]
"""Requests parsed, then the protocol error text that ended the stream (or None)."""


def parse(
    data: bytes,
    *,
    chunk: int | None = None,
    use_hiredis: bool = True,
    authenticated: bool = True,
    limits: RespLimits | None = None,
) -> Outcome:
    parser = RespParser(limits, authenticated=authenticated, use_hiredis=use_hiredis)
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    requests: list[list[bytes]] = []
    try:
        for piece in pieces:
            parser.feed(piece)
            while (request := parser.next_request()) is not NEED_DATA:
                assert isinstance(request, list)
                requests.append(request)
    except RespProtocolError as error:
        return requests, error.text
    return requests, None


def all_ways(data: bytes, **options: object) -> Iterator[Outcome]:
    for chunk in (None, 1):
        for use_hiredis in (True, False):
            yield parse(data, chunk=chunk, use_hiredis=use_hiredis, **options)  # type: ignore[arg-type]


def assert_parses(data: bytes, requests: list[list[bytes]], error: str | None = None) -> None:
    for outcome in all_ways(data):
        assert outcome == (requests, error)


SET_AB = [b"SET", b"a", b"b"]

WELL_FORMED: list[tuple[str, bytes, list[list[bytes]]]] = [
    ("multibulk", b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n", [SET_AB]),
    ("pipeline", encode_request(SET_AB) * 3, [SET_AB] * 3),
    ("inline", b"PING\r\n", [[b"PING"]]),
    ("inline with bare LF", b"PING\n", [[b"PING"]]),
    ("inline with extra blanks", b"   SET  a \t b   \r\n", [SET_AB]),
    ("empty lines are skipped", b"\r\n\r\n\nPING\r\n", [[b"PING"]]),
    ("blank line is skipped", b" \r\nPING\r\n", [[b"PING"]]),
    ("*0 and *-1 are skipped", b"*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n", [[b"PING"]]),
    ("inline after multibulk", b"*1\r\n$4\r\nPING\r\nECHO x\r\n", [[b"PING"], [b"ECHO", b"x"]]),
    ("multibulk after inline", b"ECHO x\r\n*1\r\n$4\r\nPING\r\n", [[b"ECHO", b"x"], [b"PING"]]),
    ("empty bulk", b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", [[b"ECHO", b""]]),
    (
        "bulks are binary safe",
        b"*2\r\n$4\r\nECHO\r\n$6\r\n\x00\r\n\xff\r\n\r\n",
        [[b"ECHO", b"\x00\r\n\xff\r\n"]],
    ),
    (
        "the two bytes after a bulk are not checked",
        b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
        [[b"PING"], [b"PING"]],
    ),
    ("a lone CR ends a header line", b"*1\rX$4\r\nPING\r\n", [[b"PING"]]),
    ("double quotes", b'SET "a b" "c d"\r\n', [[b"SET", b"a b", b"c d"]]),
    ("single quotes", b"SET 'a b' 'it\\'s'\r\n", [[b"SET", b"a b", b"it's"]]),
    (
        "escapes in double quotes",
        b'ECHO "\\x41\\x4a\\n\\t\\"q\\\\"\r\n',
        [[b"ECHO", b'AJ\n\t"q\\']],
    ),
    ("bad hex escape is literal", b'ECHO "\\xzz" "\\x4"\r\n', [[b"ECHO", b"xzz", b"x4"]]),
    ("escapes in single quotes are literal", b"ECHO 'a\\nb'\r\n", [[b"ECHO", b"a\\nb"]]),
    ("quotes glued to a token", b'ECHO a"b c"\r\n', [[b"ECHO", b"ab c"]]),
    ("empty quoted args", b"ECHO \"\" ''\r\n", [[b"ECHO", b"", b""]]),
    ("vertical tab does not end a token", b"ECHO a\x0bb\r\n", [[b"ECHO", b"a\x0bb"]]),
    ("leading vertical tab is a blank", b"\x0bPING\r\n", [[b"PING"]]),
    ("CR inside an inline line is a blank", b"PING\rfoo\r\n", [[b"PING", b"foo"]]),
    ("inline line ending CR CR LF", b"PING\r\r\n", [[b"PING"]]),
    ("a line that is only a NUL is empty", b"\x00\r\n", []),
]


@pytest.mark.parametrize(
    ("data", "requests"), [(d, r) for _, d, r in WELL_FORMED], ids=[n for n, _, _ in WELL_FORMED]
)
def test_well_formed_input_parses_like_redis_whole_and_byte_by_byte(
    data: bytes, requests: list[list[bytes]]
) -> None:
    assert_parses(data, requests)


MALFORMED: list[tuple[str, bytes, str]] = [
    ("*abc", b"*abc\r\n", "invalid multibulk length"),
    ("count above INT_MAX", b"*2147483648\r\n", "invalid multibulk length"),
    ("count above LLONG_MAX", b"*9223372036854775808\r\n", "invalid multibulk length"),
    ("count with a leading zero", b"*01\r\n$4\r\nPING\r\n", "invalid multibulk length"),
    ("count with a plus sign", b"*+1\r\n$4\r\nPING\r\n", "invalid multibulk length"),
    ("count with a trailing blank", b"*1 \r\n$4\r\nPING\r\n", "invalid multibulk length"),
    ("empty count", b"*\r\n", "invalid multibulk length"),
    ("count ended by a bare LF", b"*1\n$4\r\nPING\r\n", "invalid multibulk length"),
    ("$abc", b"*1\r\n$abc\r\n", "invalid bulk length"),
    ("$-5", b"*1\r\n$-5\r\n", "invalid bulk length"),
    ("$-1 in a request", b"*1\r\n$-1\r\n", "invalid bulk length"),
    ("bulk above proto-max-bulk-len", b"*1\r\n$536870913\r\n", "invalid bulk length"),
    ("bulk of 2 GB", b"*1\r\n$2147483648\r\n", "invalid bulk length"),
    ("bulk with a leading zero", b"*1\r\n$04\r\nPING\r\n", "invalid bulk length"),
    ("bulk with a plus sign", b"*1\r\n$+4\r\nPING\r\n", "invalid bulk length"),
    ("bulk with a trailing blank", b"*1\r\n$4 \r\nPING\r\n", "invalid bulk length"),
    ("empty bulk length", b"*1\r\n$\r\n", "invalid bulk length"),
    ("integer element", b"*1\r\n:5\r\n", "expected '$', got ':'"),
    ("simple string element", b"*1\r\n+OK\r\n", "expected '$', got '+'"),
    ("verbatim element", b"*2\r\n$4\r\nECHO\r\n=7\r\ntxt:abc\r\n", "expected '$', got '='"),
    ("big number element", b"*2\r\n$4\r\nECHO\r\n(123\r\n", "expected '$', got '('"),
    ("nested array", b"*1\r\n*1\r\n$4\r\nPING\r\n", "expected '$', got '*'"),
    ("map element", b"*1\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n", "expected '$', got '%'"),
    ("plain word element", b"*1\r\nfoo\r\n", "expected '$', got 'f'"),
    ("CR shown as a blank", b"*1\r\n\r\n", "expected '$', got ' '"),
    ("LF shown as a blank", b"*1\r\n\n\r\n", "expected '$', got ' '"),
    ("unbalanced double quote", b'SET "a b\r\n', "unbalanced quotes in request"),
    ("closing quote glued to a word", b'ECHO "a"b\r\n', "unbalanced quotes in request"),
    ("unbalanced single quote", b"ECHO 'a\r\n", "unbalanced quotes in request"),
]


@pytest.mark.parametrize(
    ("data", "text"), [(d, t) for _, d, t in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_input_gets_redis_exact_error_text(data: bytes, text: str) -> None:
    assert_parses(data, [], "ERR Protocol error: " + text)


def test_requests_before_a_protocol_error_are_delivered_first() -> None:
    assert_parses(
        encode_request(SET_AB) + b"*1\r\n:5\r\n",
        [SET_AB],
        "ERR Protocol error: expected '$', got ':'",
    )


def test_a_raw_byte_in_the_error_text_encodes_back_to_that_byte() -> None:
    (_, text), *_ = all_ways(b"*1\r\n\xff\r\n")
    assert text is not None
    assert (
        text.encode("utf-8", "surrogateescape") == b"ERR Protocol error: expected '$', got '\xff'"
    )


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"x" * (64 * 1024 + 1), "too big inline request"),
        (b"*" + b"1" * (64 * 1024 + 1), "too big mbulk count string"),
        (b"*1\r\n$" + b"1" * (64 * 1024 + 1), "too big bulk count string"),
    ],
    ids=["inline", "mbulk count", "bulk count"],
)
def test_64kb_without_a_newline_is_refused(data: bytes, kind: str) -> None:
    for use_hiredis in (True, False):
        for chunk in (None, 4096):
            assert parse(data, chunk=chunk, use_hiredis=use_hiredis) == (
                [],
                "ERR Protocol error: " + kind,
            )


def test_64kb_without_a_newline_is_only_refused_past_the_limit() -> None:
    assert parse(b"x" * (64 * 1024)) == ([], None)


@pytest.mark.parametrize(
    "data",
    [
        b"*1\x00\r\n$4\r\nPING\r\n",
        b"*1\r\n\x00\r\n",
        b"PI\x00NG\r\n",
        b"ECHO a\x00b\r\n",
        b"*1\r\n$\x004\r\n",
    ],
)
def test_a_nul_byte_hides_the_line_end_as_in_c(data: bytes) -> None:
    # Redis finds line ends with strchr, which stops at NUL: it keeps waiting.
    assert_parses(data, [])


@pytest.mark.parametrize(
    "data",
    [
        b"POST / HTTP/1.1\r\n",
        b"Host: example.com\r\n",
        encode_request([b"post", b"/"]),
        b"host: x\r\n",
    ],
)
def test_http_request_lines_are_a_cross_protocol_signal(data: bytes) -> None:
    for use_hiredis in (True, False):
        parser = RespParser(use_hiredis=use_hiredis)
        parser.feed(data)
        with pytest.raises(CrossProtocolRequest):
            parser.next_request()


def test_commands_named_like_http_words_but_longer_are_plain_requests() -> None:
    assert_parses(b"POSTS x\r\nHOSTS: y\r\n", [[b"POSTS", b"x"], [b"HOSTS:", b"y"]])


def test_a_header_is_refused_before_its_payload_arrives() -> None:
    for use_hiredis in (True, False):
        parser = RespParser(use_hiredis=use_hiredis)
        parser.feed(b"*1\r\n$600000000\r\n")
        with pytest.raises(RespProtocolError, match="invalid bulk length"):
            parser.next_request()


def _peak_while_parsing(data: bytes, use_hiredis: bool) -> tuple[int, int]:
    parser = RespParser(use_hiredis=use_hiredis)
    tracemalloc.start()
    try:
        parser.feed(data)
        assert parser.next_request() is NEED_DATA
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, parser.buffered


@pytest.mark.parametrize("use_hiredis", [True, False], ids=["hiredis", "python"])
@pytest.mark.parametrize(
    "header", [b"*100000000\r\n", b"*2147483647\r\n", b"*1\r\n$536870912\r\n", b"*1\r\n$99999\r\n"]
)
def test_a_huge_header_allocates_nothing_for_its_payload(header: bytes, use_hiredis: bool) -> None:
    peak, buffered = _peak_while_parsing(header, use_hiredis)
    assert buffered <= len(header)
    assert peak < 64 * 1024


def test_a_bulk_of_the_maximum_length_is_accepted() -> None:
    limits = RespLimits(proto_max_bulk_len=1024 * 1024)
    value = b"v" * (1024 * 1024)
    request = encode_request([b"SET", b"k", value])
    for use_hiredis in (True, False):
        assert parse(request, chunk=65536, use_hiredis=use_hiredis, limits=limits) == (
            [[b"SET", b"k", value]],
            None,
        )
    too_big = encode_request([b"SET", b"k", value + b"v"])
    assert parse(too_big, limits=limits) == ([], "ERR Protocol error: invalid bulk length")


def test_unauthenticated_clients_get_the_stricter_limits() -> None:
    def outcome(data: bytes) -> Outcome:
        return parse(data, authenticated=False)

    assert outcome(b"*11\r\n") == ([], "ERR Protocol error: unauthenticated multibulk length")
    assert outcome(b"*10\r\n") == ([], None)
    assert outcome(b"*1\r\n$16385\r\n") == ([], "ERR Protocol error: unauthenticated bulk length")
    assert outcome(b"*1\r\n$16384\r\n") == ([], None)
    assert outcome(encode_request([b"AUTH", b"pw"])) == ([[b"AUTH", b"pw"]], None)


def test_authenticating_lifts_the_stricter_limits() -> None:
    parser = RespParser(authenticated=False)
    parser.feed(encode_request([b"AUTH", b"pw"]))
    assert parser.next_request() == [b"AUTH", b"pw"]
    parser.authenticated = True
    args = [b"MSET", *[b"k%d" % i for i in range(20)]]
    parser.feed(encode_request(args))
    assert parser.next_request() == args


def test_the_query_buffer_limit_refuses_more_input() -> None:
    parser = RespParser(RespLimits(client_query_buffer_limit=1024 * 1024))
    parser.feed(b"*1\r\n$2000000\r\n")
    assert parser.next_request() is NEED_DATA
    parser.feed(b"x" * (1024 * 1024 - 100))
    with pytest.raises(QueryBufferLimitExceeded):
        parser.feed(b"x" * 200)


def test_an_unauthenticated_client_may_buffer_only_1mb() -> None:
    parser = RespParser(authenticated=False)
    parser.feed(b"x" * 60000 + b"\r\n")
    with pytest.raises(QueryBufferLimitExceeded):
        for _ in range(20):
            parser.feed(b"y" * 60000)


def test_buffered_counts_a_partial_request_and_its_collected_arguments_with_framing() -> None:
    """As Redis's query buffer holds them: so a request within client-query-buffer-limit
    fits in one replicated command however many arguments it has."""
    parser = RespParser(use_hiredis=False)
    parser.feed(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
    assert parser.next_request() is NEED_DATA
    assert parser.buffered == len(b"$3\r\nSET\r\n$1\r\nk\r\n") + len(b"abc")
    parser.feed(b"defghij\r\n")
    assert parser.next_request() == [b"SET", b"k", b"abcdefghij"]
    assert parser.buffered == 0


def test_a_long_header_split_across_reads_still_leaves_hiredis_out() -> None:
    parser = RespParser()
    parser.feed(encode_request([b"PING"]))
    assert parser.next_request() == [b"PING"]
    parser.feed(b"*2\r\n$4\r\nECHO\r\n$12")
    assert parser.next_request() is NEED_DATA
    parser.feed(b"34567890\r\n")
    with pytest.raises(RespProtocolError, match="invalid bulk length"):
        parser.next_request()


def test_values_too_big_for_the_fast_path_still_parse() -> None:
    value = bytes(range(256)) * 700  # 179200 bytes: SLOW mode territory
    stream = encode_request([b"SET", b"k", value]) + encode_request([b"GET", b"k"])
    for outcome in (parse(stream, chunk=16384), parse(stream, chunk=16384, use_hiredis=False)):
        assert outcome == ([[b"SET", b"k", value], [b"GET", b"k"]], None)


def test_many_argument_requests_parse() -> None:
    args = [b"MSET", *[b"key%d" % i for i in range(20000)]]
    assert_parses(encode_request(args), [args])


def test_split_inline_returns_none_for_unbalanced_quotes() -> None:
    assert split_inline(b'a "b') is None
    assert split_inline(b"a 'b") is None
    assert split_inline(b"a b") == [b"a", b"b"]
