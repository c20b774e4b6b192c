"""RESP2/RESP3 codec, sans-IO: a request parser and a reply encoder.

The parser follows h11's shape: ``feed(bytes)`` only buffers,
``next_request()`` returns the next request (the list of its argument byte
strings) or ``NEED_DATA``. It never touches a socket, so the trio front end,
tests and fuzzers drive it the same way.

What it accepts and refuses is Redis 7.0's ``processInputBuffer``, rule for
rule, because clients and tests compare us against a real ``redis-server``:

* a request starting with ``*`` is a multibulk of ``$`` bulk strings; any
  other first byte starts an *inline* request, one line split with Redis's
  ``sdssplitargs`` quoting rules (``"..."`` with ``\\n``/``\\xHH`` escapes,
  ``'...'``); empty lines, ``*0`` and negative counts are skipped;
* header lines end at the first ``\\r`` (and, as in C, a NUL byte hides
  everything after it); the byte after ``\\r`` and the two bytes after a bulk
  payload are skipped unchecked;
* limits are checked on the header, before the payload is buffered:
  ``*N`` above INT_MAX and ``$N`` above ``proto-max-bulk-len`` are refused,
  and so is a header or inline line longer than 64 KB; before AUTH (when a
  password is configured) ``*N`` above 10, ``$N`` above 16384 and a query
  buffer above 1 MB are refused too.

One deliberate difference: a line longer than 64 KB is refused even when
its end arrives in the same read. Redis reads 16 KB at a time and refuses
such a line only if more than 64 KB are buffered without a newline at some
read boundary, so its answer depends on how the bytes were split; ours does
not.

Errors carry Redis's exact reply text (``RespProtocolError``); the caller
replies with it and closes. Exceeding the query buffer limit closes with no
reply (``QueryBufferLimitExceeded``), and an HTTP ``POST``/``Host:`` line is
dropped silently (``CrossProtocolRequest``), as Redis does.

Speed comes from hiredis, which parses pipelined requests about ten times
faster than any Python loop. hiredis is not a server-side parser, though: it
accepts any RESP type inside a request (``+OK`` and ``=7 txt:...`` come back
as plain bytes), it preallocates a Python list for a ``*100000000`` header,
it waits without limit on a ``$600000000``, and it reports errors later than
Redis (``*1 *1`` waits for the inner array where Redis refuses it at once).
So the parser has two modes:

* FAST: hiredis parses input that a cheap *guard* (``bytes.translate`` and
  one literal search) has cleared of length headers of five digits or more.
  Each request hiredis returns is then checked where its headers must be if
  it was encoded canonically: ``*`` at its start, ``$`` at each element.
  Elements start at the same offsets for hiredis and Redis (both skip a
  bulk's two terminator bytes unchecked), so by induction every element was
  a bulk string, Redis would read the same arguments, and our position moves
  in step with hiredis. hiredis is only ever fed at a request boundary and
  never keeps a partial request across reads.
* SLOW: an incremental Python parser (Redis's state machine). It takes over
  for a partial request, an inline request, anything that fails the checks
  above, unauthenticated clients and every error, re-parsing from the start
  of the request in question; FAST resumes at the next request boundary
  whose remaining input is clean.

A property test feeds arbitrary input to both modes and requires identical
answers (``tests/protocol/test_resp_properties.py``).

The encoder turns ``protocol.replies`` values into RESP2 or RESP3 bytes,
spelled exactly as Redis 7.0 spells them (doubles with ``%.17g``, ``inf``
and ``-inf``; maps flattened and doubles as bulk strings in RESP2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, cast

import hiredis

from protocol.errors import (
    CrossProtocolRequest,
    LocalProtocolError,
    QueryBufferLimitExceeded,
    RespProtocolError,
)
from protocol.replies import (
    BigNumber,
    Error,
    HumanDouble,
    Map,
    NestedMap,
    NullArray,
    Pairs,
    Published,
    Push,
    Reply,
    ReplySequence,
    Set,
    SimpleString,
    Verbatim,
)

__all__ = [
    "NEED_DATA",
    "NeedData",
    "RespLimits",
    "RespParser",
    "encode_reply",
    "encode_request",
    "format_double",
    "split_inline",
    "write_reply",
]


class NeedData:
    """Type of the ``NEED_DATA`` sentinel: no complete request is buffered yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()

