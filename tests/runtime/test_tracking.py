"""CLIENT TRACKING's table and delivery (``epaxosdb.runtime.tracking``).

The first tests drive ``Tracking`` with stand-in connections, step by step as
the consensus loop does (reads reported as their replies are released, then
the step's changed keys); the last one runs a real front end on a fake
backend to show an invalidation never overtakes a reply the client is still
owed. The behaviour as a whole is compared with redis-server in
``tests/integration/test_client_tracking.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import trio

from epaxosdb.runtime import tracking
from epaxosdb.runtime.tracking import Tracker, Tracking
from protocol.resp import encode_request
from tests.runtime.fakes import IO_TIMEOUT_S, RawClient, running_server


@dataclass
class Conn:
    """A connection as tracking sees one: what it was sent."""

    id: int
    proto: int = 3
    tracker: Tracker | None = None
    subscriptions: int = 0
    sent: list[bytes] = field(default_factory=list)

    def deliver_invalidation(self, message: bytes) -> None:
        self.sent.append(message)


def _invalidate(*keys: bytes) -> bytes:
    return b">2\r\n$10\r\ninvalidate\r\n" + encode_request(keys)


def _setup(*conns: Conn) -> Tracking:
    return Tracking({conn.id: conn for conn in conns})


def test_a_read_key_is_invalidated_once_at_its_next_change() -> None:
    a = Conn(1)
    t = _setup(a)
    t.enable(a, Tracker())
    t.read(1, [b"k", b"other"])
    t.step_done({})  # the step of the read changed nothing: both keys are tracked now
    assert a.sent == [] and set(t.table) == {b"k", b"other"}
    t.step_done({b"k": None, b"x": None})
    assert a.sent == [_invalidate(b"k")]
    t.step_done({b"k": None})  # no longer tracked until read again
    assert a.sent == [_invalidate(b"k")] and set(t.table) == {b"other"}


def test_a_key_changed_in_the_step_of_its_read_is_invalidated_at_once_and_not_kept() -> None:
    """The read may have run before the change in that step: the value could be old."""
    a = Conn(1)
    t = _setup(a)
    t.enable(a, Tracker())
    t.read(1, [b"k"])
    t.step_done({b"k": None})
    assert a.sent == [_invalidate(b"k")] and t.table == {}


def test_an_unknown_change_tells_every_tracking_client_to_drop_everything() -> None:
    a, b, idle = Conn(1), Conn(2, proto=2), Conn(3)
    r = Conn(4, proto=2, subscriptions=1)
    t = _setup(a, b, idle, r)
    t.enable(a, Tracker())
    t.enable(b, Tracker(redirect=4))
    t.read(1, [b"k"])
    t.step_done(None)
    assert a.sent == [b">2\r\n$10\r\ninvalidate\r\n_\r\n"]
    # A RESP2 client's invalidations go to the client it redirects to, as a message on
    # __redis__:invalidate, whose null is RESP2's (Redis 7.0 formats it for the tracker).
    assert r.sent == [b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"]
    assert idle.sent == [] and b.sent == [] and t.table == {}


def test_a_resp2_client_without_redirect_hears_nothing_and_a_broken_redirect_says_so() -> None:
    plain, orphan = Conn(1, proto=2), Conn(2, proto=3)
    t = _setup(plain, orphan)
    t.enable(plain, Tracker())
    t.enable(orphan, Tracker(redirect=99))
    t.read(1, [b"k"])
    t.read(2, [b"k"])
    t.step_done({})
    t.step_done({b"k": None})
    assert plain.sent == []
    assert orphan.sent == [b">2\r\n$21\r\ntracking-redir-broken\r\n:99\r\n"]
    assert orphan.tracker is not None and orphan.tracker.broken_redirect


def test_broadcast_sends_each_prefix_its_changed_keys_in_order() -> None:
    a, everything = Conn(1), Conn(2)
    t = _setup(a, everything)
    t.enable(a, Tracker(bcast=True, prefixes=[b"user:", b"q"]))
    t.enable(everything, Tracker(bcast=True, prefixes=[b""]))
    t.step_done({b"user:2": None, b"zz": None, b"q1": None, b"user:1": None})
    assert a.sent == [_invalidate(b"q1"), _invalidate(b"user:1", b"user:2")]
    assert everything.sent == [_invalidate(b"q1", b"user:1", b"user:2", b"zz")]
    t.disable(a)
    assert set(t.prefixes) == {b""}


def test_a_client_that_stopped_tracking_is_not_told_of_keys_it_read() -> None:
    a = Conn(1)
    t = _setup(a)
    t.enable(a, Tracker())
    t.read(1, [b"k"])
    t.step_done({})
    t.disable(a)
    t.step_done({b"k": None})
    assert a.sent == [] and t.trackers == 0


def test_noloop_spares_a_client_only_the_keys_it_alone_wrote_and_keeps_them_tracked() -> None:
    mine, other = Conn(1), Conn(2)
    t = _setup(mine, other)
    t.enable(mine, Tracker(noloop=True))
    t.enable(other, Tracker())
    t.read(1, [b"own", b"shared", b"swept"])
    t.read(2, [b"own"])
    t.step_done({})
    authors: dict[bytes, set[int | None]] = {b"own": {1}, b"shared": {1, None}}
    t.step_done({b"own": None, b"shared": None, b"swept": None}, authors)
    # "swept" has no author: the expiry (or a command declaring no write) deleted it.
    assert mine.sent == [_invalidate(b"shared"), _invalidate(b"swept")]
    assert other.sent == [_invalidate(b"own")]
    assert t.table == {b"own": {1}}  # Redis forgets it; here a later change still reaches it
    t.step_done({b"own": None}, {b"own": {None}})
    assert mine.sent[-1] == _invalidate(b"own") and t.noloop == 1


def test_noloop_in_broadcast_leaves_out_only_the_clients_own_keys() -> None:
    mine = Conn(1)
    t = _setup(mine)
    t.enable(mine, Tracker(bcast=True, noloop=True, prefixes=[b""]))
    t.step_done({b"a": None, b"b": None}, {b"a": {1}, b"b": {None}})
    t.step_done({b"a": None}, {b"a": {1}})
    assert mine.sent == [_invalidate(b"b")]


def test_past_the_table_limit_the_oldest_keys_are_invalidated_and_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracking, "TABLE_MAX_KEYS", 3)
    a = Conn(1)
    t = _setup(a)
    t.enable(a, Tracker())
    t.read(1, [b"k1", b"k2", b"k3", b"k4", b"k5"])
    t.step_done({})
    assert a.sent == [_invalidate(b"k1"), _invalidate(b"k2")]
    assert list(t.table) == [b"k3", b"k4", b"k5"]


def test_options_are_checked_in_redis_order() -> None:
    clients = {1: object(), 2: object()}

    def request(*args: bytes, current: Tracker | None = None) -> object:
        return tracking.tracking_request([b"CLIENT", b"TRACKING", *args], current, clients)

    assert request(b"on", b"redirect", b"7") == tracking.REDIRECT_MISSING
    assert request(b"on", b"redirect", b"x") == tracking.NOT_INTEGER
    assert request(b"on", b"redirect", b"1", b"redirect", b"2") == tracking.ONE_REDIRECT
    assert request(b"on", b"prefix", b"a") == tracking.PREFIX_NEEDS_BCAST
    assert request(b"on", b"bcast", b"optin") == tracking.BCAST_NOT_OPT
    assert request(b"on", b"optin", b"optout") == tracking.OPTIN_AND_OPTOUT
    assert request(b"on", b"optout", current=Tracker(optin=True)) == tracking.SWITCH_OPT
    assert request(b"on", b"bcast", current=Tracker()) == tracking.SWITCH_BCAST
    assert request(b"maybe") == tracking.SYNTAX
    assert request(b"on", b"noloop", b"extra") == tracking.SYNTAX
    overlap = request(b"on", b"bcast", b"prefix", b"ab", b"prefix", b"a")
    assert isinstance(overlap, tracking.Error)
    assert "'ab' overlaps with another provided prefix 'a'" in overlap.text
    existing = request(b"on", b"bcast", b"prefix", b"abc", current=Tracker(True, prefixes=[b"ab"]))
    assert isinstance(existing, tracking.Error)
    assert "'abc' overlaps with an existing prefix 'ab'" in existing.text
    assert request(b"off") is None
    assert request(b"on", b"bcast") == Tracker(bcast=True, prefixes=[b""])
    grown = request(b"on", b"bcast", b"prefix", b"b", current=Tracker(True, prefixes=[b"a"]))
    assert grown == Tracker(bcast=True, prefixes=[b"a", b"b"])


async def test_an_invalidation_never_overtakes_a_reply_the_client_is_still_owed() -> None:
    """GET k completes before GET slow (held) does: its reply waits for GET slow's; an
    invalidation of k from a later step must come after it, not be pushed ahead."""
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("HELLO", "3")
        assert await client.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
        server.backend.hold = True
        await client.send(encode_request(["GET", "slow"]) + encode_request(["GET", "k"]))
        with trio.fail_after(IO_TIMEOUT_S):
            await server.backend.wait_held(2)
        held = server.backend.held
        slow, fast = held
        registry = server.registry
        with registry.reply_batch():  # a step runs GET k only
            fast[1](server.backend.execute(fast[0]))
            registry.tracking.step_done({})
        with registry.reply_batch():  # a later step changes k
            registry.tracking.step_done({b"k": None})
        with registry.reply_batch():
            slow[1](server.backend.execute(slow[0]))
            registry.tracking.step_done({})
        assert await client.replies(3) == b"_\r\n_\r\n" + _invalidate(b"k")
