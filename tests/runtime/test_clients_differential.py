"""The front end against a real redis-server 7.0: same bytes in, same bytes out.

Each scenario is sent, on a fresh connection, to Debian's redis-server and to
epaxosdb's front end, followed by a sentinel request. Both must answer with
identical bytes and either both close the connection (a protocol error,
QUIT, an HTTP request) or both answer the sentinel. Client ids, which differ
between the servers, are masked. redis-server must be installed: a missing
one fails the test (see tests/redis_server.py), it is never skipped.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
import trio

from tests.redis_server import RedisServer
from tests.runtime.fakes import RawClient, count_replies, running_server

SENTINEL = b"*2\r\n$4\r\nECHO\r\n$7\r\n__end__\r\n"
SENTINEL_REPLY = b"$7\r\n__end__\r\n"

UNTERMINATED: list[bytes] = [
    b"x" * (64 * 1024 + 10),
    b"*" + b"1" * (64 * 1024 + 10),
    b"*1\r\n$" + b"1" * (64 * 1024 + 10),
]
"""Lines over 64 KB that never end: sent without a sentinel, whose newline would end them.

(Redis reads 16 KB at a time and refuses such a line only once more than
64 KB are buffered without a newline; so a newline arriving in the same read
that crosses 64 KB would make it accept a longer line. We refuse any line
longer than 64 KB, whatever the read boundaries.)"""

SCENARIOS: list[bytes] = [
    # malformed input (ecosystem.md §3)
    b"*abc\r\n",
    b"*2147483648\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$-5\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$536870913\r\n",
    b"*1\r\n:5\r\n",
    b"*1\r\n+OK\r\n",
    b"*1\r\nfoo\r\n",
    b"*1\r\n\r\n",
    b"*01\r\n$4\r\nPING\r\n",
    b"*1\r\n$04\r\nPING\r\n",
    b"*1\r\n*1\r\n$4\r\nPING\r\n",
    b'SET "a b\r\n',
    b'ECHO "a"b\r\n',
    b"POST / HTTP/1.1\r\n",
    b"Host: example.com\r\n",
    # tolerated input
    b"*0\r\n*-1\r\n\r\n \r\nPING\r\n",
    b"*1\r\n$4\r\nPINGxx",
    b"ECHO \"\\x41\\x4a\\n\" 'it\\'s'\r\n",
    b"PING\rfoo\r\n",
    b"FOO bar baz\r\n",
    b"foo\r\n",
    # connection commands
    b"PING\r\nPING hi\r\nPING a b\r\nECHO\r\n",
    b"SELECT 0\r\nSELECT 1\r\nSELECT x\r\nSELECT -1\r\n",
    b"SELECT 99999999999\r\nSELECT -2147483649\r\nSELECT 2147483647\r\n",
    b"SET a 1\r\nCOPY a c DB 1\r\nCOPY a a DB 1\r\nCOPY nokey c DB 5\r\nCOPY a c DB 0\r\n",
    b"HELLO\r\nHELLO 2\r\nHELLO 3\r\nHELLO\r\nHELLO 2\r\n",
    b"HELLO 4\r\nHELLO 0\r\nHELLO x\r\nHELLO 3 FOO\r\nHELLO 3 AUTH default\r\n",
    b'HELLO 3 SETNAME "a b"\r\nHELLO 3 SETNAME me\r\nCLIENT GETNAME\r\n',
    b"AUTH x\r\nAUTH default x\r\nAUTH nobody x\r\nAUTH a b c\r\nAUTH\r\n",
    b"CLIENT\r\nCLIENT FOO\r\nCLIENT ID x\r\nCLIENT GETNAME\r\nCLIENT SETNAME\r\n",
    b'CLIENT SETNAME "a b"\r\nCLIENT SETNAME ok\r\nCLIENT GETNAME\r\nCLIENT SETNAME ""\r\n',
    b"CLIENT GETNAME\r\nCLIENT NO-EVICT on\r\nCLIENT NO-EVICT x\r\n",
    b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\nPING\r\nPING\r\n",
    b"CLIENT REPLY x\r\n",
    b"CLIENT KILL ID x\r\nCLIENT KILL ID 99999\r\nCLIENT KILL 1.2.3.4:5\r\nCLIENT KILL FOO bar\r\n",
    b"CLIENT KILL USER bob\r\nCLIENT KILL ID\r\nCLIENT KILL ADDR 1.2.3.4:5\r\n",
    b"CLIENT LIST TYPE x\r\nCLIENT LIST ID x\r\nCLIENT LIST ID 99999\r\nCLIENT LIST FOO\r\n",
    b"CONFIG\r\nCONFIG FOO\r\nCONFIG GET\r\nCONFIG GET nonexistent\r\nCONFIG GET save\r\n",
    b"CONFIG SET foo bar\r\nCONFIG SET timeout 0 maxclients\r\nCONFIG SET maxclients abc\r\n",
    b"CONFIG SET maxclients 0\r\nCONFIG SET proto-max-bulk-len 10\r\nCONFIG SET maxclients\r\n",
    b"INFO cluster\r\nINFO nonexistent\r\nHELLO 3\r\nINFO cluster\r\n",
    b"QUIT\r\n",
    b"QUIT x\r\n",
    b"RESET\r\nRESET x\r\nTIME x\r\n",
    # WAIT: a single replica has no other replica to count
    b"WAIT\r\nWAIT 1\r\nWAIT x x\r\nWAIT x 0\r\nWAIT 1 x\r\nWAIT 1 -1\r\nWAIT 0 0\r\n"
    b"WAIT -1 0\r\nSET waited v\r\nWAIT 1 1\r\nDEL waited\r\n",
    # pub/sub (each scenario ends unsubscribed, so that the sentinel ECHO may run)
    b"SUBSCRIBE a b\r\nPING\r\nPING hi\r\nGET x\r\nCLIENT ID\r\nSUBSCRIBE a\r\n"
    b"UNSUBSCRIBE a c\r\nUNSUBSCRIBE b\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\n",
    b"PSUBSCRIBE p* q?\r\nPUNSUBSCRIBE x\r\nPUNSUBSCRIBE p*\r\nSUBSCRIBE c\r\n"
    b"PUNSUBSCRIBE q?\r\nUNSUBSCRIBE c\r\n",
    b"HELLO 3\r\nSUBSCRIBE ch\r\nPSUBSCRIBE c*\r\nPUBLISH ch hello\r\nPUBLISH other x\r\n"
    b"GET k\r\nPING\r\nPUBSUB NUMSUB ch nochan\r\nPUBSUB NUMPAT\r\nPUBSUB CHANNELS\r\n"
    b"PUBSUB CHANNELS c*\r\nPUBSUB CHANNELS z*\r\nUNSUBSCRIBE ch\r\nPUNSUBSCRIBE c*\r\n",
    b"PUBSUB\r\nPUBSUB FOO\r\nPUBSUB HELP\r\nPUBSUB NUMSUB\r\nPUBSUB SHARDCHANNELS\r\n"
    b"PUBSUB SHARDNUMSUB a\r\nPUBLISH\r\nPUBLISH a\r\nPUBLISH nobody hears\r\n"
    b"SUBSCRIBE\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\n",
    # (A message published inside the subscriber's own EXEC lands in the middle of
    # Redis's EXEC reply, and before it here: clients cannot tell which command's.)
    b"MULTI\r\nSUBSCRIBE a\r\nEXEC\r\nUNSUBSCRIBE\r\n",
    b"SUBSCRIBE a\r\nRESET\r\nPING\r\n",
    b"HELLO 3\r\nSUBSCRIBE a\r\nHELLO 2\r\nGET x\r\nHELLO 3\r\nGET x\r\nUNSUBSCRIBE\r\n",
    # transactions
    b"EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nDISCARD\r\n",
    b"MULTI\r\nMULTI\r\nWATCH a\r\nEXEC\r\n",
    b"MULTI\r\nSET diff:a 1\r\nFOO\r\nEXEC\r\n",
    b"MULTI\r\nSET diff:a\r\nEXEC\r\n",
    b"MULTI\r\nPING\r\nECHO x\r\nEXEC\r\n",
    b"MULTI\r\nEXEC\r\nHELLO 3\r\nMULTI\r\nEXEC\r\n",
    b"MULTI\r\nRESET\r\nPING\r\n",
    b"MULTI\r\nSET diff:b 1\r\nQUIT\r\n",
    b"WATCH\r\nWATCH a\r\nUNWATCH\r\nUNWATCH x\r\n",
]

_CLIENT_ID = re.compile(rb"\$2\r\nid\r\n:\d+\r\n")


def mask_ids(data: bytes) -> bytes:
    return _CLIENT_ID.sub(b"$2\r\nid\r\n:<id>\r\n", data)


async def exchange(port: int, scenario: bytes, sentinel: bool = True) -> tuple[bytes, bool]:
    """(reply bytes before the sentinel's, whether the server closed the connection)."""
    client = await RawClient.connect(port)
    with contextlib.suppress(trio.BrokenResourceError, OSError):  # closed while sending:
        await client.send(scenario + SENTINEL if sentinel else scenario)  # the replies tell
    output = b""
    closed = False
    while not output.endswith(SENTINEL_REPLY) or count_replies(output) is None:
        chunk = await client.until_closed_or_chunk()
        if not chunk:
            closed = True
            break
        output += chunk
    await client.aclose()
    if not closed:
        output = output[: -len(SENTINEL_REPLY)]
    return mask_ids(output), closed


@pytest.fixture(scope="module")
def reference() -> Iterator[RedisServer]:
    """redis-server with one database, as epaxosdb has (so SELECT 1 is out of range)."""
    server = RedisServer.start("--databases", "1")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[repr(s[:40]) for s in SCENARIOS])
async def test_the_front_end_answers_byte_for_byte_like_redis(
    scenario: bytes, reference: RedisServer
) -> None:
    async with running_server() as server:
        ours = await exchange(server.port, scenario)
    theirs = await exchange(reference.port, scenario)
    assert ours == theirs


@pytest.mark.parametrize("scenario", UNTERMINATED, ids=["inline", "mbulk count", "bulk count"])
async def test_lines_over_64kb_are_refused_like_redis(
    scenario: bytes, reference: RedisServer
) -> None:
    async with running_server() as server:
        ours = await exchange(server.port, scenario, sentinel=False)
    theirs = await exchange(reference.port, scenario, sentinel=False)
    assert ours == theirs
    assert ours[1]
