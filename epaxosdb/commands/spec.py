"""What one row of the command table says about a command.

A ``CommandSpec`` is data, in the shape of Redis's ``src/commands/*.json``:
arity, flags, key specs, documentation, and two functions — ``prepare``
(run once, at the proposing replica: validate what does not depend on stored
state, make relative times absolute) and ``handler`` (run on every replica
that executes the command, against the key-value state).

Key specs matter beyond COMMAND INFO: they are the interference relation of
EPaxos. A key whose spec is ``RW``, ``OW`` or ``RM`` is written; ``RO`` only
read. RENAME's destination is ``OW``, so RENAME writes both of its keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from protocol.replies import Error, Reply
from storage.interface import KeyValueView

Handler = Callable[[KeyValueView, tuple[bytes, ...], int, int], Reply]
"""``handler(kv, op, now_ms, seed) -> reply``: pure, deterministic, no clock.

``op`` is the normalized op (``op[0]`` is the upper-case name), ``now_ms``
the command's timestamp (every expiry decision uses it), ``seed`` a number
derived from the command's identity for commands that pick at random.
"""

Prepare = Callable[[Sequence[bytes], int], "tuple[bytes, ...] | Error"]
"""``prepare(args, now_ms) -> op | Error``: runs after the arity check, before proposal."""

WRITE_KEY_FLAGS = frozenset({"RW", "OW", "RM"})


@dataclass(frozen=True, slots=True)
class KeySpec:
    """Where keys sit in the arguments (Redis's ``begin_search: index`` + ``find_keys: range``).

    ``last`` is relative to ``begin``: 0 is one key, ``-1`` runs to the last
    argument (``-2`` to the one before), ``n > 0`` takes ``n`` more arguments.
    """

    begin: int
    last: int = 0
    step: int = 1
    flags: tuple[str, ...] = ("RO",)
    notes: str | None = None
    limit: int = 0

    @property
    def writes(self) -> bool:
        return not WRITE_KEY_FLAGS.isdisjoint(self.flags)

    def positions(self, argc: int) -> range:
        """Indexes of the keys this spec finds in a command of ``argc`` arguments."""
        end = self.begin + self.last if self.last >= 0 else argc + self.last
        return range(self.begin, min(end, argc - 1) + 1, self.step)


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument in COMMAND DOCS: ``type`` is Redis's (``key``, ``string``, ``oneof``...)."""

    name: str
    type: str
    key_spec_index: int = -1
    token: str | None = None
    summary: str | None = None
    since: str | None = None
    flags: tuple[str, ...] = ()
    deprecated_since: str | None = None
    arguments: tuple[Arg, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: everything the front end, the consensus layer and COMMAND need.

    ``flags`` holds Redis's command flags (``write``, ``readonly``, ``fast``,
    ``denyoom``...) plus three of ours: ``keyspace`` (touches the whole
    keyspace: interferes with every write), ``connection`` (answered by the
    front end, never replicated; ``handler`` is ``None``) and ``internal``
    (proposed by replicas themselves, unknown to clients and to COMMAND).
    ``prepare`` is ``None`` when the normalized op is just the arguments with
    the name upper-cased. Sub-commands (``CLIENT SETNAME``) are specs of their
    own, named ``b"client|setname"`` like Redis's full names.
    """

    name: bytes
    arity: int
    flags: frozenset[str]
    handler: Handler | None = None
    prepare: Prepare | None = None
    key_specs: tuple[KeySpec, ...] = ()
    acl_categories: tuple[str, ...] = ()
    tips: tuple[str, ...] = ()
    summary: str = ""
    since: str = ""
    group: str = ""
    complexity: str = ""
    arguments: tuple[Arg, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    doc_flags: tuple[str, ...] = ()
    deprecated_since: str | None = None
    replaced_by: str | None = None
    subcommands: tuple[CommandSpec, ...] = ()
    upper: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "upper", self.name.upper())

    @property
    def first_key(self) -> int:
        """Redis's legacy ``first_key_pos`` (0 when the command takes no keys)."""
        return min((s.begin for s in self.key_specs), default=0)

    @property
    def last_key(self) -> int:
        """Redis's legacy ``last_key_pos``: absolute, or negative counted from the end."""
        if not self.key_specs:
            return 0
        ends = [s.begin + s.last if s.last >= 0 else s.last for s in self.key_specs]
        negative = [e for e in ends if e < 0]
        return min(negative) if negative else max(ends)

    @property
    def key_step(self) -> int:
        if not self.key_specs:
            return 0
        return self.key_specs[0].step if len(self.key_specs) == 1 else 1

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity > 0 else argc >= -self.arity

    def keys(self, args: Sequence[bytes]) -> list[tuple[bytes, KeySpec]]:
        """Every key in ``args`` with the spec that found it, in argument order per spec."""
        argc = len(args)
        return [(args[i], spec) for spec in self.key_specs for i in spec.positions(argc)]

    def subcommand(self, name: bytes) -> CommandSpec | None:
        wanted = self.name + b"|" + name.lower()
        for sub in self.subcommands:
            if sub.name == wanted:
                return sub
        return None

    @property
    def is_write(self) -> bool:
        return "write" in self.flags
