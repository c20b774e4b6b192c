"""BLPOP, BRPOP, BLMOVE, BRPOPLPUSH against redis-server, where neither side waits.

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
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_blocking_pops_reply_like_redis_when_they_need_not_wait(
    diff: Differential, name: str
) -> None:
    assert run(diff, SCENARIOS[name], name) > 0
