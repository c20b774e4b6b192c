"""SPUBLISH as a command: replicated like PUBLISH, marked for shard subscribers alone.

Delivery itself (who receives what) is the runtime's, tested in
tests/runtime/test_sharded_pubsub.py; here, what the handler answers, how it
is ordered, and that scripts refuse it as they refuse PUBLISH.
"""

from __future__ import annotations

from epaxosdb.commands import command_access, is_read_only, scripting
from epaxosdb.commands.pubsub import ShardChannel, shard_channel_key
from protocol.messages import Command
from protocol.replies import Error, Published
from storage.memory import MemoryStore
from tests.commands.differential import Model
from tests.commands.test_execution import T0, run


def test_spublish_runs_on_every_replica_changes_nothing_and_answers_a_shard_message() -> None:
    store = MemoryStore()
    cmd = Command(origin=1, id=1, time_ms=T0, ops=((b"SPUBLISH", b"ch", b"hello"),))
    assert not is_read_only(cmd)  # every replica delivers to its own shard subscribers
    reply = run(store, T0, (b"SPUBLISH", b"ch", b"hello"))
    assert reply == Published(b"ch", b"hello")
    assert isinstance(reply, Published) and type(reply.channel) is ShardChannel
    assert store.kv_items() == []


def test_publish_answers_a_plain_channel_so_shard_subscribers_never_get_it() -> None:
    reply = run(MemoryStore(), T0, (b"PUBLISH", b"ch", b"hello"))
    assert isinstance(reply, Published) and type(reply.channel) is bytes


def test_spublishes_to_one_channel_interfere_and_name_no_data_key() -> None:
    def access(*ops: tuple[bytes, ...]) -> frozenset[bytes]:
        cmd = Command(origin=1, id=1, time_ms=T0, ops=ops, multi=len(ops) > 1)
        result = command_access(cmd)
        assert not result.reads
        return result.writes

    assert access((b"SPUBLISH", b"ch", b"a")) == {shard_channel_key(b"ch")}
    assert access((b"SPUBLISH", b"ch", b"a")).isdisjoint(access((b"SPUBLISH", b"other", b"a")))
    both = access((b"SPUBLISH", b"ch", b"a"), (b"SET", b"k", b"v"))
    assert both == {shard_channel_key(b"ch"), b"k"}
    assert b"ch" not in access((b"SPUBLISH", b"ch", b"a"))
    # A namespace of its own, as its subscribers have: not ordered against PUBLISH.
    assert access((b"SPUBLISH", b"ch", b"a")).isdisjoint(access((b"PUBLISH", b"ch", b"a")))


def test_spublish_is_refused_in_scripts_as_publish_is() -> None:
    """Redis lets a script SPUBLISH; here a script is ordered by the keys it declares,
    not by channels, and what its calls answer goes back to Lua, not to delivery:
    refused, as PUBLISH is (and SSUBSCRIBE and SUNSUBSCRIBE, as in Redis)."""
    model = Model()
    for name in (b"SPUBLISH", b"SSUBSCRIBE", b"SUNSUBSCRIBE"):
        args = b"KEYS[1], 'm'" if name == b"SPUBLISH" else b"KEYS[1]"
        body = b"return redis.call('" + name + b"', " + args + b")"
        reply = model.call([b"EVAL", body, b"1", b"ch"])
        assert isinstance(reply, Error) and reply.text.startswith(scripting.NOT_ALLOWED), name