INT_MAX: Final = 2**31 - 1
PROTO_INLINE_MAX_SIZE: Final = 64 * 1024
"""Redis's limit on an inline line or a header line still waiting for its newline."""


@dataclass(frozen=True, slots=True)
class RespLimits:
    """Size limits on client input, named and defaulted as in Redis 7.0.

    ``proto_max_bulk_len`` and ``client_query_buffer_limit`` are the
    ``proto-max-bulk-len`` and ``client-query-buffer-limit`` directives. The
    ``unauthenticated_*`` limits apply while a password is required and the
    client has not authenticated yet (``networking.c`` hard-codes them).
    """

    proto_max_bulk_len: int = 512 * 1024 * 1024
    client_query_buffer_limit: int = 1024 * 1024 * 1024
    multibulk_len_max: int = INT_MAX
    line_size_max: int = PROTO_INLINE_MAX_SIZE
    unauthenticated_multibulk_len_max: int = 10
    unauthenticated_bulk_len_max: int = 16384
    unauthenticated_query_buffer_limit: int = 1024 * 1024


# --- Redis's number and argument syntax -------------------------------------

_LL_SYNTAX = re.compile(rb"-?[1-9][0-9]{0,18}|0")
_LL_MIN = -(2**63)
_LL_MAX = 2**63 - 1


def _string2ll(text: bytes | bytearray) -> int | None:
    """Redis's ``string2ll``: strict decimal, no sign but ``-``, no leading zero."""
    if _LL_SYNTAX.fullmatch(text) is None:
        return None
    value = int(text)
    if value < _LL_MIN or value > _LL_MAX:
        return None
    return value


def _parse_length(digits: bytearray) -> int | None:
    """``_string2ll`` with a fast path for the plain lengths clients send."""
    if digits.isdigit() and len(digits) < 19 and (digits[0] != 48 or len(digits) == 1):
        return int(digits)
    return _string2ll(digits)


_NEEDS_QUOTE_RULES = re.compile(rb"[\"'\x00\x0b\x0c]")
_C_SPACE = frozenset(b" \t\n\v\f\r")
_TOKEN_END = frozenset(b" \n\r\t")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_BACKSLASH = ord("\\")
_DQUOTE = ord('"')
_SQUOTE = ord("'")


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline request line the way Redis's ``sdssplitargs`` does.

    Returns ``None`` for unbalanced quotes (including a closing quote glued
    to the next token). The line is a C string there, so a NUL ends it.
    """
    if _NEEDS_QUOTE_RULES.search(line) is None:
        return line.split()
    nul = line.find(b"\x00")
    if nul != -1:
        line = line[:nul]
    end = len(line)
    args: list[bytes] = []
    i = 0
    while True:
        while i < end and line[i] in _C_SPACE:
            i += 1
        if i >= end:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            c = line[i] if i < end else 0
            if in_double:
                if (
                    c == _BACKSLASH
                    and i + 3 < end
                    and line[i + 1] == ord("x")
                    and line[i + 2] in _HEX_DIGITS
                    and line[i + 3] in _HEX_DIGITS
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == _BACKSLASH and i + 1 < end:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == _DQUOTE:
                    if i + 1 < end and line[i + 1] not in _C_SPACE:
                        return None
                    i += 1
                    break
                elif c == 0:
                    return None
                else:
                    current.append(c)
            elif in_single:
                if c == _BACKSLASH and i + 1 < end and line[i + 1] == _SQUOTE:
                    i += 1
                    current.append(_SQUOTE)
                elif c == _SQUOTE:
                    if i + 1 < end and line[i + 1] not in _C_SPACE:
                        return None
                    i += 1
                    break
                elif c == 0:
                    return None
                else:
                    current.append(c)
            elif c == 0:
                break
            elif c in _TOKEN_END:
                i += 1
                break
            elif c == _DQUOTE:
                in_double = True
            elif c == _SQUOTE:
                in_single = True
            else:
                current.append(c)
            i += 1
        args.append(bytes(current))


_CROSS_PROTOCOL = (b"post", b"host:")


def _protocol_error(what: str) -> RespProtocolError:
    return RespProtocolError("ERR Protocol error: " + what)


def _expected_dollar(byte: int) -> RespProtocolError:
    # Redis blanks CR and LF in error texts; other bytes are quoted raw.
    shown = " " if byte in (10, 13) else bytes([byte]).decode("utf-8", "surrogateescape")
    return _protocol_error(f"expected '$', got '{shown}'")


# --- the FAST mode guard ------------------------------------------------------

_HEADER_SHAPES = bytes.maketrans(b"0123456789*$%~>|=!", b"0000000000$$$$$$$$")
_LONG_HEADER = re.compile(rb"\$00000")
"""After ``_HEADER_SHAPES``: a RESP length header of five digits or more.

