"""Which keys an op reads and writes: the interference relation EPaxos orders by.

Two commands interfere when they share a key and one of them writes it, or
when one is keyspace-wide (KEYS, SCAN, DBSIZE, RANDOMKEY read every key;
FLUSHDB, FLUSHALL write every key). Keys come from the table's key specs, so
RENAME writes both its keys and MSET writes every key but none of its
values. A key both read and written counts as written.
"""

from __future__ import annotations

from protocol.messages import EMPTY_ACCESS, Access, Command

from .table import BY_OP_NAME, lookup

_GLOBAL_READ = Access(global_read=True)
_GLOBAL_WRITE = Access(global_write=True)


def access_of(op: tuple[bytes, ...]) -> Access:
    """The keys one normalized op reads and writes."""
    spec = BY_OP_NAME.get(op[0]) or lookup(op[0])
    if spec is None:
        return EMPTY_ACCESS
    if "keyspace" in spec.flags:
        return _GLOBAL_WRITE if spec.is_write else _GLOBAL_READ
    specs = spec.key_specs
    if not specs:
        return EMPTY_ACCESS
    if len(specs) == 1 and specs[0].last == 0:
        only = specs[0]
        found = frozenset((op[only.begin],)) if len(op) > only.begin else frozenset()
        return Access(writes=found) if only.writes else Access(reads=found)
    reads: set[bytes] = set()
    writes: set[bytes] = set()
    for key, key_spec in spec.keys(op):
        (writes if key_spec.writes else reads).add(key)
    return Access(reads=frozenset(reads - writes), writes=frozenset(writes))


def command_access(cmd: Command) -> Access:
    """The union of ``access_of`` over a command's ops (a MULTI touches all of them)."""
    ops = cmd.ops
    if len(ops) == 1:
        return access_of(ops[0])
    total = EMPTY_ACCESS
    for op in ops:
        total = total.union(access_of(op))
    return total
