"""Streams against redis-server 7.0: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD
(consumer groups: ``test_differential_groups.py``).

Every scenario uses explicit IDs, so both sides hold the same entries and every reply
is compared byte for byte, in RESP2 and RESP3 (``tests/commands/script.py``). What
cannot be compared that way — automatic IDs, which come from two clocks, and ``~``
trimming, which Redis does by whole radix-tree nodes — is checked against the model
alone in ``test_streams.py``; here ``~`` appears only where both trim alike (nothing, or
everything).
"""

from __future__ import annotations

import pytest

from tests.commands.differential import Differential
from tests.commands.script import run, words

LONG_ID = "1" * 128
"""One byte too long for Redis's 128-byte ID buffer (with its NUL)."""
LONG_ZEROS = "0" * 126 + "1"
"""The longest ID Redis parses: 127 bytes."""

SCENARIOS: dict[str, str] = {
    "xadd_explicit_ids": """
        XADD s 1-1 a 1
        XADD s 1-1 a 1
        XADD s 1 a 1
        XADD s 1-* b 2
        XADD s 1-* c 3 d 4
        XADD s 0-5 a 1
        XADD s 2 a 1
        XADD s 2-* a 1
        XADD s 01-9 a 1
        XADD s 3-01 a 1
        XADD s " 4" a 1
        XADD s +5-+7 a 1
        XADD s 5-\\x00junk a 1
        XADD s "6-1\\x00junk" a 1
        XADD s 18446744073709551616-0 a 1
        XADD s 7--1 a 1
        XADD s 7--05 a 1
        XADD s -1 a 1
        XADD s 8- a 1
        XADD s 8-*- a 1
        XADD s 8-** a 1
        XADD s *-1 a 1
        XADD s 8-1-1 a 1
        XADD s abc a 1
        XADD s "" a 1
        XADD s - a 1
        XADD s + a 1
        XADD s """ + LONG_ID + """ a 1
        XLEN s
        XRANGE s - +
        TYPE s
        EXISTS s
    """,
    "xadd_zero_and_the_last_possible_id": """
        XADD z 0-0 a 1
        XADD z 0 a 1
        EXISTS z
        XADD z 0-* a 1
        XADD z 0-* a 1
        XADD z 0-0 a 1
        XADD z 0 a 1
        XADD m 18446744073709551615-18446744073709551614 a 1
        XADD m 18446744073709551615-* a 1
        XADD m 18446744073709551615-* a 1
        XADD m * a 1
        XADD m 5-5 a 1
        XADD n 18446744073709551615-* a 1
        XADD n 18446744073709551615-* a 1
        XADD o 10-18446744073709551615 a 1
        XADD o 11-* a 1
        XADD o 9-* a 1
        XADD o 10-* a 1
        XADD p 10-18446744073709551615 a 1
        XADD p 10-* a 1
        XRANGE m - +
        XRANGE o - +
    """,
    "xadd_arguments": """
        XADD s 1-1 a
        XADD s 1-1 a 1 b
        XADD s * a
        XADD s * NOMKSTREAM a 1
        XADD s NOMKSTREAM
        XADD s NOMKSTREAM 1-1
        XADD s NOMKSTREAM NOMKSTREAM 1-1 a 1
        EXISTS s
        XADD s nomkstream 1-1 a 1
        XADD s 0-0 a 1 b
        XADD s 1-1 a 1 b
        XADD s maxlen 1 1-1 a 1 b
        XADD s MAXLEN 1 MAXLEN 2 3-1 a 1
        XADD s MAXLEN 1 MINID 2 3-1 a 1
        XADD s MINID 1 MAXLEN 2 3-1 a 1
        XADD s MAXLEN -1 3-1 a 1
        XADD s MAXLEN x 3-1 a 1
        XADD s MAXLEN * a 1
        XADD s MAXLEN ~ 3-1 a 1
        XADD s MAXLEN = 3-1 a 1
        XADD s MAXLEN 9223372036854775808 3-1 a 1
        XADD s MINID - 3-1 a 1
        XADD s MINID + 3-1 a 1
        XADD s MINID 1-* 3-1 a 1
        XADD s MINID bad 3-1 a 1
        XADD s LIMIT 10 3-1 a 1
        XADD s LIMIT 0 3-1 a 1
        XADD s LIMIT x 3-1 a 1
        XADD s MAXLEN 5 LIMIT 10 3-1 a 1
        XADD s MAXLEN = 5 LIMIT 10 3-1 a 1
        XADD s MAXLEN ~ 5 LIMIT -1 3-1 a 1
        XADD s MAXLEN ~ 5 LIMIT x 3-1 a 1
        XADD s LIMIT 5 bad a 1
        XADD s MAXLEN ~ 5 LIMIT 3
        XADD s MAXLEN ~ 5 LIMIT 3 bad
        XADD s MAXLEN
        XADD s maxlen a 1
        XADD s "*\\x00x" a
        XADD s 3-1 "" ""
        XRANGE s - +
        XADD q MAXLEN ~ 10 LIMIT 0 1-1 f v
        XADD q MINID ~ 0 LIMIT 5 2-1 f v
        XADD q MAXLEN = 5 NOMKSTREAM 3-1 f v
        XRANGE q - +
    """,
    "xadd_nomkstream_on_a_missing_key": """
        XADD none NOMKSTREAM * a 1
        XADD none NOMKSTREAM 5-5 a 1
        XADD none MAXLEN 1 NOMKSTREAM 1-1 a 1
        EXISTS none
        XADD none NOMKSTREAM 0-0 a 1
        XADD some 1-1 a 1
        XADD some NOMKSTREAM 2-1 b 2
        XRANGE some - +
    """,
    "xadd_trims_exactly": """
        XADD s 1-1 f 1
        XADD s 2-1 f 2
        XADD s 3-1 f 3
        XADD s MAXLEN 2 4-1 f 4
        XRANGE s - +
        XADD s MAXLEN = 1 5-1 f 5
        XRANGE s - +
        XADD s MINID 7 7-1 f 7
        XRANGE s - +
        XADD s MINID = 8-5 8-6 f 8
        XRANGE s - +
        XADD s MAXLEN 0 9-1 f 9
        XLEN s
        EXISTS s
        XRANGE s - +
        XADD s 9-1 f 9
        XADD s 9-* f 9
        XADD s MAXLEN 100 10-1 f 10
        XADD s MAXLEN ~ 100 11-1 f 11
        XADD s MINID ~ 0 12-1 f 12
        XADD s MAXLEN ~ 100 LIMIT 1 13-1 f 13
        XRANGE s - +
    """,
    "xadd_keeps_the_ttl": """
        XADD s 1-1 f v
        EXPIRE s 100
        XADD s 2-1 f v
        ttl TTL s
        XADD s MAXLEN 0 3-1 f v
        ttl TTL s
        XDEL s 3-1
        ttl TTL s
        PERSIST s
        TTL s
    """,
    "xrange_and_xrevrange": """
        XADD s 1-1 a 1
        XADD s 2-0 b 2 c 3
        XADD s 2-5 d 4
        XADD s 3-18446744073709551615 e 5
        XADD s 18446744073709551615-0 f 6
        XRANGE s - +
        XREVRANGE s + -
        XRANGE s 2 2
        XRANGE s 2-0 2-4
        XRANGE s 2-1 2
        XRANGE s (2 +
        XRANGE s (2-0 +
        XRANGE s - (2
        XRANGE s - (2-5
        XRANGE s (1-1 (2-5
        XRANGE s (3-18446744073709551615 +
        XRANGE s - (18446744073709551615-0
        XRANGE s 3 3
        XRANGE s (2-18446744073709551615 (4
        XRANGE s 3 1
        XRANGE s 5 6
        XRANGE s - -
        XRANGE s + +
        XRANGE s + -
        XREVRANGE s (2-5 -
        XREVRANGE s 2 -
        XREVRANGE s + (2
        XREVRANGE s 2 2
        XREVRANGE s - +
        XRANGE s - + COUNT 2
        XREVRANGE s + - COUNT 1
        XRANGE s - + count 1 COUNT 3
        XRANGE s - + COUNT 0
        XRANGE s - + COUNT -5
        XREVRANGE s + - COUNT 0
        XRANGE s - + COUNT 9223372036854775807
        XRANGE s - + COUNT 9223372036854775808
        XRANGE s - + COUNT x
        XRANGE s - + COUNT
        XRANGE s - + foo
        XRANGE s - + COUNT 1 foo
        XRANGE s - + "COUNT\\x00x" 1
    """,
    "xrange_bounds": """
        XADD s 1-1 a 1
        XADD s 5-0 b 2
        XRANGE s 01 +
        XRANGE s " 1" +
        XRANGE s +1 +
        XRANGE s 1-+1 +
        XRANGE s "1- 1" +
        XRANGE s -0 +
        XRANGE s -05 +
        XRANGE s 1- +
        XRANGE s 1-* +
        XRANGE s 1-1-1 +
        XRANGE s 18446744073709551616 +
        XRANGE s 18446744073709551615 +
        XRANGE s 1--05 +
        XRANGE s - 1--05
        XRANGE s "5\\x00junk" +
        XRANGE s ( +
        XRANGE s (- +
        XRANGE s (+ +
        XRANGE s - (+
        XRANGE s - (-
        XRANGE s (( +
        XRANGE s (18446744073709551615-18446744073709551615 +
        XRANGE s (18446744073709551615 +
        XRANGE s - (0-0
        XRANGE s - (0
        XRANGE s bad (0-0
        XRANGE s (18446744073709551615-18446744073709551615 bad
        XRANGE s (18446744073709551615-18446744073709551615 (0-0
        XRANGE s - (0-0 COUNT x
        XRANGE s bad + COUNT x
        XRANGE s - + COUNT x COUNT 1
        XRANGE s "" +
        XRANGE s """ + LONG_ID + """ +
        XRANGE s """ + LONG_ZEROS + """ +
        XREVRANGE s (0 -
        XREVRANGE s + (18446744073709551615-18446744073709551615
        XREVRANGE s (0-0 -
    """,
    "xrange_missing_and_wrong_type": """
        XRANGE none - +
        XRANGE none - + COUNT 0
        XRANGE none bad +
        XREVRANGE none + -
        XLEN none
        !list l
        XRANGE l - +
        XRANGE l - + COUNT 0
        XRANGE l bad +
        XRANGE l - + foo
        XREVRANGE l + -
        XLEN l
        !zset z
        XLEN z
        XDEL z 1-1
        XDEL z bad
        XTRIM z MAXLEN 1
        XTRIM z MAXLEN x
        XADD z 1-1 a 1
        XADD z bad a 1
        XADD z 1-1 a
        XADD z NOMKSTREAM 1-1 a 1
        XADD z 0-0 a 1
        SET str v
        XADD str * a 1
        XRANGE str - +
        GET str
    """,
    "xdel": """
        XADD s 1-1 a 1
        XADD s 2-0 b 2
        XADD s 3-0 c 3
        XDEL s 2-0 2-0 9-9
        XDEL s 2
        XDEL s bad
        XDEL s 1-1 bad
        XLEN s
        XDEL s -
        XDEL s +
        XDEL s 1-*
        XDEL s (1-1
        XDEL s 1
        XDEL none bad
        XDEL none 1-1
        XDEL s 3-0
        XLEN s
        EXISTS s
        TYPE s
        XRANGE s - +
        XADD s 3-0 x 1
        XADD s 2-0 x 1
        XADD s 3-* x 1
        XADD s 1-1 x 1
        XRANGE s - +
    """,
    "xtrim": """
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XADD s 3-1 a 3
        XADD s 4-1 a 4
        XADD s 5-1 a 5
        XTRIM s MAXLEN 4
        XTRIM s MAXLEN = 4
        XTRIM s MAXLEN 3
        XRANGE s - +
        XTRIM s MINID 4
        XTRIM s MINID = 4-1
        XTRIM s MINID 4-2
        XRANGE s - +
        XTRIM s maxlen ~ 100
        XTRIM s minid ~ 0
        XTRIM s MAXLEN ~ 5 LIMIT 0
        XTRIM s MAXLEN ~ 0
        XLEN s
        EXISTS s
        XTRIM s MAXLEN 0
        XADD s 5-1 a 1
        XADD s 5-2 a 1
        XTRIM s MINID ~ 18446744073709551615-18446744073709551615
        XLEN s
        XADD s 6-1 a 1
        XTRIM none MAXLEN 0
        XTRIM none MAXLEN x
        XTRIM none MINID bad
        EXISTS none
    """,
    "xtrim_arguments": """
        XADD s 1-1 a 1
        XTRIM s MAXLEN
        XTRIM s ""
        XTRIM s MAXLEN 1 junk
        XTRIM s MAXLEN 1 MAXLEN
        XTRIM s NOMKSTREAM MAXLEN 1
        XTRIM s LIMIT 5
        XTRIM s LIMIT 0
        XTRIM s LIMIT 0 LIMIT 0
        XTRIM s LIMIT 5 MAXLEN 1
        XTRIM s MAXLEN 1 LIMIT 5
        XTRIM s MAXLEN ~ 1 LIMIT -5
        XTRIM s MAXLEN 1 LIMIT x
        XTRIM s MAXLEN x LIMIT 5
        XTRIM s MAXLEN 1 LIMIT 5 MINID 3
        XTRIM s MINID 5 MINID 6
        XTRIM s MAXLEN 5 MAXLEN 6
        XTRIM s MAXLEN -1
        XTRIM s MAXLEN 9223372036854775808
        XTRIM s MAXLEN ~ ~ 1
        XTRIM s MAXLEN ~1
        XTRIM s MAXLEN =
        XTRIM s MAXLEN ~
        XTRIM s MINID ~
        XTRIM s MINID 1-*
        XTRIM s MINID +
        XTRIM s MINID -
        XTRIM s MINID ~ 5-*
        XTRIM s MINID = 0
        XTRIM s "MAXLEN\\x00x" 0
        XTRIM s MAXLEN "~\\x00" 0
        XLEN s
    """,
    "xread": """
        XADD s 1-1 a 1
        XADD s 2-0 b 2 c 3
        XADD t 5-5 x y
        XREAD STREAMS s 0
        XREAD streams s 0-0
        XREAD STREAMS s 1-1
        XREAD STREAMS s 1
        XREAD STREAMS s 2
        XREAD STREAMS s 18446744073709551615-18446744073709551615
        XREAD STREAMS s none 0 0
        XREAD STREAMS none s 0 0
        XREAD STREAMS s t 1-1 0
        XREAD STREAMS t s 0 1-1
        XREAD STREAMS s s 0 1-1
        XREAD COUNT 1 STREAMS s t 0 0
        XREAD COUNT 0 STREAMS s 0
        XREAD COUNT -1 STREAMS s 0
        XREAD COUNT 1 COUNT 2 STREAMS s 0
        XREAD BLOCK 0 COUNT 1 STREAMS s 0
        XREAD COUNT 1 BLOCK 100 STREAMS s t 0 0
        XREAD STREAMS s $
        XREAD STREAMS s t $ 0
        XREAD STREAMS none $
        XREAD STREAMS s "$\\x00x"
        XREAD STREAMS none 0
        XREAD STREAMS STREAMS 0
        XREAD STREAMS s STREAMS 0 0
    """,
    "xread_arguments": """
        XADD s 1-1 a 1
        XREAD STREAMS s
        XREAD STREAMS
        XREAD STREAMS s t 0
        XREAD STREAMS s t u 0 0
        XREAD foo STREAMS s 0
        XREAD COUNT 1 BLOCK
        XREAD COUNT 1 STREAMS
        XREAD COUNT x STREAMS s 0
        XREAD COUNT 9223372036854775808 STREAMS s 0
        XREAD BLOCK -1 STREAMS s 0
        XREAD BLOCK x STREAMS s 0
        XREAD BLOCK 1.5 STREAMS s 0
        XREAD BLOCK "" STREAMS s 0
        XREAD BLOCK x COUNT y STREAMS s 0
        XREAD COUNT y BLOCK x STREAMS s 0
        XREAD BLOCK -1 STREAMS s t 0
        XREAD STREAMS s +
        XREAD STREAMS s -
        XREAD STREAMS s 1-*
        XREAD STREAMS s (1
        XREAD STREAMS s bad
        XREAD STREAMS s >
        XREAD STREAMS none >
        XREAD GROUP g c STREAMS s 0
        XREAD GROUP g
        XREAD NOACK STREAMS s 0
        XREAD COUNT 1 NOACK STREAMS s 0
        XREAD noack
        XREAD STREAMS s none 0 bad
        XREAD STREAMS s none 0 >
        XREAD "STREAMS\\x00x" s 0
        XREAD "COUNT\\x00x" 1 STREAMS s 0
    """,
    "xread_wrong_type": """
        XADD s 1-1 a 1
        SET str x
        !hash h
        XREAD STREAMS str 0
        XREAD STREAMS str none 0 bad
        XREAD STREAMS none str bad 0
        XREAD STREAMS s str 0 0
        XREAD STREAMS s h 0 bad
        XREAD STREAMS s h bad 0
        XREAD STREAMS h $
        XREAD STREAMS str >
        XREAD BLOCK 100 STREAMS str 0
    """,
    "streams_as_keys": """
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        TYPE s
        EXISTS s
        scan TYPE stream
        scan TYPE list
        RENAME s r
        XRANGE r - +
        COPY r c
        XDEL c 1-1
        XRANGE c - +
        XRANGE r - +
        XADD c 2-1 x 1
        XADD c 2-2 x 1
        XLEN c
        DEL r
        XLEN r
        XADD r 1-1 a 1
        GET c
        LPUSH c x
        SET c v
        TYPE c
        XADD c 1-1 a 1
    """,
    "command_introspection": """
        COMMAND GETKEYS XREAD STREAMS a b 0 0
        COMMAND GETKEYS XREAD STREAMS a b 0
        COMMAND GETKEYS XREAD STREAMS a b c d e
        COMMAND GETKEYS XREAD STREAMS a b
        COMMAND GETKEYS XREAD STREAMS a
        COMMAND GETKEYS XREAD COUNT 1 STREAMS a
        COMMAND GETKEYS XREAD COUNT 1 BLOCK 5 streams a 0
        COMMAND GETKEYS XREAD foo bar baz
        COMMAND GETKEYS XREAD COUNT STREAMS STREAMS a 0
        COMMAND GETKEYS XREAD x STREAMS a
        COMMAND GETKEYS XREAD x y STREAMS
        COMMAND GETKEYS XREAD a b STREAMS
        COMMAND GETKEYS XREAD STREAMS STREAMS STREAMS
        COMMAND GETKEYS XREAD "STREAMS\\x00x" a 0
        COMMAND GETKEYS XREAD BLOCK 0 STREAMS a b c 0 0 0
        COMMAND GETKEYSANDFLAGS XREAD STREAMS a b 0 0
        COMMAND GETKEYSANDFLAGS XREAD COUNT 1 STREAMS a
        COMMAND GETKEYS XADD s * a 1
        COMMAND GETKEYS XADD s MAXLEN ~ 10 * a 1
        COMMAND GETKEYSANDFLAGS XADD s * a 1
        COMMAND GETKEYSANDFLAGS XTRIM s MAXLEN 1
        COMMAND GETKEYSANDFLAGS XDEL s 1-1
        COMMAND GETKEYSANDFLAGS XRANGE s - +
        COMMAND GETKEYSANDFLAGS XLEN s
        COMMAND INFO xread xadd XRANGE
        COMMAND DOCS xread xtrim
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_streams_match_redis(diff: Differential, name: str) -> None:
    assert run(diff, SCENARIOS[name], name) > 0


TRANSACTIONS: dict[str, list[str]] = {
    "xread_block_does_not_wait_inside_multi": [
        "XREAD BLOCK 0 STREAMS s 0",
        "XREAD BLOCK 100 STREAMS s t 0 0",
        "XADD s 1-1 a 1",
        "XREAD BLOCK 0 STREAMS s 0",
        "XREAD BLOCK 0 COUNT 1 STREAMS s t 0 0",
        "XREAD BLOCK -1 STREAMS s 0",
        "XREAD BLOCK 0 STREAMS s bad",
        "XADD s MAXLEN 1 2-1 b 2",
        "XRANGE s - +",
        "XADD s 2-1 b 2",
        "XTRIM s MAXLEN x",
        "XLEN s",
    ],
}


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
def test_stream_commands_inside_multi_match_redis(diff: Differential, name: str) -> None:
    """What the front end does with MULTI: queue-time checks, then one command of all ops."""
    diff.check_exec([words(line) for line in TRANSACTIONS[name]])