hiredis must never see one: it preallocates a Python list for ``*N`` and
waits without limit on ``$N``. A match may be a false positive inside a
payload; that only sends the stretch to SLOW mode."""
_FAST_MIN = 64
_HEADER_SPAN = 6
"""Length of the shortest long header (``$`` and five digits)."""
_COMPACT_AT = 256 * 1024
_BIG_ARG = 4096
_NOT_ENOUGH: Final = object()
_BULK_SPAN = tuple(size + len(b"$%d\r\n\r\n" % size) for size in range(4096))
"""Bytes a bulk of each small size spans on the wire, header and terminator included."""


def _has_long_header(data: bytes | bytearray, start: int = 0) -> int:
    """Offset just past the first long header at or after ``start``, or -1."""
    hit = _LONG_HEADER.search(
        data[start:].translate(_HEADER_SHAPES) if start else data.translate(_HEADER_SHAPES)
    )
    return -1 if hit is None else start + hit.end()


class RespParser:
    """Incremental parser of client requests (see the module docstring).

    ``authenticated`` selects the limits: set it to ``False`` while a
    password is required and the client has not passed AUTH, and back to
    ``True`` after. A request is a non-empty ``list[bytes]``. With
    ``use_hiredis=False`` the parser stays in SLOW mode (tests compare the
    two modes; benchmarks measure what hiredis buys).
    """

    def __init__(
        self,
        limits: RespLimits | None = None,
        *,
        authenticated: bool = True,
        use_hiredis: bool = True,
    ) -> None:
        self.limits = limits if limits is not None else RespLimits()
        self.authenticated = authenticated
        self._buf = bytearray()
        self._pos = 0
        self._reader: hiredis.Reader | None = None
        self._fast_blocked_until = 0
        self._clean_until = 0
        # SLOW mode state of a partly received multibulk request.
        self._multibulk_left = 0
        self._bulk_len = -1
        self._args: list[bytes] = []
        self._args_size = 0
        # hiredis only sees headers below 99999, so FAST needs limits at least
        # that high (Redis's own minimum for proto-max-bulk-len is 1 MB).
        self._fast_allowed = (
            use_hiredis
            and self.limits.proto_max_bulk_len >= 99999
            and self.limits.multibulk_len_max >= 99999
            and self.limits.line_size_max >= PROTO_INLINE_MAX_SIZE
        )

    @property
    def buffered(self) -> int:
        """Bytes of client input held: unparsed bytes plus a partial request's arguments."""
        return len(self._buf) - self._pos + self._args_size

    @property
    def held(self) -> int:
        """``buffered`` plus the bytes of requests already handed out from the current
        input, the one being run among them: what Redis's CLIENT LIST calls ``qbuf``
        (its query buffer is trimmed only once every request read with it has run, so
        a lone ``CLIENT LIST`` sees its own 26 bytes). 0 for a client with nothing
        left to run: the buffer is let go when the parser runs out of requests."""
        return len(self._buf) + self._args_size

    def feed(self, data: bytes | bytearray) -> None:
        """Buffer ``data``; ``QueryBufferLimitExceeded`` instead of growing past the limit."""
        if not data:
            return
        limits = self.limits
        limit = limits.client_query_buffer_limit
        if not self.authenticated:
            limit = min(limit, limits.unauthenticated_query_buffer_limit)
        buf = self._buf
        size = len(buf) - self._pos + self._args_size + len(data)
        if size > limit:
            raise QueryBufferLimitExceeded(size, limit)
        reader = self._reader
        if reader is not None:
            # hiredis is only ever fed at a request boundary: it never holds a
            # partial request across reads (see ``next_request``).
            if self._pos == len(buf) and _has_long_header(data) < 0:
                buf.clear()
                self._pos = 0
                self._fast_blocked_until = 0
                self._clean_until = 0
                reader.feed(cast(bytes, data))
            else:
                self._reader = None
        buf += data

    def next_request(self) -> list[bytes] | NeedData:
        """The next complete request, or ``NEED_DATA``.

        Raises ``RespProtocolError`` (reply with ``.text``, then close) or
        ``CrossProtocolRequest`` (close silently). After either, the parser
        must not be used again.
        """
        reader = self._reader
        if reader is None:
            return self._next_slow()
        # FAST mode. hiredis parses; we then check that the request was
        # encoded canonically as bulks by looking at the bytes where its
        # headers must be, which also moves our position in step with hiredis.
        buf = self._buf
        while True:
            try:
                request = reader.gets()
            except Exception:  # a protocol error, or hiredis failing to build a value (a
                break  # list as a map key): SLOW mode re-parses and finds the right answer
            if request is _NOT_ENOUGH:
                if self._pos == len(buf):
                    buf.clear()
                    self._pos = 0
                    self._fast_blocked_until = 0
                    self._clean_until = 0
                    return NEED_DATA
                # A partial request (or an inline one, which hiredis would
                # read as RESP): SLOW mode takes it, so that it is refused as
                # early as Redis would and hiredis never waits on a header.
                break
            start = self._pos
            if request is None and buf.startswith(b"*-1\r\n", start):
                self._pos = start + 5  # Redis ignores it
                continue
            if type(request) is not list or buf[start] != 42:  # '*'
                break
            count = len(request)
            if not count:
                self._pos = start + 4  # "*0\r\n": Redis ignores it
                continue
            end = start + (4 if count < 10 else 5 if count < 100 else 3 + len(b"%d" % count))
            try:
                for arg in request:
                    if buf[end] != 36:  # '$'
                        end = -1
                        break
                    size = len(arg)
                    end += _BULK_SPAN[size] if size < 4096 else size + 5 + len(b"%d" % size)
            except TypeError:  # a $-1 element
                break
            if end < 0:
                break
            self._pos = end
            first = request[0]
            if 3 < len(first) < 6 and first.lower() in _CROSS_PROTOCOL:
                raise CrossProtocolRequest(first)
            return request
        # Leave FAST mode; SLOW re-parses from the start of this request and
        # must get past it before FAST may be tried again.
        self._reader = None
        self._fast_blocked_until = self._pos + 1
        return self._next_slow()

    def _try_fast(self, pos: int) -> bool:
        """At a request boundary in SLOW mode: hand the rest to hiredis if it is clean.

        Only for at least ``_FAST_MIN`` bytes or input that ends a line: a
        client trickling bytes would otherwise cost a new hiredis reader per
        read. Once FAST, a connection stays FAST while its reads end at
        request boundaries, as they do for clients that wait for replies.
        """
        buf = self._buf
        if (
            (len(buf) - pos < _FAST_MIN and not buf.endswith(b"\r\n"))
            or pos < self._fast_blocked_until
            or not self.authenticated
            or not self._fast_allowed
        ):
            return False
        # Bytes already found clean are not scanned again (only a header that
        # could straddle their end), so the scans of a buffer stay linear.
        hit = _has_long_header(buf, max(pos, self._clean_until - _HEADER_SPAN))
        if hit >= 0:
            self._fast_blocked_until = hit
            return False
        self._clean_until = len(buf)
        reader = hiredis.Reader(notEnoughData=_NOT_ENOUGH)
        reader.feed(cast(bytes, buf), pos)  # hiredis reads any buffer; no copy
        self._reader = reader
        return True

    # --- SLOW mode ----------------------------------------------------------

    def _compact(self) -> None:
        pos = self._pos
        del self._buf[:pos]
        self._pos = 0
        self._fast_blocked_until = max(0, self._fast_blocked_until - pos)
        self._clean_until = max(0, self._clean_until - pos)

    def _next_slow(self) -> list[bytes] | NeedData:
        buf = self._buf
        limits = self.limits
        while True:
            if self._multibulk_left:
                request = self._bulks()
            else:
                pos = self._pos
                if pos >= len(buf):
                    buf.clear()
                    self._pos = 0
                    self._fast_blocked_until = 0
                    self._clean_until = 0
                    return NEED_DATA
                if pos > _COMPACT_AT:
                    self._compact()
                    pos = 0
                if buf[pos] != 42:  # not '*': an inline request
                    request = self._inline(pos)
                    if request is not None and not request:
                        continue  # an empty line
                elif self._try_fast(pos):
                    return self.next_request()
                else:
                    cr = self._line_end(pos, "too big mbulk count string")
                    if cr is None:
                        return NEED_DATA
                    count = _parse_length(buf[pos + 1 : cr])
                    self._pos = cr + 2
                    if count is None or count > limits.multibulk_len_max:
                        raise _protocol_error("invalid multibulk length")
                    if count > limits.unauthenticated_multibulk_len_max and not self.authenticated:
                        raise _protocol_error("unauthenticated multibulk length")
                    if count <= 0:
                        continue
                    self._multibulk_left = count
                    request = self._bulks()
            if request is None:
                return NEED_DATA
            first = request[0]
            if 3 < len(first) < 6 and first.lower() in _CROSS_PROTOCOL:
                raise CrossProtocolRequest(first)
            return request

    def _line_end(self, pos: int, too_big: str) -> int | None:
        """Index of the ``\\r`` ending the ``*N``/``$N`` line at ``pos``; ``None`` until it is in.

        Redis ends the line at the first ``\\r`` (found with C ``strchr``,
        so a NUL byte hides it) and skips the byte after it unchecked. A line
        longer than 64 KB is an error (``too_big``) whether or not its end
        has arrived, which keeps the search bounded.
        """
        buf = self._buf
        line_max = self.limits.line_size_max
        cr = buf.find(b"\r", pos, pos + line_max + 1)
        if cr != -1 and buf.find(b"\x00", pos, cr) != -1:
            cr = -1
        if cr == -1:
            if len(buf) - pos > line_max:
                raise _protocol_error(too_big)
            return None
        if cr + 1 >= len(buf):
            return None
        return cr

    def _bulk_header(self, pos: int) -> tuple[int, int] | None:
        """(bulk length, payload position) of the ``$N`` line at ``pos``; ``None`` if incomplete."""
        buf = self._buf
        limits = self.limits
        if pos >= len(buf):
            return None
        cr = self._line_end(pos, "too big bulk count string")
        if cr is None:
            return None
        if buf[pos] != 36:  # '$'
            raise _expected_dollar(buf[pos])
        number = _parse_length(buf[pos + 1 : cr])
        if number is None or number < 0 or number > limits.proto_max_bulk_len:
            raise _protocol_error("invalid bulk length")
        if number > limits.unauthenticated_bulk_len_max and not self.authenticated:
            raise _protocol_error("unauthenticated bulk length")
        return number, cr + 2

    def _inline(self, pos: int) -> list[bytes] | None:
        buf = self._buf
        line_max = self.limits.line_size_max
        newline = buf.find(b"\n", pos, pos + line_max + 1)
        if newline != -1:
            end = newline - 1 if newline != pos and buf[newline - 1] == 13 else newline
            line = bytes(buf[pos:end])
            if b"\x00" not in line:
                args = split_inline(line)
                if args is None:
                    raise _protocol_error("unbalanced quotes in request")
                self._pos = newline + 1
                return args
            # C strchr stops at the NUL: to Redis this line has no end yet.
            if len(buf) - pos <= line_max:
                return None
        elif len(buf) - pos <= line_max:
            return None
        raise _protocol_error("too big inline request")

    def _bulks(self) -> list[bytes] | None:
        """Continue the multibulk in progress; the request once all bulks are in."""
        buf = self._buf
        end = len(buf)
        limits = self.limits
        bulk_max = limits.proto_max_bulk_len
        if not self.authenticated:
            bulk_max = min(bulk_max, limits.unauthenticated_bulk_len_max)
        args = self._args
        left = self._multibulk_left
        size = self._bulk_len
        pos = self._pos
        collected = 0
        while left:
            if size < 0:
                # The usual header, "$<digits>\r", is read inline; anything
                # else goes through the general rules of _bulk_header.
                cr = buf.find(b"\r", pos, pos + 20)
                digits = buf[pos + 1 : cr] if cr > pos + 1 else b""
                if (
                    digits.isdigit()
                    and cr + 1 < end
                    and buf[pos] == 36  # '$'
                    and (digits[0] != 48 or cr == pos + 2)
                    and int(digits) <= bulk_max
                ):
                    size = int(digits)
                    pos = cr + 2
                else:
                    header = self._bulk_header(pos)
                    if header is None:
                        break
                    size, pos = header
            if end - pos < size + 2:
                break
            if size < _BIG_ARG:
                args.append(bytes(buf[pos : pos + size]))
            else:
                with memoryview(buf) as view:
                    args.append(view[pos : pos + size].tobytes())
            # With its framing ("$<size>\r\n...\r\n"), as Redis's query buffer holds it:
            # so one request of at most ``client_query_buffer_limit`` bytes always fits in
            # one replicated command, however many arguments it has (``COMMAND_BYTES_MAX``).
            collected += size + 5 + len(b"%d" % size)
            pos += size + 2
            size = -1
            left -= 1
        self._args_size += collected
        self._pos = pos
        self._bulk_len = size
        self._multibulk_left = left
        if left:
            return None
        self._args = []
        self._args_size = 0
        return args


