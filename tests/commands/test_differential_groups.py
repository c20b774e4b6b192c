"""Stream consumer groups against redis-server 7.0: XGROUP, XREADGROUP, XACK, XPENDING,
XCLAIM, XAUTOCLAIM, XINFO, XSETID, and how DEL, XDEL and XTRIM meet groups.

Every scenario uses explicit IDs and is compared byte for byte in RESP2 and RESP3
(``tests/commands/script.py``), except the replies that carry idle or delivery times,
which come from two clocks: those lines are compared with ``times`` (everything equal
but the times, which may differ by a few hundred ms). Where an idle time decides what a
command does (XPENDING IDLE, XCLAIM's and XAUTOCLAIM's min-idle-time), the scenarios
set delivery times far apart (XCLAIM IDLE/TIME) so both sides decide alike.
"""

from __future__ import annotations

import pytest

from tests.commands.differential import Differential
from tests.commands.script import run, words

SCENARIOS: dict[str, str] = {
    "xgroup_create": """
        XGROUP CREATE s g $
        XGROUP CREATE s g 0 FOO
        XGROUP CREATE s g bad
        XGROUP CREATE s g 0 ENTRIESREAD x
        XGROUP CREATE s g 0 ENTRIESREAD -5
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g 0
        TYPE s
        XLEN s
        XINFO GROUPS s
        XGROUP CREATE none g bad MKSTREAM
        EXISTS none
        XGROUP CREATE s2 g 0 ENTRIESREAD 5
        XGROUP CREATE s2 g 0 MKSTREAM ENTRIESREAD 5
        XGROUP CREATE s3 g 0 ENTRIESREAD 5 MKSTREAM
        XGROUP CREATE s3 h 0 ENTRIESREAD -1
        XGROUP CREATE s3 i 0 ENTRIESREAD -2
        XGROUP CREATE s3 i 0 ENTRIESREAD
        XGROUP CREATE s3 i 0 ENTRIESREAD 3 ENTRIESREAD 4
        XGROUP CREATE s3 i 0 MKSTREAM FOO
        XGROUP CREATE s3 i 0 mkstream mkstream
        XGROUP CREATE s3 j 0 MKSTREAM MKSTREAM MKSTREAM MKSTREAM
        XGROUP CREATE n j 0 MKSTREAM MKSTREAM MKSTREAM MKSTREAM
        EXISTS n
        XGROUP CREATE s3 k -
        XGROUP CREATE s3 k +
        XGROUP CREATE s3 k 1-*
        XGROUP CREATE s3 k 5 ENTRIESREAD 99999
        XGROUP CREATE s3 l 9223372036854775808
        XGROUP CREATE s3 l 0 ENTRIESREAD 9223372036854775808
        XGROUP CREATE s3 big 0 ENTRIESREAD 9223372036854775807
        XGROUP create s3 $\\x00x $\\x00x
        XGROUP CREATE s3 "" 0
        XGROUP CREATE s3 a\\r\\nb 0
        XINFO GROUPS s3
        XADD s3 1-1 f v
        XINFO GROUPS s3
        XGROUP CREATE s3 dollar $
        XINFO GROUPS s3
        SET str v
        XGROUP CREATE str g 0
        XGROUP CREATE str g 0 MKSTREAM
        XGROUP CREATE str g 0 FOO
        XGROUP CREATE str g bad
        XGROUP CREATE
        XGROUP CREATE a b
    """,
    "xgroup_setid": """
        XGROUP SETID none g 1
        XGROUP SETID none g 1 FOO 2
        XGROUP SETID none g 1 ENTRIESREAD x
        XADD s 1-1 f v
        XADD s 2-1 f v
        XGROUP CREATE s g 0
        XGROUP SETID s nog 1
        XGROUP SETID s nog bad
        XGROUP SETID s g 5
        XINFO GROUPS s
        XGROUP SETID s g -
        XINFO GROUPS s
        XGROUP SETID s g +
        XINFO GROUPS s
        XGROUP SETID s g $
        XINFO GROUPS s
        XGROUP SETID s g bad
        XGROUP SETID s g 1-*
        XGROUP SETID s g (1
        XGROUP SETID s g 1 ENTRIESREAD 3
        XINFO GROUPS s
        XGROUP SETID s g 1 ENTRIESREAD -3
        XGROUP SETID s g 1 ENTRIESREAD -1
        XINFO GROUPS s
        XGROUP SETID s g 1 ENTRIESREAD x
        XGROUP SETID s g 1 ENTRIESREAD
        XGROUP SETID s g 1 FOO 3
        XGROUP SETID s g 1 entriesread 3 X
        XGROUP setid s g 1 FOO 3
        XGROUP SETID s g 0 ENTRIESREAD -2 COUNT
        XGROUP SETID s g bad ENTRIESREAD x COUNT
        XGROUP SETID s g 0 ENTRIESREAD -2 a b c
        XGROUP SETID s g 0 ENTRIESREAD 1 x
        XGROUP SETID s g 0 MKSTREAM
        XGROUP SETID s g bad ENTRIESREAD 3 ENTRIESREAD 4
        XGROUP SETID none g 0 ENTRIESREAD 3 ENTRIESREAD 4
        XGROUP SETID s nog 0 ENTRIESREAD 3 ENTRIESREAD 4
        SET str v
        XGROUP SETID str g 0
        XGROUP SETID str g 0 FOO 1
    """,
    "xgroup_consumers_and_destroy": """
        XGROUP DESTROY none g
        XGROUP CREATECONSUMER none g c
        XGROUP DELCONSUMER none g c
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATECONSUMER s g c
        XGROUP CREATECONSUMER s g c
        XGROUP CREATECONSUMER s g b
        XGROUP CREATECONSUMER s g ""
        XGROUP CREATECONSUMER s nog c
        XGROUP DELCONSUMER s nog c
        XINFO GROUPS s
        times XINFO CONSUMERS s g
        XGROUP DELCONSUMER s g c
        XGROUP DELCONSUMER s g c
        XGROUP DELCONSUMER s g nobody
        times XINFO CONSUMERS s g
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XREADGROUP GROUP g b STREAMS s >
        XGROUP DELCONSUMER s g b
        XPENDING s g
        XGROUP DESTROY s g
        XGROUP DESTROY s g
        XGROUP DESTROY s g x
        XINFO GROUPS s
        XLEN s
        SET str v
        XGROUP DESTROY str g
        XGROUP CREATECONSUMER str g c
        XGROUP DELCONSUMER str g c
    """,
    "xgroup_help_and_subcommands": """
        XGROUP HELP
        XGROUP help
        XGROUP HELP x
        XGROUP FOO
        XGROUP FOO a b c
        XGROUP
        XGROUP DESTROY a b c d
        XGROUP CREATECONSUMER a b
        XINFO HELP
        XINFO help
        XINFO HELP x
        XINFO FOO
        XINFO FOO a
        XINFO groups
        XINFO consumers s
        XINFO
    """,
    "xreadgroup_new_entries": """
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD t 1-1 x 1
        XGROUP CREATE s g 0
        XGROUP CREATE t g $
        XREADGROUP GROUP g c1 COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c2 STREAMS s t > >
        XREADGROUP GROUP g c2 STREAMS s t > >
        XREADGROUP GROUP g c2 BLOCK 10 STREAMS s >
        XPENDING s g
        XADD s 4-1 d 4
        XADD s 5-1 e 5
        XREADGROUP GROUP g c1 NOACK COUNT 1 STREAMS s >
        XPENDING s g
        XREADGROUP group g c1 count 0 noack streams s >
        XPENDING s g
        XINFO GROUPS s
        XADD t 2-1 y 2
        XREADGROUP GROUP g c3 COUNT -1 STREAMS t s > >
        XADD s 6-1 f 6
        XREADGROUP GROUP g c3 STREAMS s s > >
        XADD s 7-1 g 7
        XREADGROUP GROUP g c3 STREAMS s s 0 >
        XREADGROUP GROUP g c1 STREAMS s 18446744073709551615-18446744073709551615
        XREADGROUP GROUP g c1 STREAMS s 18446744073709551615-18446744073709551614
        XREADGROUP GROUP g c1 STREAMS s >\\x00y
        XREADGROUP GROUP g c1 STREAMS\\x00x s 0
        XREADGROUP GROUP\\x00x g c1 STREAMS s 0-0
        XREADGROUP GROUP g c1 NOACK NOACK STREAMS s >
        XREADGROUP GROUP g c1 GROUP g c9 STREAMS s 0
        XPENDING s g
        XINFO GROUPS s
        XINFO GROUPS t
        times XINFO CONSUMERS s g
    """,
    "xreadgroup_history": """
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD t 1-1 x 1
        XGROUP CREATE s g 0
        XGROUP CREATE t g $
        XREADGROUP GROUP g c STREAMS s >
        XREADGROUP GROUP g c STREAMS s 0
        XREADGROUP GROUP g c STREAMS s 1-1
        XREADGROUP GROUP g c STREAMS s 1
        XREADGROUP GROUP g c COUNT 1 STREAMS s 0
        times XPENDING s g - + 10
        XREADGROUP GROUP g other STREAMS s 0
        XDEL s 2-1
        XREADGROUP GROUP g c STREAMS s t 0 0
        times XPENDING s g - + 10
        XREADGROUP GROUP g c COUNT 1 STREAMS s t 1-1 0
        XREADGROUP GROUP g c COUNT 0 STREAMS s t 1-1 0
        XREADGROUP GROUP g c STREAMS s t 1-1 >
        XREADGROUP GROUP g c BLOCK 10 STREAMS s 0
        XREADGROUP GROUP g c BLOCK 10 NOACK STREAMS s 0
        XREADGROUP GROUP g nobody STREAMS s 0
        XREADGROUP GROUP g c STREAMS s 3-1
        XREADGROUP GROUP g c STREAMS s 0\\x00y
        times XPENDING s g - + 10
        times XINFO CONSUMERS s g
        XINFO GROUPS s
    """,
    "xreadgroup_errors": """
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
        xreadgroup GROUP g c1 STREAMS s t >
        XREADGROUP GROUP g c1 STREAMS s t u > >
        XREADGROUP GROUP g c1 COUNT x STREAMS s >
        XREADGROUP GROUP g c1 BLOCK x STREAMS s >
        XREADGROUP GROUP g c1 BLOCK -1 STREAMS s >
        XREADGROUP GROUP g c1 BLOCK 1.5 STREAMS s >
        XREADGROUP GROUP h c2 STREAMS s >
        XREADGROUP GROUP g c1 STREAMS none >
        XREADGROUP GROUP g c1 STREAMS s none > >
        XREADGROUP GROUP g c1 STREAMS s bad
        XREADGROUP GROUP g c1 STREAMS s -
        XREADGROUP GROUP g c1 STREAMS s +
        XREADGROUP GROUP g c1 STREAMS s (1
        XREADGROUP GROUP g c1 STREAMS s 1-*
        XREADGROUP GROUP g c1 STREAMS s $
        XREADGROUP GROUP g c1 STREAMS s $\\x00y
        XREADGROUP GROUP g c1 STREAMS s none $ >
        XREADGROUP GROUP g c1 foo STREAMS s >
        XREADGROUP foo bar baz qux quux corge
        XREADGROUP COUNT 1 STREAMS s > x y
        XREADGROUP COUNT 1 STREAMS s > x
        XREADGROUP GROUP g c1 COUNT 1 BLOCK 5 foo x
        XREADGROUP GROUP g c1 STREAMS s >
        XREADGROUP GROUP g c1 STREAMS
        XREADGROUP GROUP g c1 STREAMS s
        XREADGROUP STREAMS s >
        XREADGROUP GROUP g STREAMS s >
        XREADGROUP GROUP g c1 COUNT 1 STREAMS
        XREADGROUP GROUP g c1 NOACK
        XREADGROUP GROUP g c1 "" STREAMS s >
        XREADGROUP_RETRY GROUP g c1 STREAMS s >
        XREADGROUP GROUP g c1 COUNT 1 STREAMS s XREADGROUP_RETRY
        SET str v
        XREADGROUP GROUP g c1 STREAMS str >
        XREADGROUP GROUP g c1 STREAMS s str > >
        XREADGROUP GROUP g c1 STREAMS none str > >
        XREADGROUP GROUP g c1 STREAMS s str bad >
        XREADGROUP GROUP g c1 STREAMS str s > bad
        times XINFO CONSUMERS s g
    """,
    "xack": """
        XACK none g 1-1
        XACK none g bad
        SET str v
        XACK str g 1-1
        XACK str g bad
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XACK s g bad
        XGROUP CREATE s g 0
        XACK s g bad
        XACK s g 1-1 bad
        XACK s g 1-1
        XREADGROUP GROUP g c1 STREAMS s >
        XACK s g 1-1 1-1 9-9
        XACK s g 1
        XACK s g -
        XACK s g +
        XACK s g 2-1\\x00junk
        XACK s nog 2-1
        XPENDING s g
        XACK s g 2-1 3-1
        XPENDING s g
        XINFO GROUPS s
        times XINFO CONSUMERS s g
    """,
    "xpending": """
        XPENDING none g
        XPENDING none g - + 10
        XPENDING none g bad + 10
        SET str v
        XPENDING str g
        XPENDING str g - + 10
        XPENDING str g bad + 10
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XGROUP CREATE s g 0
        XPENDING s g
        XPENDING s g - + 10
        XPENDING s nog
        XPENDING s nog - + x
        XREADGROUP GROUP g c2 COUNT 1 STREAMS s >
        XREADGROUP GROUP g c1 STREAMS s >
        XPENDING s g
        times XPENDING s g - + 10
        times XPENDING s g - + 10 c1
        times XPENDING s g - + 10 c1 x
        times XPENDING s g - + 10 c1 c2 c3
        XPENDING s g - + 10 nobody
        XPENDING s g - +
        XPENDING s g - + 10 c1 x y z
        XPENDING s g - + x
        XPENDING s g bad + 10
        XPENDING s g - bad 10
        XPENDING s g bad bad x
        XPENDING s g IDLE x - + 10
        times XPENDING s g IDLE 0 - + 10
        XPENDING s g IDLE 3600000 - + 10
        times XPENDING s g IDLE -5 - + 10
        times XPENDING s g idle 0 - + 10 c2
        XPENDING s g IDLE 10 - +
        XPENDING s g IDLE x - +
        XPENDING s g IDLE 10 - + x
        times XPENDING s g IDLE\\x00x 0 - + 10
        XPENDING s g - + 0
        XPENDING s g - + -1
        times XPENDING s g - + 2
        times XPENDING s g (1-1 + 10
        times XPENDING s g - (3-1 10
        times XPENDING s g 2 2 10
        XPENDING s g (18446744073709551615-18446744073709551615 + 10
        XPENDING s g - (0-0 10
        XPENDING s g + - 10
        XPENDING s g 3 2 10
        XCLAIM s g c1 0 1-1 IDLE 100000 JUSTID
        times XPENDING s g IDLE 50000 - + 10
        XPENDING s g IDLE 50000 - + 10 c2
        XPENDING s g IDLE 200000 - + 10 c1
    """,
    "xclaim": """
        XCLAIM none g c 0 1-1
        XCLAIM none g c x 1-1
        SET str v
        XCLAIM str g c 0 1-1
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XCLAIM s g c 0 1-1
        XGROUP CREATE s g 0
        XCLAIM s g c x 1-1
        XCLAIM s g c 0 bad
        XCLAIM s g c 0 1-1 bad
        XCLAIM s g c 0 1-1 IDLE
        XCLAIM s g c 0 1-1 IDLE x
        XCLAIM s g c 0 1-1 TIME x
        XCLAIM s g c 0 1-1 RETRYCOUNT x
        XCLAIM s g c 0 1-1 LASTID x
        XCLAIM s g c 0 1-1 LASTID -
        XCLAIM s g c 0 1-1 FORCE FOO
        XCLAIM s g c 0 1-1 FORCE FOO\\r\\nbar
        XCLAIM s g c 0 1-1 IDLE x FOO
        XCLAIM s g c 0 1-1
        times XINFO CONSUMERS s g
        XCLAIM s g c 0 1-1 FORCE
        times XPENDING s g - + 10
        XCLAIM s g c2 0 1-1 RETRYCOUNT 7 IDLE 100000
        times XPENDING s g - + 10
        XCLAIM s g c2 50000 1-1 JUSTID
        times XPENDING s g - + 10
        XCLAIM s g c3 200000 1-1 JUSTID
        XCLAIM s g c3 -5 1-1 JUSTID
        times XPENDING s g - + 10
        XCLAIM s g c3 0 1-1 2-1 FORCE JUSTID RETRYCOUNT -5
        times XPENDING s g - + 10
        XCLAIM s g c3 0 2-1 RETRYCOUNT -1
        XCLAIM s g c3 0 2-1 RETRYCOUNT 9223372036854775807
        XCLAIM s g c3 0 2-1
        times XPENDING s g - + 10
        XCLAIM s g c3 0 2-1 TIME 5
        times XPENDING s g IDLE 3600000 - + 10
        XCLAIM s g c3 0 2-1 TIME 99999999999999
        XCLAIM s g c3 0 2-1 IDLE -100
        XCLAIM s g c3 0 2-1 TIME -100
        XCLAIM s g c3 0 2-1 IDLE -9223372036854775808
        times XPENDING s g - + 10
        XDEL s 2-1
        XCLAIM s g c3 0 2-1
        XPENDING s g
        XCLAIM s g c4 0 2-1 FORCE
        XCLAIM s g c4 0 9-9 FORCE
        XCLAIM s g c4 0 3-1 LASTID 3-1 FORCE JUSTID
        XINFO GROUPS s
        XCLAIM s g c4 0 3-1 LASTID 1-1
        XINFO GROUPS s
        XCLAIM s g c4 0 4-1 LASTID 9-9
        XINFO GROUPS s
        times XINFO CONSUMERS s g
        XCLAIM s g c4 0 1-1 1-1 JUSTID
        XCLAIM s g c4 0 1-1 justid idle 5 time 5 retrycount 1 force lastid 0
        times XPENDING s g - + 10
        XCLAIM s nog c 0 1-1
        XCLAIM s nog c x 1-1
    """,
    "xautoclaim": """
        XAUTOCLAIM none g c 0 0
        XAUTOCLAIM none g c x 0
        XAUTOCLAIM none g c 0 bad
        XAUTOCLAIM none g c 0 0 COUNT 0
        XAUTOCLAIM none g c 0 0 FOO
        XAUTOCLAIM none g c 0 0 COUNT 576460752303423487
        SET str v
        XAUTOCLAIM str g c 0 0
        XAUTOCLAIM str g c 0 0 COUNT x
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XADD s 5-1 e 5
        XGROUP CREATE s g 0
        XAUTOCLAIM s g c 0 0
        XREADGROUP GROUP g c1 STREAMS s >
        XAUTOCLAIM s g c2 0 0 COUNT 2
        XAUTOCLAIM s g c2 0 0 COUNT 2 JUSTID
        times XPENDING s g - + 10
        XDEL s 2-1 4-1
        XAUTOCLAIM s g c3 0 0 COUNT 2
        times XPENDING s g - + 10
        XAUTOCLAIM s g c3 0 0 COUNT 1
        XAUTOCLAIM s g c3 0 (1-1 COUNT 10
        XAUTOCLAIM s g c3 0 (18446744073709551615-18446744073709551615
        XAUTOCLAIM s g c3 0 - COUNT 1
        XAUTOCLAIM s g c3 0 + COUNT 1
        XAUTOCLAIM s g c3 0 5-1 COUNT 1
        XAUTOCLAIM s g c3 3600000 - COUNT 1
        XAUTOCLAIM s g c3 0 0 COUNT 0
        XAUTOCLAIM s g c3 0 0 COUNT -1
        XAUTOCLAIM s g c3 0 0 COUNT 576460752303423487
        XAUTOCLAIM s g c3 0 0 COUNT 576460752303423488
        XAUTOCLAIM s g c3 0 0 COUNT
        XAUTOCLAIM s g c3 0 0 JUSTID JUSTID
        XAUTOCLAIM s g c3 0 0 JUSTID COUNT 2 COUNT 1
        XAUTOCLAIM s g c3 x 0
        XAUTOCLAIM s g c3 0 x
        XAUTOCLAIM s nog c3 0 0
        times XINFO CONSUMERS s g
        XCLAIM s g c1 0 1-1 IDLE 100000 JUSTID
        XAUTOCLAIM s g c4 50000 0 JUSTID
        XAUTOCLAIM s g c4 -1 0 COUNT 1 JUSTID
        times XPENDING s g - + 10
    """,
    "xautoclaim_looks_at_ten_times_count": """
        XADD s 1-1 a 1
        XADD s 2-1 a 1
        XADD s 3-1 a 1
        XADD s 4-1 a 1
        XADD s 5-1 a 1
        XADD s 6-1 a 1
        XADD s 7-1 a 1
        XADD s 8-1 a 1
        XADD s 9-1 a 1
        XADD s 10-1 a 1
        XADD s 11-1 a 1
        XADD s 12-1 a 1
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        XCLAIM s g c 0 12-1 IDLE 100000 JUSTID
        XAUTOCLAIM s g d 50000 0 COUNT 1 JUSTID
        XCLAIM s g c 0 11-1 IDLE 100000 JUSTID
        XAUTOCLAIM s g d 50000 0 COUNT 1 JUSTID
        XAUTOCLAIM s g d 50000 0 COUNT 2 JUSTID
        XDEL s 1-1 2-1 3-1
        XAUTOCLAIM s g d 50000 0 COUNT 2 JUSTID
        XAUTOCLAIM s g d 50000 0 COUNT 1 JUSTID
        XPENDING s g
    """,
    "xsetid": """
        XSETID none 1-1
        XSETID none bad
        XSETID none 1-1 FOO
        XSETID none2 1-1 ENTRIESADDED -5
        XSETID none2 1-1 MAXDELETEDID 2-1
        SET str v
        XSETID str 1-1
        XSETID str bad
        XADD s 5-1 a 1
        XADD s 6-1 a 1
        XSETID s 5-1
        XSETID s 6-1
        XSETID s 7-1
        XINFO STREAM s
        XSETID s 7-1 ENTRIESADDED 1
        XSETID s 7-1 ENTRIESADDED 2
        XSETID s 7-1 ENTRIESADDED -1
        XSETID s 7-1 ENTRIESADDED x
        XSETID s 7-1 ENTRIESADDED
        XSETID s 7-1 MAXDELETEDID 8-1
        XSETID s 7-1 MAXDELETEDID 7-1
        XSETID s 7-1 MAXDELETEDID bad
        XSETID s 7-1 MAXDELETEDID 0-0
        XSETID s 7-1 maxdeletedid 1-1 entriesadded 9
        XINFO STREAM s
        XSETID s 7-1 FOO
        XSETID s -
        XSETID s +
        XSETID s 1-*
        XSETID s 7
        XINFO STREAM s
        XDEL s 5-1 6-1
        XINFO STREAM s
        XSETID s 6-5
        XSETID s 7-0
        XSETID s 7-0 ENTRIESADDED 0
        XINFO STREAM s
        XSETID s 7-0 MAXDELETEDID 7-1
        XADD s 6-9 a 1
        XADD s 8-* a 1
        XSETID s 18446744073709551615-18446744073709551615
        XADD s * a 1
        XADD s 18446744073709551615-* a 1
    """,
    "xinfo_stream": """
        XINFO STREAM none
        XINFO GROUPS none
        XINFO CONSUMERS none g
        XINFO STREAM none FOO
        SET str v
        XINFO STREAM str
        XINFO STREAM str FOO
        XINFO GROUPS str
        XINFO CONSUMERS str g
        XGROUP CREATE e g $ MKSTREAM
        XINFO STREAM e
        XINFO STREAM e FULL
        XADD s 1-1 a 1
        XINFO CONSUMERS s g
        XINFO STREAM s
        XINFO STREAM s FOO
        XINFO STREAM s FULL COUNT
        XINFO STREAM s FULL COUNT x
        XINFO STREAM s FULL FOO 1
        XINFO stream s a b c d
        XINFO GROUPS s
        XINFO STREAM s FULL
        XADD s 2-1 b 2 c 3
        XADD s 3-1 d 4
        XGROUP CREATE s g 0
        XGROUP CREATE s h $
        XREADGROUP GROUP g c1 COUNT 2 STREAMS s >
        XREADGROUP GROUP g c2 STREAMS s >
        XGROUP CREATECONSUMER s g c0
        XINFO STREAM s
        times XINFO STREAM s FULL
        times XINFO STREAM s FULL COUNT 1
        times XINFO STREAM s full count 0
        times XINFO STREAM s FULL COUNT -1
        XDEL s 1-1 3-1
        XINFO STREAM s
        times XINFO STREAM s FULL
        XTRIM s MAXLEN 0
        XINFO STREAM s
        times XINFO STREAM s FULL
    """,
    "lag_and_entries_read": """
        XADD s 1-1 a 1
        XADD s 2-1 a 1
        XADD s 3-1 a 1
        XADD s 4-1 a 1
        XGROUP CREATE s g0 0
        XGROUP CREATE s g1 1-1
        XGROUP CREATE s g2 2-0
        XGROUP CREATE s g3 $
        XGROUP CREATE s g4 9-9
        XGROUP CREATE s g5 0 ENTRIESREAD 2
        XGROUP CREATE s g6 $ ENTRIESREAD 2
        XINFO GROUPS s
        XREADGROUP GROUP g0 c COUNT 1 STREAMS s >
        XREADGROUP GROUP g1 c COUNT 1 STREAMS s >
        XREADGROUP GROUP g2 c COUNT 1 STREAMS s >
        XREADGROUP GROUP g5 c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XDEL s 3-1
        XINFO GROUPS s
        XREADGROUP GROUP g0 c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g1 c STREAMS s >
        XINFO GROUPS s
        XDEL s 1-1
        XINFO GROUPS s
        XADD s 5-1 a 1
        XINFO GROUPS s
        XTRIM s MAXLEN 1
        XINFO GROUPS s
        XREADGROUP GROUP g2 c STREAMS s >
        XINFO GROUPS s
        XDEL s 5-1
        XINFO GROUPS s
        XADD s 6-1 a 1
        XINFO GROUPS s
        XGROUP SETID s g0 0 ENTRIESREAD 9223372036854775807
        XINFO GROUPS s
        XREADGROUP GROUP g0 c STREAMS s >
        XINFO GROUPS s
        XSETID s 6-1 ENTRIESADDED 0
        XINFO GROUPS s
        XADD t 1-1 a 1
        XGROUP CREATE t g 0
        XDEL t 1-1
        XINFO GROUPS t
        XADD t 2-1 a 1
        XADD t 3-1 a 1
        XINFO GROUPS t
        XREADGROUP GROUP g c COUNT 1 STREAMS t >
        XINFO GROUPS t
    """,
    "entries_added_past_llong_max": """
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
        XSETID s 1-1 ENTRIESADDED 9223372036854775807
        XINFO STREAM s
        XADD s 2-1 a 1
        XINFO STREAM s
        times XINFO STREAM s FULL
        XGROUP CREATE s g2 $
        XINFO GROUPS s
        XDEL s 1-1
        XREADGROUP GROUP g c STREAMS s >
        XINFO GROUPS s
        XADD s 3-1 a 1
        XREADGROUP GROUP g2 c STREAMS s >
        XINFO GROUPS s
        XTRIM s MAXLEN 0
        XGROUP CREATE s g3 0
        XINFO GROUPS s
        XSETID s 3-1 ENTRIESADDED 18446744073709551615
    """,
    "groups_live_in_the_stream_value": """
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        RENAME s r
        XPENDING r g
        XINFO GROUPS r
        COPY r c
        XACK c g 1-1
        XPENDING c g
        XPENDING r g
        XTRIM r MAXLEN 0
        XPENDING r g
        XREADGROUP GROUP g c STREAMS r 0
        XCLAIM r g d 0 1-1 2-1
        XPENDING r g
        DEL r
        XPENDING r g
        XADD r 3-1 a 1
        XPENDING r g
        XINFO GROUPS r
        XGROUP CREATE c g2 0
        EXPIRE c 100
        XREADGROUP GROUP g2 x STREAMS c >
        ttl TTL c
        XGROUP DESTROY c g
        ttl TTL c
        TYPE c
    """,
    "command_introspection": """
        COMMAND GETKEYS XREADGROUP GROUP g c STREAMS a b > >
        COMMAND GETKEYS XREADGROUP GROUP g c COUNT 1 STREAMS a 0
        COMMAND GETKEYS XREADGROUP GROUP g c STREAMS a
        COMMAND GETKEYSANDFLAGS XREADGROUP GROUP g c STREAMS a b > >
        COMMAND GETKEYS XGROUP CREATE s g $
        COMMAND GETKEYSANDFLAGS XGROUP CREATE s g $ MKSTREAM
        COMMAND GETKEYSANDFLAGS XGROUP DESTROY s g
        COMMAND GETKEYSANDFLAGS XGROUP SETID s g 0
        COMMAND GETKEYSANDFLAGS XGROUP DELCONSUMER s g c
        COMMAND GETKEYS XGROUP HELP
        COMMAND GETKEYSANDFLAGS XINFO STREAM s FULL
        COMMAND GETKEYSANDFLAGS XINFO CONSUMERS s g
        COMMAND GETKEYSANDFLAGS XACK s g 1-1
        COMMAND GETKEYSANDFLAGS XAUTOCLAIM s g c 0 0
        COMMAND GETKEYSANDFLAGS XCLAIM s g c 0 1-1
        COMMAND GETKEYSANDFLAGS XPENDING s g
        COMMAND GETKEYSANDFLAGS XSETID s 1-1
        COMMAND INFO xreadgroup xack XGROUP|CREATE xinfo|stream
        COMMAND DOCS xreadgroup xclaim xgroup|setid
        COMMAND INFO xgroup|nosuch
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_consumer_groups_match_redis(diff: Differential, name: str) -> None:
    assert run(diff, SCENARIOS[name], name) > 0


TRANSACTIONS: dict[str, list[str]] = {
    "xreadgroup_block_does_not_wait_inside_multi": [
        "XGROUP CREATE s g $ MKSTREAM",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
        "XREADGROUP GROUP g c BLOCK 100 STREAMS s 0",
        "XADD s 1-1 a 1",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
        "XREADGROUP GROUP g c BLOCK -1 STREAMS s >",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s bad",
        "XREADGROUP GROUP nog c BLOCK 0 STREAMS s >",
        "XACK s g 1-1",
        "XPENDING s g",
        "XGROUP DESTROY s g",
        "XINFO GROUPS s",
    ],
}


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
def test_group_commands_inside_multi_match_redis(diff: Differential, name: str) -> None:
    """What the front end does with MULTI: queue-time checks, then one command of all ops."""
    diff.check_exec([words(line) for line in TRANSACTIONS[name]])


SCRIPTS = [
    "return redis.call('xreadgroup','group','g','c','block','0','streams',KEYS[1],'>')",
    "return redis.pcall('XREADGROUP','GROUP','g','c','BLOCK','0','STREAMS',KEYS[1],'>')",
    "return redis.pcall('xread','block','0','streams',KEYS[1],'0')",
    "return redis.pcall('xread','block','0','count','x','streams',KEYS[1],'0')",
    "return redis.pcall('xread','count','x','block','0','streams',KEYS[1],'0')",
    "return redis.pcall('xread','noack','block','0','streams',KEYS[1],'0')",
    "return redis.pcall('xreadgroup','noack','count','2','block','0','foo')",
    "return redis.pcall('xreadgroup','group','g','c','foo','block','0','streams',KEYS[1],'>')",
    "return redis.pcall('XREAD','BLOCK','0','STREAMS',KEYS[1])",
    "return redis.call('XREADGROUP','group','g','c','count','1','streams',KEYS[1],'>')",
    "return redis.call('XREADGROUP','group','g','c','streams',KEYS[1],'0')",
    "return redis.call('XGROUP','CREATECONSUMER',KEYS[1],'g','d')",
    "return redis.call('XINFO','GROUPS',KEYS[1])",
    "return redis.call('XPENDING',KEYS[1],'g')",
    "return redis.pcall('XGROUP','CREATE',KEYS[1],'g','0')",
]


@pytest.mark.parametrize("body", SCRIPTS)
def test_group_commands_in_scripts_match_redis(diff: Differential, body: str) -> None:
    """Scripts call them (BLOCK refused, with the name as the script spelled it); EVAL_RO
    refuses the writes."""
    diff.check(b"XADD", b"s", b"1-1", b"a", b"1")
    diff.check(b"XGROUP", b"CREATE", b"s", b"g", b"0")
    for command in (b"EVAL", b"EVAL_RO"):
        diff.check(command, body.encode(), b"1", b"s")
