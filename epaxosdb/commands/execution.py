"""Running committed commands against the key-value state: ``execute``.

Execution is a pure function of (state, command): handlers read no clock —
``cmd.time_ms`` is "now" for every expiry decision — and no global random
source — RANDOMKEY seeds from ``(cmd.origin, cmd.id)``. So every replica
that executes a write ends in the same state with the same reply. Read-only
commands' handlers run only at the replica that proposed them.

Time must not run backwards along the agreed order of a key. Each command
is judged against its own proposer's clock, and consensus may order a
command stamped a few milliseconds earlier (a PERSIST sent just before the
deadline, through one replica) after one stamped later (a GET through
another, which found the key expired). If the key were still stored, the
PERSIST would find it alive and keep it: the GET said the key was gone,
then it is back, with no write in between — not linearizable. So before
an op runs, every key it names that is expired at its timestamp is deleted
(``settle_expiry``), reads included, and at every replica, read-only
commands included: a key that one command in the order saw expired is gone
for every command after it, whatever their stamps. This is Redis's lazy
expiry (a master that finds a key expired on access deletes it and
replicates the DEL), made part of the replicated state machine. Commands
whose outcome cannot depend on whether a key expired (a plain SET, MSET,
DEL, FLUSHALL...) skip it: their result and final state are the same
either way.

Keys removed that way, and the expired ones a blind op overwrites or deletes
(Redis's lookup deletes those first too), are counted in the ``Tally`` the
caller passes (INFO ``expired_keys``), as are the lookups of the proposer's
commands (``keyspace_hits``/``keyspace_misses``, see ``tally``).

This is the hot path: one dict lookup and one call per op. While nothing
stored can be expired yet (``kv.expiry_floor()`` is after the command's
time) no key is looked at, counted or not.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

from protocol.messages import Command
from protocol.replies import NULL_ARRAY, Reply
from storage.interface import KeyValueView

from . import errors, functions, scripting, workspace
from .access import access_of, single_key_slot
from .expiry import SWEEP
from .notifications import Notices
from .spec import CommandSpec, Handler
from .table import COMMANDS, WRITES
from .tally import LOOKUPS, Judge, Tally, by_reply, in_script, judge_of, null_is_miss
from .values import is_expired
from .watch import WATCHCHECK, unchanged
from .workspace import Workspace, workspace_for


def _sub_name(sub: CommandSpec) -> bytes:
    return sub.upper.partition(b"|")[2]


_CONTAINERS: dict[bytes, dict[bytes, CommandSpec]] = {
    spec.upper: {_sub_name(sub): sub for sub in spec.subcommands}
    for spec in COMMANDS
    if any(sub.handler is not None for sub in spec.subcommands)
}
"""XGROUP and XINFO: containers whose sub-commands are data commands. Their ops are
``(CONTAINER, sub, ...)``: the sub-command in any case."""


def _container_handler(subs: dict[bytes, CommandSpec]) -> Handler:
    handlers = {name: sub.handler for name, sub in subs.items() if sub.handler is not None}

    def handler(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        sub = handlers.get(op[1].upper()) if len(op) > 1 else None
        return errors.unknown_command(op) if sub is None else sub(kv, op, now_ms, seed)

    return handler


_HANDLERS: dict[bytes, Handler] = {
    spec.upper: spec.handler for spec in COMMANDS if spec.handler is not None
}
_HANDLERS.update({name: _container_handler(subs) for name, subs in _CONTAINERS.items()})
_READS: frozenset[bytes] = frozenset(
    spec.upper for spec in COMMANDS if not spec.runs_everywhere and spec.upper not in _CONTAINERS
)
_SUB_WRITES: dict[bytes, frozenset[bytes]] = {
    name: frozenset(sub_name for sub_name, sub in subs.items() if sub.runs_everywhere)
    for name, subs in _CONTAINERS.items()
}


_BLIND: frozenset[bytes] = frozenset(
    (b"SETEX", b"PSETEX", b"MSET", b"DEL", b"UNLINK", b"FLUSHDB", b"FLUSHALL", SWEEP)
).union(spec.upper for spec in COMMANDS if spec.publishes)
"""Ops whose reply and effect do not depend on whether a key they name is expired
(they overwrite or delete it regardless, or name no key), plus ``DELEXPIRED``,
whose reply counts the expired keys it deletes itself. A plain ``SET k v`` is
blind too; with options it is not (``XX``, ``NX``, ``GET``, ``KEEPTTL`` look)."""


_OVERWRITTEN: dict[bytes, slice] = {
    b"SET": slice(1, 2),
    b"SETEX": slice(1, 2),
    b"PSETEX": slice(1, 2),
    b"MSET": slice(1, None, 2),
    b"DEL": slice(1, None),
    b"UNLINK": slice(1, None),
}
"""The keys of the blind ops that overwrite or delete keys. Their reply and effect are the
same whether an expired one among them is removed first or not, but Redis removes it
first (their ``lookupKeyWrite``, DEL's ``expireIfNeeded``) and counts it expired: so
does ``settle_expiry``, once the keyspace holds anything expired. FLUSHDB and FLUSHALL
drop expired keys with the rest, uncounted, as Redis does; ``DELEXPIRED`` counts what
it deletes (``_count_swept``)."""


def _drop_if_expired(
    kv: KeyValueView, key: bytes, now_ms: int, notices: Notices | None, tally: Tally | None
) -> None:
    header = kv.header(key)  # not ``get``: every replica runs this, for every op naming the key
    if header is not None and is_expired(header, now_ms):
        kv.delete(key)
        if notices is not None:
            notices.expired(key)
        if tally is not None:
            tally.expired += 1


def _settle_blind(
    kv: KeyValueView,
    op: tuple[bytes, ...],
    now_ms: int,
    notices: Notices | None,
    tally: Tally | None,
) -> None:
    """Remove the expired keys a blind op is about to overwrite or delete, as Redis's
    lookup does (a key it names twice, ``MSET k 1 k 2``, is found expired once); count
    those ``DELEXPIRED`` is about to delete."""
    name = op[0] if op[0] in _BLIND else op[0].upper()
    if name == SWEEP:
        if tally is not None:
            _count_swept(kv, op, now_ms, tally)
        return
    where = _OVERWRITTEN.get(name)
    if where is not None:
        for key in op[where]:
            _drop_if_expired(kv, key, now_ms, notices, tally)


def _count_swept(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally) -> None:
    """The keys ``DELEXPIRED`` will delete (its handler deletes them: its reply says how
    many; the sweep lists each key once)."""
    for key in op[1:]:
        header = kv.header(key)
        if header is not None and is_expired(header, now_ms):
            tally.expired += 1


def settle_expiry(
    kv: KeyValueView,
    op: tuple[bytes, ...],
    now_ms: int,
    notices: Notices | None = None,
    tally: Tally | None = None,
) -> None:
    """Delete what ``op`` would find expired at ``now_ms``: each key it names, or —
    for a keyspace-wide op (KEYS, SCAN, DBSIZE, RANDOMKEY) — every key. See the
    module docstring for why; every replica runs this for every op, in order.
    A blind op (``_BLIND``) needs none of this, but the expired keys it overwrites
    or deletes are removed here too (``_OVERWRITTEN``), so that they are heard of and
    counted as in Redis. ``notices`` hears of each key deleted (keyspace
    notifications); ``tally`` counts them."""
    if kv.expiry_floor() <= now_ms:
        _settle(kv, op, now_ms, notices, tally)


def _settle(
    kv: KeyValueView,
    op: tuple[bytes, ...],
    now_ms: int,
    notices: Notices | None,
    tally: Tally | None,
) -> None:
    """``settle_expiry`` once the caller found that something stored may be expired."""
    name = op[0]
    if name in _BLIND or (name == b"SET" and len(op) == 3):
        _settle_blind(kv, op, now_ms, notices, tally)
        return
    slot = single_key_slot(name)
    if slot is not None:
        if slot < len(op):
            _drop_if_expired(kv, op[slot], now_ms, notices, tally)
        return
    if name.upper() in _BLIND:
        _settle_blind(kv, op, now_ms, notices, tally)
        return
    access = access_of(op)
    if access.global_read or access.global_write:
        for key in kv.expiring(now_ms, kv.count()):
            kv.delete(key)
            if notices is not None:
                notices.expired(key)
            if tally is not None:
                tally.expired += 1
        return
    for key in access.reads:
        _drop_if_expired(kv, key, now_ms, notices, tally)
    for key in access.writes:
        _drop_if_expired(kv, key, now_ms, notices, tally)


def settle_expiry_of(
    kv: KeyValueView, cmd: Command, notices: Notices | None = None, tally: Tally | None = None
) -> None:
    """``settle_expiry`` for every op of ``cmd``, before any of them runs.

    A MULTI settles all its ops up front, whether or not its WATCH check lets
    them run, so that a read-only command another replica proposed — whose
    handlers run only there — is settled here by this call alone, with the
    same effect. (No handler stores a value already expired at its own
    time, so settling up front and settling op by op agree.) ``tally``
    counts the keys removed (``settle_expiry``).
    """
    now_ms = cmd.time_ms
    if kv.expiry_floor() > now_ms:
        return  # nothing stored can be expired yet: the common case, checked once
    for op in cmd.ops:
        _settle(kv, op, now_ms, notices, tally)


def execute(
    kv: KeyValueView,
    cmd: Command,
    lap: Callable[[int], None] | None = None,
    notices: Notices | None = None,
    tally: Tally | None = None,
    reads: Tally | None = None,
    guard: scripting.Guard | None = None,
) -> Reply:
    """Run ``cmd.ops`` in order; a MULTI replies with the list of its ops' replies.

    ``lap(index)``, if given, is called after each op of a MULTI (or of a
    pipelined run) has run: the runtime times them for SLOWLOG, op by op.
    ``notices``, if given, gathers the keyspace events the ops cause
    (``notifications``), each with the index of its op's reply.
    ``tally``, if given, counts the keys removed because they expired (every
    replica passes one: each removes the same keys); ``reads`` counts the
    ops' lookups of keys for reading, hits and misses (``tally``): only the
    replica that proposed ``cmd`` passes it, where its client sees the reply.
    ``guard``, if given, refuses inside a read-only script (EVAL_RO) the commands the
    client's user may not run: only the proposer runs such a script, so its user's
    rules apply there alone (a script every replica runs is checked before it is
    proposed, see ``runtime.acl``).

    A run-time error inside a MULTI is that item's reply; the other ops still
    run, as in Redis. A MULTI whose first op is ``WATCHCHECK`` (EXEC after
    WATCH) runs nothing and replies the null array when a watched key
    changed; otherwise its reply leaves the check's out, so it lines up with
    the commands the client queued. Deciding here, inside the replicated
    command, is what makes every replica decide the same (see ``watch``).
    """
    now_ms = cmd.time_ms
    seed = (cmd.origin << 64) | cmd.id
    if not cmd.multi:
        (op,) = cmd.ops
        handler = _HANDLERS.get(op[0]) or _HANDLERS.get(op[0].upper())
        if handler is None:
            return errors.unknown_command(op)
        if kv.expiry_floor() <= now_ms:  # else nothing stored can be expired: most ops
            _settle(kv, op, now_ms, notices, tally)
        judge: Judge | None = None  # tells the op's lookups from its reply (``tally``)
        if reads is not None:
            # Cheap for the commonest commands: a SET finds no rule, GET's is known by sight.
            name = op[0]
            if name in LOOKUPS:
                rule = LOOKUPS[name]
                if rule is by_reply:
                    judge = null_is_miss
                elif rule is in_script:
                    handler = _scripted(handler, op, None, reads, guard)
                else:
                    judge = rule(kv, op, now_ms, reads)
            elif len(op) > 3 and name == b"SET":
                judge = judge_of(kv, op, now_ms, reads)
        before = None
        if notices is not None:
            before = notices.before(kv, op, now_ms)
            handler = _scripted(handler, op, notices, reads, guard)
        elif guard is not None and reads is None:
            handler = _scripted(handler, op, None, None, guard)
        if workspace.AUDIT:  # the tests check every handler's contract, op by op
            reply = _audited(kv, handler, op, now_ms, seed)
        else:
            reply = handler(kv, op, now_ms, seed)
        if judge is not None and reads is not None:
            if judge is null_is_miss and reads.missed is None:  # inlined for GET's sake
                if reply is None:
                    reads.misses += 1
                else:
                    reads.hits += 1
            else:
                judge(kv, op, reply, now_ms, reads)
        if notices is not None:
            if reads is not None and reads.missed:
                notices.missed(reads.missed)
            notices.after(kv, op, reply, before)
        return reply
    if type(kv) is Workspace or not (workspace.AUDIT or holds_collections(cmd)):
        return _execute_ops(kv, cmd, lap, notices, tally, reads, guard)
    with Workspace(kv) as ws:
        return _execute_ops(ws, cmd, lap, notices, tally, reads, guard)


HOLDING: frozenset[bytes] = frozenset(
    spec.upper
    for spec in COMMANDS
    if spec.group in ("hash", "list", "set", "sorted-set", "geo", "stream", "scripting")
)
"""Commands that may keep a hash, list, set, sorted set or stream in a ``Workspace``: a step
or a MULTI with none of them runs without one (a GET through a workspace costs a
fifth more to execute). A command missing here would only run without one: slower
for a big collection, never wrong."""


def holds_collections(cmd: Command) -> bool:
    """Whether any op of ``cmd`` is among ``HOLDING``."""
    return not HOLDING.isdisjoint([op[0] for op in cmd.ops])


def is_keyspace_wide(cmd: Command) -> bool:
    """Whether any op of ``cmd`` reads or writes the whole keyspace (KEYS, SCAN, DBSIZE,
    FLUSHALL...), as its settling of expired keys does too: a step holding one may have
    to run again inside a transaction (``storage.buffered.NeedsTransaction``)."""
    for op in cmd.ops:
        if single_key_slot(op[0]) is None:
            access = access_of(op)
            if access.global_read or access.global_write:
                return True
    return False


_SCRIPTS = {
    b"EVAL": scripting.run_script,
    b"EVAL_RO": scripting.run_script,
    b"FCALL": functions.fcall,
    b"FCALL_RO": functions.fcall,
}
"""What EVAL, EVALSHA, FCALL and their read-only forms are proposed as, and what runs each."""
_READ_ONLY_SCRIPTS = frozenset((b"EVAL_RO", b"FCALL_RO"))


def _scripted(
    handler: Handler,
    op: tuple[bytes, ...],
    notices: Notices | None,
    reads: Tally | None,
    guard: scripting.Guard | None = None,
) -> Handler:
    """``handler``, or for a script one that tells ``notices`` of every command it runs
    (their events are the script's: Redis sends them as each runs), counts their
    lookups in ``reads``, and has ``guard`` refuse the commands its client's user may
    not run (a read-only script: see ``execute``)."""
    if op[0] not in _SCRIPTS or (notices is None and reads is None and guard is None):
        return handler
    read_only = op[0] in _READ_ONLY_SCRIPTS
    if not read_only:
        guard = None  # a script every replica runs is checked before it is proposed
    run = _SCRIPTS[op[0]]

    def script(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        return run(
            kv, op, now_ms, seed, read_only=read_only, notices=notices, reads=reads, guard=guard
        )

    return script


def _audited(
    kv: KeyValueView, handler: Handler, op: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    """One op in a workspace (the step's, or its own) whose audit checks it after."""
    ws, own = workspace_for(kv)
    with ws if own else nullcontext():
        reply = handler(ws, op, now_ms, seed)
        ws.op_done(op)
    return reply


def _execute_ops(
    kv: KeyValueView,
    cmd: Command,
    lap: Callable[[int], None] | None,
    notices: Notices | None = None,
    tally: Tally | None = None,
    reads: Tally | None = None,
    guard: scripting.Guard | None = None,
) -> Reply:
    """``execute`` of a MULTI or a pipelined run, in a workspace when it changes
    collections: one its ops change again and again is encoded once (see
    ``workspace``)."""
    now_ms = cmd.time_ms
    seed = (cmd.origin << 64) | cmd.id
    ops = cmd.ops
    if notices is not None:
        notices.op = -1
    settle_expiry_of(kv, cmd, notices, tally)
    first = 0
    if ops and ops[0][0] == WATCHCHECK:
        if not unchanged(kv, ops[0], now_ms):
            return NULL_ARRAY
        first = 1
    replies: list[Reply] = []
    reply = replies.append
    handlers = _HANDLERS
    seed <<= 16  # each op's seed is this plus its index
    for index in range(first, len(ops)):
        op = ops[index]
        handler = handlers.get(op[0]) or handlers.get(op[0].upper())
        if handler is None:
            reply(errors.unknown_command(op))
        else:
            judge = None if reads is None else judge_of(kv, op, now_ms, reads)
            if notices is not None:
                notices.op = len(replies)
                before = notices.before(kv, op, now_ms)
            if op[0] in _SCRIPTS and (
                notices is not None or reads is not None or guard is not None
            ):  # tested here, not only in ``_scripted``: this runs for every op of a run
                handler = _scripted(handler, op, notices, reads, guard)
            reply(handler(kv, op, now_ms, seed + index))
            if judge is not None and reads is not None:
                judge(kv, op, replies[-1], now_ms, reads)
            if notices is not None:
                if reads is not None and reads.missed:
                    notices.missed(reads.missed)
                notices.after(kv, op, replies[-1], before)
            if workspace.AUDIT and type(kv) is Workspace:
                kv.op_done(op)
        if lap is not None:
            lap(index)
    return replies


def is_read_only(cmd: Command) -> bool:
    """True when no op of ``cmd`` can change the state or publish (only its proposer
    runs its handlers; the others only ``settle_expiry_of`` it)."""
    for op in cmd.ops:
        name = op[0]
        if name in WRITES or (name not in _READS and name.upper() in WRITES):
            return False
        sub_writes = _SUB_WRITES.get(name.upper()) if name not in _READS else None
        if sub_writes and len(op) > 1 and op[1].upper() in sub_writes:
            return False
    return True
