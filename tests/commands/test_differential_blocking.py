"""BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP against
redis-server, where neither side waits.

What the handlers decide — which key and element an attempt pops, WRONGTYPE,
the timeout's errors, BLPOP's null array (a wait of 10 ms on redis-server,
the same bytes from an attempt here) — compared byte for byte. A timed-out
BLMOVE answers the null array too, but its attempt answers LMOVE's null
bulk: the front end makes the difference. The waiting itself is the front
end's (tests/runtime/test_blocking_pops.py); MULTI is in
test_differential_transactions.py.
"""

from __future__ import annotations

import pytest

from tests.commands.differential import Differential
from tests.commands.script import run

SCENARIOS = {
    "pops_from_the_first_key_holding_a_list": """
        RPUSH b 1 2 3
        RPUSH c x
        BLPOP a b c 0
        BRPOP a b c 0
        BRPOP a c b 1.5
        LRANGE b 0 -1
        BLPOP c 0.01
        EXISTS c
        BLPOP a 0.01
        BRPOP a c 0.01
        blpop b 0
        RPUSH b z
        BLPOP B b 0
    """,
    "moves_like_lmove_and_rpoplpush": """
        RPUSH src a b c
        BLMOVE src dst LEFT RIGHT 0
        BLMOVE src dst right left 0.5
        BRPOPLPUSH src dst 0
        LRANGE dst 0 -1
        EXISTS src
        RPUSH ring 1 2 3
        BLMOVE ring ring LEFT RIGHT 0
        LRANGE ring 0 -1
        BLMOVE src dst UP LEFT 0
        BLMOVE src dst UP LEFT x
        BLMOVE src dst LEFT LEFT x
    """,
    "timeouts_are_checked_first": """
        BLPOP k -1
        BLPOP k -0.5
        BLPOP k x
        BLPOP k 1.5x
        BLPOP k nan
        BLPOP k inf
        BLPOP k -inf
        BLPOP k 1e300
        BLPOP k 99999999999999999
        BLPOP k ""
        BLPOP k " 1"
        BRPOPLPUSH a b -1
        BLMOVE a b LEFT LEFT -1
        BLPOP k
        BRPOP
        BLMOVE a b LEFT 0
        BRPOPLPUSH a b
    """,
    "wrong_types": """
        SET s x
        RPUSH l 1
        BLPOP s l 0
        BLPOP l s 0
        BLPOP nokey s 0.01
        BLMOVE s l LEFT LEFT 0
        RPUSH l 2
        BLMOVE l s LEFT LEFT 0
        LRANGE l 0 -1
        BRPOPLPUSH l s 0
    """,
    "bzpopmin_and_bzpopmax_pop_one_member_from_the_first_key_holding_a_sorted_set": """
        ZADD b 1 x 2.5 y -inf w 1e300 z
        ZADD c 0 only
        BZPOPMIN a b c 0
        BZPOPMAX a b c 0
        bzpopmax c b 1.5
        ZRANGE b 0 -1 WITHSCORES
        EXISTS c
        BZPOPMIN c 0.01
        BZPOPMAX a c 0.01
        BZPOPMIN b b 0
        BZPOPMIN b 0
        EXISTS b
        ZADD t 0.1 m
        EXPIRE t 100
        BZPOPMAX t t2 0
        ZADD t 3 n 4 o
        BZPOPMIN t 0
        TTL t
    """,
    "bzmpop_pops_up_to_count_members": """
        ZADD b 1 x 2.5 y 3 z
        ZADD c 7 q
        BZMPOP 0 3 a b c MIN
        BZMPOP 0 2 a b max COUNT 1
        BZMPOP 0.5 2 c b MAX count 10
        ZRANGE b 0 -1 WITHSCORES
        BZMPOP 0 2 b c MIN COUNT 5
        EXISTS b c
        BZMPOP 0.01 2 b c MIN
        ZADD d 1 a 2 b 3 c
        bzmpop 0 1 d min count 2
        ZRANGE d 0 -1 WITHSCORES
    """,
    "blmpop_pops_up_to_count_elements": """
        RPUSH b 1 2 3 4
        RPUSH c x
        BLMPOP 0 3 a b c LEFT
        BLMPOP 0 2 a b RIGHT COUNT 2
        BLMPOP 1.5 2 b c left count 10
        EXISTS b
        blmpop 0 2 b c right COUNT 3
        BLMPOP 0.01 2 b c LEFT
        RPUSH d a b c
        BLMPOP 0 1 d RIGHT COUNT 2
        LRANGE d 0 -1
    """,
    "sorted_set_and_counted_key_forms_check_their_arguments_in_redis_order": """
        BZPOPMIN k -1
        BZPOPMAX k x
        BZPOPMIN k nan
        BZPOPMIN k inf
        BZPOPMAX k 1e300
        BZPOPMIN k ""
        BZPOPMIN k
        BZPOPMAX
        BZMPOP -1 0 a MIN
        BZMPOP x 0 a MIN
        BZMPOP x abc a MIN
        BZMPOP x 01 a MIN
        BZMPOP x 1x a MIN
        BZMPOP -1 2 a MIN
        BZMPOP -1 4294967297 a MIN
        BZMPOP -1 1 a FOO
        BZMPOP -1 1 a LEFT
        BZMPOP -1 1 a MIN COUNT 0
        BZMPOP -1 1 a MIN COUNT x
        BZMPOP -1 1 a MIN COUNT
        BZMPOP -1 1 a MIN COUNT 1 COUNT 2
        BZMPOP -1 1 a MIN FOO 1
        BZMPOP -1 1 a MIN
        BZMPOP x 1 a MIN
        BZMPOP inf 1 a max
        BZMPOP 0 1 a
        BZMPOP 0 1
        BLMPOP -1 0 a LEFT
        BLMPOP x -5 a LEFT
        BLMPOP -1 3 a LEFT
        BLMPOP -1 1 a UP
        BLMPOP -1 1 a MIN
        BLMPOP -1 1 a LEFT COUNT -1
        BLMPOP -1 1 a LEFT COUNT 9223372036854775808
        BLMPOP -1 1 a RIGHT COUNT 1 COUNT 1
        BLMPOP -1 1 a LEFT
        BLMPOP nan 1 a LEFT
        BLMPOP 0 1 a
    """,
    "sorted_set_and_counted_key_forms_wrong_types": """
        SET s x
        RPUSH l 1
        ZADD z 1 m 2 n
        BZPOPMIN s 0
        BZPOPMIN nokey s 0
        BZPOPMAX l z 0
        BZPOPMIN z s 0
        ZADD z 3 p
        BZMPOP 0 2 s z MIN
        BZMPOP 0 2 z s MAX
        BZMPOP 0 2 nokey l MIN
        BLMPOP 0 2 s l LEFT
        BLMPOP 0 2 l s LEFT
        BLMPOP 0 1 z LEFT
        EXISTS l
        ZRANGE z 0 -1 WITHSCORES
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_blocking_pops_reply_like_redis_when_they_need_not_wait(
    diff: Differential, name: str
) -> None:
    assert run(diff, SCENARIOS[name], name) > 0