# --- the encoder ------------------------------------------------------------

_CRLF = b"\r\n"
_BULK_HEADERS = tuple(b"$%d\r\n" % n for n in range(4096))
_ARRAY_HEADERS = tuple(b"*%d\r\n" % n for n in range(1024))
_INT_REPLIES = tuple(b":%d\r\n" % n for n in range(4096))
_NULL2 = b"$-1\r\n"
_NULL3 = b"_\r\n"
_NULL_ARRAY2 = b"*-1\r\n"


def format_double(value: float) -> bytes:
    """A double as Redis 7.0 writes it: ``%.17g``, with ``inf``/``-inf``/``nan``, and
    ``-nan`` for a NaN whose sign bit is set, as glibc prints it (a script's ``0/0``)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    return b"%.17g" % value


def _error_line(text: str) -> bytes:
    # Redis blanks CR and LF inside error texts so the reply stays one line.
    line = text.encode("utf-8", "surrogateescape")
    if b"\r" in line or b"\n" in line:
        line = line.replace(b"\r", b" ").replace(b"\n", b" ")
    return b"-" + line + _CRLF


def write_reply(out: bytearray, value: Reply, proto: int) -> None:
    """Append the encoding of ``value`` to ``out`` (``proto`` is 2 or 3)."""
    if type(value) is bytes:
        size = len(value)
        out += _BULK_HEADERS[size] if size < 4096 else b"$%d\r\n" % size
        out += value
        out += _CRLF
    elif type(value) is SimpleString:
        out += b"+"
        out += value.text
        out += _CRLF
    elif type(value) is int:
        out += _INT_REPLIES[value] if 0 <= value < 4096 else b":%d\r\n" % value
    elif value is None:
        out += _NULL2 if proto == 2 else _NULL3
    elif type(value) is list or type(value) is tuple:
        count = len(value)
        out += _ARRAY_HEADERS[count] if count < 1024 else b"*%d\r\n" % count
        for item in value:
            write_reply(out, item, proto)
    elif type(value) is Error:
        out += _error_line(value.text)
    else:
        _write_rare(out, value, proto)


def _write_aggregate(out: bytearray, marker: bytes, items: Sequence[Reply], proto: int) -> None:
    out += b"%b%d\r\n" % (marker, len(items))
    for item in items:
        write_reply(out, item, proto)


def _write_rare(out: bytearray, value: Reply, proto: int) -> None:
    """Everything but the common replies, and subclasses of the common types."""
    resp3 = proto == 3
    if isinstance(value, bool):
        if resp3:
            out += b"#t\r\n" if value else b"#f\r\n"
        else:
            out += b":1\r\n" if value else b":0\r\n"
    elif isinstance(value, int):
        out += b":%d\r\n" % value
    elif isinstance(value, float):
        text = format_double(value)
        if resp3:
            out += b"," + text + _CRLF
        else:
            out += b"$%d\r\n%b\r\n" % (len(text), text)
    elif isinstance(value, bytes):
        out += b"$%d\r\n%b\r\n" % (len(value), value)
    elif isinstance(value, NullArray):
        out += _NULL3 if resp3 else _NULL_ARRAY2
    elif isinstance(value, Map):
        pairs = value.items
        out += b"%%%d\r\n" % len(pairs) if resp3 else b"*%d\r\n" % (2 * len(pairs))
        for key, item in pairs:
            write_reply(out, key, proto)
            write_reply(out, item, proto)
    elif isinstance(value, Pairs):
        pairs = value.items
        out += b"*%d\r\n" % (len(pairs) if resp3 else 2 * len(pairs))
        for first, second in pairs:
            if resp3:
                out += b"*2\r\n"
            write_reply(out, first, proto)
            write_reply(out, second, proto)
    elif isinstance(value, NestedMap):
        pairs = value.items
        out += b"%%%d\r\n" % len(pairs) if resp3 else b"*%d\r\n" % len(pairs)
        for key, item in pairs:
            if not resp3:
                out += b"*2\r\n"
            write_reply(out, key, proto)
            write_reply(out, item, proto)
    elif isinstance(value, Published):
        out += b":%d\r\n" % value.receivers
    elif isinstance(value, ReplySequence):
        for item in value.items:
            write_reply(out, item, proto)
    elif isinstance(value, Set):
        _write_aggregate(out, b"~" if resp3 else b"*", value.items, proto)
    elif isinstance(value, Push):
        _write_aggregate(out, b">" if resp3 else b"*", value.items, proto)
    elif isinstance(value, list | tuple):
        _write_aggregate(out, b"*", value, proto)
    elif isinstance(value, Verbatim):
        if len(value.format) != 3:
            raise LocalProtocolError(f"verbatim format must be 3 bytes, got {value.format!r}")
        if resp3:
            out += b"=%d\r\n%b:%b\r\n" % (len(value.text) + 4, value.format, value.text)
        else:
            out += b"$%d\r\n%b\r\n" % (len(value.text), value.text)
    elif isinstance(value, HumanDouble):
        if resp3:
            out += b"," + value.text + _CRLF
        else:
            out += b"$%d\r\n%b\r\n" % (len(value.text), value.text)
    elif isinstance(value, BigNumber):
        digits = value.value if isinstance(value.value, bytes) else b"%d" % value.value
        if resp3:
            out += b"(" + digits + _CRLF
        else:
            out += b"$%d\r\n%b\r\n" % (len(digits), digits)
    elif isinstance(value, SimpleString):
        out += b"+" + value.text + _CRLF
    elif isinstance(value, Error):
        out += _error_line(value.text)
    else:
        raise LocalProtocolError(f"cannot encode {type(value).__name__} as a RESP reply")


_OK = b"+OK\r\n"


def encode_reply(value: Reply, proto: int = 2) -> bytes:
    """The RESP2 (``proto=2``) or RESP3 (``proto=3``) encoding of one reply."""
    if type(value) is bytes:
        if len(value) < 4096:
            return _BULK_HEADERS[len(value)] + value + _CRLF
    elif type(value) is SimpleString:
        if value.text == b"OK":
            return _OK
    elif type(value) is int and 0 <= value < 4096:
        return _INT_REPLIES[value]
    out = bytearray()
    write_reply(out, value, proto)
    return bytes(out)


def encode_push(items: Sequence[bytes], proto: int) -> bytes:
    """``encode_reply(Push(items), proto)`` for a push of bulk strings only (a published
    message), in one formatting instead of a walk of the generic encoder: a subscriber
    to keyspace events gets two of them for every write."""
    head = b">%d\r\n" % len(items) if proto == 3 else b"*%d\r\n" % len(items)
    return head + b"".join(b"$%d\r\n%b\r\n" % (len(item), item) for item in items)


def encode_request(args: Sequence[bytes | str | int]) -> bytes:
    """A request as clients send it: a multibulk of bulk strings (for tools and tests)."""
    out = bytearray(b"*%d\r\n" % len(args))
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int):
            data = b"%d" % arg
        else:
            data = bytes(arg)
        out += b"$%d\r\n" % len(data)
        out += data
        out += _CRLF
    return bytes(out)
