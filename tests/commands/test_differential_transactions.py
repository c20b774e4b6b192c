"""MULTI/EXEC as Redis runs it: queue-time errors abort, run-time errors are per item.

The redis-server side gets MULTI, the queued commands and EXEC; the model
side does what the front end will do: ``queue_error`` for each queued
command, then ``prepare_queued`` for all of them and one ``Command`` with
``multi=True``. The EXEC replies must be byte-identical.
"""

from __future__ import annotations

import pytest

from epaxosdb.commands import prepare_queued, queue_error
from protocol.replies import Error
from protocol.resp import encode_reply
from storage.interface import ValueType
from tests.commands.differential import Differential
from tests.commands.script import words

TRANSACTIONS: dict[str, list[str]] = {
    "all_succeed": ["SET a 1", "INCR a", "GET a", "EXPIRE a 100", "TTL a", "DEL a"],
    "run_time_errors_are_items": [
        "SET a x",
        "INCR a",
        "EXPIRE a abc",
        "SET a v EX 0",
        "SET a v NX XX",
        "GETRANGE a x 1",
        "GET a",
        "MSET a 1 b",
        "INCRBY a 9223372036854775808",
        "DECRBY a -9223372036854775808",
        "SCAN abc",
        "FLUSHALL foo",
        "EXPIRE a 100 NX XX",
        "APPEND a y",
    ],
    "blocking_pops_do_not_wait": [
        "BLPOP q 0",
        "BRPOP q 0",
        "BLMOVE q d LEFT LEFT 0",
        "BRPOPLPUSH q d 0",
        "RPUSH q a b",
        "BLPOP q 0",
        "BLMOVE q d LEFT LEFT 0",
        "BLPOP q -1",
    ],
    "sorted_set_and_counted_key_blocking_pops_do_not_wait": [
        "BZPOPMIN z 0",
        "BZPOPMAX z y 0",
        "BZMPOP 0 2 z y MIN",
        "BLMPOP 0 1 q LEFT",
        "ZADD y 1 a 2 b 3 c",
        "RPUSH q x y z",
        "BZPOPMIN z y 0",
        "BZPOPMAX z y 0",
        "BZMPOP 0 2 z y MAX COUNT 5",
        "BLMPOP 0 1 q RIGHT COUNT 2",
        "BZPOPMIN y -1",
        "BZMPOP -1 1 y MIN",
        "BZMPOP x 0 y MIN",
        "BLMPOP 0 1 q UP",
        "BLMPOP nan 1 q LEFT",
        "SET s v",
        "BZPOPMIN s 0",
        "BLMPOP 0 2 q s LEFT",
        "LRANGE q 0 -1",
    ],
    "stream_reads_do_not_wait": [
        "XREAD BLOCK 0 STREAMS s $",
        "XADD s 1-1 f v",
        "XREAD BLOCK 0 STREAMS s $",
        "XREAD BLOCK 100 STREAMS s 0",
        "XREAD COUNT 1 BLOCK 0 STREAMS s 0-0",
        "XREAD BLOCK -1 STREAMS s $",
        "XREAD BLOCK 0 STREAMS s >",
    ],
    "wrong_type_inside": ["!list l", "SET s v", "GET l", "SET l v GET", "RENAME l m", "TYPE m"],
    "expiry_inside": ["SET k v EX 100", "GETEX k PX 200000", "PTTL k", "PERSIST k", "TTL k"],
    "unknown_command_aborts": ["SET a 1", "NOSUCH x", "GET a"],
    "wrong_arity_aborts": ["SET a 1", "GET", "GET a"],
    "wrong_subcommand_arity_aborts": ["SET a 1", "CLIENT SETNAME"],
    "command_not_allowed_inside_aborts": ["SET a 1", "SHUTDOWN", "GET a"],
    "empty": [],
    "scripts_inside": [
        "SET a 1",
        "EVAL return(redis.call('INCR',KEYS[1])) 1 a",
        "EVAL return(redis.pcall('INCR',KEYS[1],'x')) 1 a",
        "EVAL return(cjson.encode(redis.pcall('NOSUCH'))) 0",
        "EVAL return(redis.pcall('DEBUG','SLEEP','0')) 0",
        "EVAL return(redis.pcall('LMPOP','9',KEYS[1],'LEFT')) 1 a",
        "EVAL return{double=1.5} 0",
        "EVAL return{map={a=1}} 0",
        "EVAL return{set={a=true}} 0",
        "EVAL return{big_number='12'} 0",
        "EVAL return{verbatim_string={format='txt',string='v'}} 0",
        "EVAL return{err='x'} 0",
        "EVAL return( 0",
        "EVAL return(1) x",
        "EVAL return(1) 5 a",
        "EVAL_RO return(redis.call('SET',KEYS[1],'x')) 1 a",
        "GET a",
    ],
}


def _run(diff: Differential, lines: list[str]) -> None:
    for line in lines:
        if line.startswith("!list"):  # set-up, before MULTI
            diff.put_non_string(words(line)[1], ValueType.LIST)
    assert diff.redis.call(b"MULTI") == b"+OK\r\n"
    queued: list[list[bytes]] = []
    aborted = False
    for line in lines:
        if line.startswith("!"):
            continue
        args = words(line)
        theirs = diff.redis.call(*args)
        error = queue_error(args)
        if error is None:
            assert theirs == b"+QUEUED\r\n", (line, theirs)
            queued.append(args)
        else:
            assert encode_reply(error, diff.protocol) == theirs, line
            aborted = True
    theirs = diff.redis.call(b"EXEC")
    if aborted:
        assert theirs.startswith(b"-EXECABORT Transaction discarded because of previous errors.")
        return
    ours = diff.ours_exec(queued)
    assert _same_but_ttls(ours, theirs), f"\n{theirs!r}\n{ours!r}"


def _same_but_ttls(ours: bytes, theirs: bytes) -> bool:
    """Equal replies, except TTL-sized integers may differ by a second (clocks differ).

    A tolerance, not rounding: rounding to a bucket fails when the two values fall
    on either side of a bucket edge (199999 and 200000 ms)."""
    a, b = ours.split(b"\r\n"), theirs.split(b"\r\n")
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        if not (x.startswith(b":") and y.startswith(b":")):
            return False
        i, j = int(x[1:]), int(y[1:])
        if min(abs(i), abs(j)) <= 1000 or abs(i - j) > 1000:
            return False
    return True


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
def test_exec_replies_match_redis(diff: Differential, name: str) -> None:
    _run(diff, TRANSACTIONS[name])


def test_prepare_queued_defers_argument_errors_to_exec() -> None:
    op = prepare_queued([b"EXPIRE", b"k", b"abc"], 1000)
    assert op == (b"ERRORREPLY", b"ERR value is not an integer or out of range")
    assert queue_error([b"EXPIRE", b"k", b"abc"]) is None


def test_prepare_queued_reports_queue_time_errors() -> None:
    assert prepare_queued([b"GET"], 1000) == Error(
        "ERR wrong number of arguments for 'get' command"
    )
    assert isinstance(queue_error([b"NOSUCH"]), Error)
