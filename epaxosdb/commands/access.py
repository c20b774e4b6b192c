"""Which keys an op reads and writes: the interference relation EPaxos orders by.

Two commands interfere when they share a key and one of them writes it, or
when one is keyspace-wide (KEYS, SCAN, DBSIZE, RANDOMKEY read every key;
FLUSHDB, FLUSHALL write every key), or when they PUBLISH to one channel
(``pubsub.channel_key``; SPUBLISH to one shard channel, ``shard_channel_key``).
Keys come from the table's key specs, so
RENAME writes both its keys and MSET writes every key but none of its
values. A key both read and written counts as written.

A command that counts its keys (``ZUNIONSTORE d 2 a b``, ``ZMPOP 1 k MIN``)
names exactly the keys its count says; XREAD names the keys after its
``STREAMS`` keyword (the first half of what follows it), not its IDs. When
the count is malformed (not an integer, below 1, more keys than arguments)
the command will be refused by its handler and touches nothing, but a
replica computes interference before anyone knows that, and every replica
must compute the same answer: such an op is taken to name every argument
from its first key to the end, with the keynum spec's flags (``_keys``), and
an XREAD whose ``STREAMS`` has a single argument after it, every argument
after its name. That is a superset of any keys the op could mean, it
depends on the op alone, and it stays local: a refused command does not
become keyspace-wide, so a client sending malformed counts cannot force
every other command in flight onto the slow path.

SORT names its key and its STORE destination anywhere among its options
(``KeySpec.finder``), and its BY and GET patterns read keys whose names come
from the elements it sorts (``SORT list BY weight_* GET obj_*->name``): no
argument names them, and which they are depends on the state the op runs
against. Such an op reads the whole keyspace (``global_read``), so it is
ordered against every write; a SORT whose patterns read nothing (``BY
nosort``, ``GET #``) reads only its key.

The consensus layer asks this for every proposed and every received
command, so each command gets a small access function built once from its
row: a constant for keyless and keyspace-wide commands, one tuple index for
the common single-key case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from protocol.messages import EMPTY_ACCESS, Access, AccessUnion, Command

from .pubsub import channel_key, shard_channel_key
from .spec import CommandSpec, KeySpec
from .table import COMMANDS

AccessOf = Callable[[tuple[bytes, ...]], Access]

_GLOBAL_READ = Access(global_read=True)
_GLOBAL_WRITE = Access(global_write=True)
_NOTHING: frozenset[bytes] = frozenset()


def _single_key(spec: CommandSpec) -> bool:
    """Whether the command's keys are one argument at a fixed position."""
    specs = spec.key_specs
    return len(specs) == 1 and specs[0].last == 0 and specs[0].is_legacy_range


def _keys(spec: CommandSpec, op: tuple[bytes, ...]) -> list[tuple[bytes, KeySpec]]:
    """The keys of ``op`` with the spec that names each; a keynum spec whose count is
    malformed names every argument from its first key on (see the module docstring)."""
    found: list[tuple[bytes, KeySpec]] = []
    for key_spec in spec.key_specs:
        positions = key_spec.find(op)
        if positions is None:
            positions = key_spec.after_count(len(op))
        found += [(op[i], key_spec) for i in positions]
    return found


def _builder(spec: CommandSpec) -> AccessOf:
    """The access function for one command, specialised on the shape of its key specs."""
    if "keyspace" in spec.flags:
        constant = _GLOBAL_WRITE if spec.is_write else _GLOBAL_READ
        return lambda op: constant
    if spec.publishes:
        key_of = shard_channel_key if spec.name == b"spublish" else channel_key
        return lambda op: Access(_NOTHING, frozenset((key_of(op[1]),)))
    specs = spec.key_specs
    if not specs:
        return lambda op: EMPTY_ACCESS
    if _single_key(spec):
        index = specs[0].begin
        if specs[0].writes:
            return lambda op: Access(_NOTHING, frozenset(op[index : index + 1]))
        return lambda op: Access(frozenset(op[index : index + 1]), _NOTHING)

    def general(op: tuple[bytes, ...]) -> Access:
        reads: set[bytes] = set()
        writes: set[bytes] = set()
        for key, key_spec in _keys(spec, op):
            (writes if key_spec.writes else reads).add(key)
        return Access(frozenset(reads - writes), frozenset(writes))

    unnamed = [s.unnamed_reads for s in specs if s.unnamed_reads is not None]
    if not unnamed:
        return general

    def beyond_arguments(op: tuple[bytes, ...]) -> Access:
        """SORT: its named keys, and every key when its patterns may read others."""
        access = general(op)
        if any(reads(op) for reads in unnamed):
            return access._replace(global_read=True)
        return access

    return beyond_arguments


def _container_builder(spec: CommandSpec) -> AccessOf:
    """XGROUP and XINFO: the access of the sub-command their op names (``op[1]``)."""
    builders = {sub.upper.partition(b"|")[2]: _builder(sub) for sub in spec.subcommands}

    def access(op: tuple[bytes, ...]) -> Access:
        builder = builders.get(op[1].upper()) if len(op) > 1 else None
        return EMPTY_ACCESS if builder is None else builder(op)

    return access


_BUILDERS: dict[bytes, AccessOf] = {
    spec.upper: (
        _container_builder(spec)
        if any(sub.handler is not None for sub in spec.subcommands)
        else _builder(spec)
    )
    for spec in COMMANDS
}


def _single_key_slot(spec: CommandSpec) -> tuple[int, bool] | None:
    """``(argument index, writes)`` for a command with exactly one key, else ``None``."""
    if "keyspace" in spec.flags or spec.publishes or not _single_key(spec):
        return None
    return spec.key_specs[0].begin, spec.key_specs[0].writes


_SINGLE_KEY: dict[bytes, tuple[int, bool]] = {
    spec.upper: slot for spec in COMMANDS if (slot := _single_key_slot(spec)) is not None
}
"""The one key of GET, SET, INCR...: what nearly every batch is made of."""


def single_key_slot(name: bytes) -> int | None:
    """The argument index of the one key of the op named ``name`` (as proposed, in
    upper case), or ``None`` when it names none or several."""
    slot = _SINGLE_KEY.get(name)
    return None if slot is None else slot[0]


def access_of(op: tuple[bytes, ...]) -> Access:
    """The keys one normalized op reads and writes (an unknown op touches nothing)."""
    builder = _BUILDERS.get(op[0]) or _BUILDERS.get(op[0].upper())
    if builder is None:
        return EMPTY_ACCESS
    return builder(op)


def batch_access(cmds: Sequence[Command]) -> Access:
    """The union of ``command_access`` over a batch, built in one pass.

    The core asks this once per instance, and an instance may batch hundreds
    of commands, each of one op or (a MULTI, a client's pipeline) of many:
    single-key ops add their key straight to the read or write set instead of
    each building an ``Access`` of its own to be merged.
    """
    if len(cmds) == 1 and len(cmds[0].ops) == 1:
        return access_of(cmds[0].ops[0])
    union = AccessUnion()
    reads, writes = union.reads, union.writes
    single = _SINGLE_KEY
    for cmd in cmds:
        for op in cmd.ops:
            slot = single.get(op[0])
            if slot is not None:
                index, is_write = slot
                if index < len(op):
                    (writes if is_write else reads).add(op[index])
                continue
            union.add(access_of(op))
    return union.access()


def command_access(cmd: Command) -> Access:
    """The union of ``access_of`` over a command's ops (a MULTI touches all of them)."""
    return batch_access((cmd,))
