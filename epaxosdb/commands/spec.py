"""What one row of the command table says about a command.

A ``CommandSpec`` is data, in the shape of Redis's ``src/commands/*.json``:
arity, flags, key specs, documentation, and two functions — ``prepare``
(run once, at the proposing replica: validate what does not depend on stored
state, make relative times absolute) and ``handler`` (run on every replica
that executes the command, against the key-value state).

Key specs matter beyond COMMAND INFO: they are the interference relation of
EPaxos. A key whose spec is ``RW``, ``OW`` or ``RM`` is written; ``RO`` only
read. RENAME's destination is ``OW``, so RENAME writes both of its keys.

Most specs are a range of argument positions. ZUNION, ZMPOP, SINTERCARD and
their kin name their keys with a count instead (``ZUNION 2 a b WEIGHTS 1 2``):
a ``keynum`` spec, whose keys depend on what the count argument says. XREAD's
keys follow a keyword (``XREAD COUNT 5 STREAMS a b 0 0``): a ``keyword`` spec,
whose keys start after the first argument that spells it. SORT's STORE destination may
sit anywhere among its options, and its BY and GET patterns make key names out of the
stored elements: Redis marks both specs ``unknown``, and a ``finder`` of SORT's own reads
the arguments (``KeySpec.finder``, ``KeySpec.unnamed_reads``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from protocol.replies import Error, Reply
from storage.interface import KeyValueView

from .errors import c_string
from .integers import parse_ll

Handler = Callable[[KeyValueView, tuple[bytes, ...], int, int], Reply]
"""``handler(kv, op, now_ms, seed) -> reply``: pure, deterministic, no clock.

``op`` is the normalized op (``op[0]`` is the upper-case name), ``now_ms``
the command's timestamp (every expiry decision uses it), ``seed`` a number
derived from the command's identity for commands that pick at random.
"""

Prepare = Callable[[Sequence[bytes], int], "tuple[bytes, ...] | Error"]
"""``prepare(args, now_ms) -> op | Error``: runs after the arity check, before proposal."""

WRITE_KEY_FLAGS = frozenset({"RW", "OW", "RM"})


def preparing(parse: Callable[[Sequence[bytes]], object]) -> Prepare:
    """A ``prepare`` that refuses what ``parse`` refuses (an ``Error``) and otherwise
    upper-cases the name: for commands whose whole check is a request parser."""

    def prepare(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
        parsed = parse(args)
        if isinstance(parsed, Error):
            return parsed
        return (args[0].upper(), *args[1:])

    return prepare


@dataclass(frozen=True, slots=True)
class KeySpec:
    """Where keys sit in the arguments: Redis's ``begin_search: index`` (or, when
    ``keyword`` is set, ``begin_search: keyword``) followed by ``find_keys: range`` or,
    when ``keynumidx`` is set, ``find_keys: keynum``.

    A range: ``last`` is relative to ``begin``: 0 is one key, ``-1`` runs to the
    last argument (``-2`` to the one before), ``n > 0`` takes ``n`` more arguments.
    With a ``limit`` (only with ``last == -1``), the range covers the first
    ``1/limit`` of what follows its start: XREAD's keys are the first half of the
    arguments after ``STREAMS``, its IDs the second half.

    A keynum: the number of keys is the argument at ``begin + keynumidx``, and
    the keys start at ``begin + firstkey``, every ``step`` arguments (``last``
    is unused).

    A keyword search: ``begin`` is Redis's ``startfrom``; the range starts right after
    the first argument that equals ``keyword`` (case-insensitively, up to a NUL), looked
    for from ``startfrom`` up to the argument before the last (from ``argc + startfrom``
    down to argument 1 when ``startfrom`` is negative).
    """

    begin: int
    last: int = 0
    step: int = 1
    flags: tuple[str, ...] = ("RO",)
    notes: str | None = None
    limit: int = 0
    keynumidx: int | None = None
    firstkey: int = 1
    zero_keys: bool = False
    """A keynum spec whose count may be 0: EVAL's keys are optional (Redis's
    ``no_mandatory_keys``), ZUNION's are not."""
    keyword: str | None = None
    """Set for ``begin_search: keyword`` (XREAD's ``STREAMS``); ``begin`` is then its
    ``startfrom``."""
    written: bool = False
    """Written though Redis flags the keys ``RO``: XREADGROUP moves its groups' last
    delivered IDs and fills their pending entries lists, so for EPaxos it writes them."""
    finder: Callable[[Sequence[bytes]], range] | None = None
    """Set for Redis's ``begin_search: unknown`` (SORT's specs), whose keys neither a
    position nor a keyword finds: the command's own search of its arguments, as Redis
    falls back to the command's ``getkeys_proc``."""
    flags_of: Callable[[Sequence[bytes]], tuple[str, ...]] | None = None
    """For a ``variable_flags`` spec: the key's flags in one call, as COMMAND
    GETKEYSANDFLAGS reports them (Redis's ``getkeys_proc``: SET's depend on GET,
    BITFIELD's on whether anything but GET appears)."""
    unnamed_reads: Callable[[Sequence[bytes]], bool] | None = None
    """Whether a call reads keys that none of its arguments name (SORT's BY and GET
    patterns make key names out of stored elements): ``access`` then orders it against
    every write, and scripts refuse it."""

    @property
    def writes(self) -> bool:
        return self.written or not WRITE_KEY_FLAGS.isdisjoint(self.flags)

    @property
    def is_keynum(self) -> bool:
        return self.keynumidx is not None

    @property
    def is_legacy_range(self) -> bool:
        """An ``index`` search with a ``range``: what Redis's legacy key range (first key,
        last key, step) can describe. Any other spec makes a command ``movablekeys``."""
        return self.keynumidx is None and self.keyword is None and self.finder is None

    def positions(self, argc: int) -> range:
        """Indexes of the keys a range spec finds in a command of ``argc`` arguments."""
        end = self.begin + self.last if self.last >= 0 else argc + self.last
        return range(self.begin, min(end, argc - 1) + 1, self.step)

    def find(self, args: Sequence[bytes]) -> range | None:
        """Indexes of the keys this spec finds in ``args``; ``None`` when a keynum spec
        cannot tell, because its count is missing, not an integer (``string2ll``), below 1
        (below 0 with ``zero_keys``), or announces more keys than there are arguments
        from the first key on, or when a keyword spec's range runs outside the arguments
        — what Redis's ``getKeysUsingKeySpecs`` calls an invalid spec. The command itself
        refuses such a call; callers choose their own fallback (COMMAND GETKEYS Redis's,
        ``access_of`` a safe superset). A keyword that is not there names no key."""
        if self.finder is not None:
            return self.finder(args)
        if self.keyword is not None:
            return self._after_keyword(args)
        if self.keynumidx is None:
            return self.positions(len(args))
        at = self.begin + self.keynumidx
        count = parse_ll(args[at]) if at < len(args) else None
        first = self.begin + self.firstkey
        if count is None or count < (0 if self.zero_keys else 1) or first + count > len(args):
            return None
        return range(first, first + count, self.step)

    def after_count(self, argc: int) -> range:
        """Every argument from a keynum spec's first key to the end (for a keyword spec:
        from where its search starts): all the keys a call could name, whatever its count
        or keyword says."""
        if self.finder is not None:
            return range(1, argc)
        if self.keyword is not None:
            return range(self.begin if self.begin > 0 else 1, argc)
        return range(self.begin + self.firstkey, argc)

    def _after_keyword(self, args: Sequence[bytes]) -> range | None:
        """``getKeysUsingKeySpecs`` for ``begin_search: keyword`` and ``find_keys: range``."""
        argc = len(args)
        start = self.begin if self.begin > 0 else argc + self.begin
        end, step = (argc - 1, 1) if self.begin > 0 else (0, -1)
        wanted = (self.keyword or "").lower().encode()
        first = 0
        i = start
        while i != end and 1 <= i < argc:
            if c_string(args[i]).lower() == wanted:
                first = i + 1
                break
            i += step
        if not first:
            return range(0)
        if self.last >= 0:
            last = first + self.last
        elif not self.limit:
            last = argc + self.last
        else:
            last = first + (argc - first) // self.limit + self.last
        if last >= argc or last < first or first >= argc:
            return None
        return range(first, last + 1, self.step)


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
    ``denyoom``...) plus four of ours: ``replicated`` (executed by every replica
    though Redis does not flag it ``write``: EVAL), ``keyspace`` (touches the whole
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
    prepare_queued: Prepare | None = None
    """``prepare`` for a request queued in MULTI, where nothing blocks, when it differs
    (XREAD: BLOCK is ignored there, so ``$`` is not refused)."""
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
        if any(not s.is_legacy_range for s in self.key_specs):
            # Redis derives ``movablekeys`` from the specs (``populateCommandMovableKeys``).
            object.__setattr__(self, "flags", self.flags | {"movablekeys"})

    @property
    def _range_specs(self) -> list[KeySpec]:
        """The specs Redis's legacy key range is built from: keynum and keyword specs are
        left out."""
        return [s for s in self.key_specs if s.is_legacy_range]

    @property
    def first_key(self) -> int:
        """Redis's legacy ``first_key_pos`` (0 when the command takes no keys)."""
        return min((s.begin for s in self._range_specs), default=0)

    @property
    def last_key(self) -> int:
        """Redis's legacy ``last_key_pos``: absolute, or negative counted from the end."""
        ranges = self._range_specs
        if not ranges:
            return 0
        ends = [s.begin + s.last if s.last >= 0 else s.last for s in ranges]
        negative = [e for e in ends if e < 0]
        return min(negative) if negative else max(ends)

    @property
    def key_step(self) -> int:
        ranges = self._range_specs
        if not ranges:
            return 0
        return ranges[0].step if len(self.key_specs) == 1 else 1

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity > 0 else argc >= -self.arity

    def keys(self, args: Sequence[bytes]) -> list[tuple[bytes, KeySpec]] | None:
        """Every key in ``args`` with the spec that found it, in argument order per spec;
        ``None`` when a keynum spec cannot tell (see ``KeySpec.find``)."""
        found: list[tuple[bytes, KeySpec]] = []
        for spec in self.key_specs:
            positions = spec.find(args)
            if positions is None:
                return None
            found += [(args[i], spec) for i in positions]
        return found

    def subcommand(self, name: bytes) -> CommandSpec | None:
        wanted = self.name + b"|" + name.lower()
        for sub in self.subcommands:
            if sub.name == wanted:
                return sub
        return None

    @property
    def is_write(self) -> bool:
        return "write" in self.flags

    @property
    def publishes(self) -> bool:
        """PUBLISH: replicated and executed everywhere like a write, though it writes no key."""
        return "pubsub" in self.flags and self.handler is not None

    @property
    def runs_everywhere(self) -> bool:
        """Whether every replica must execute it (else only the one whose client asked):
        writes, PUBLISH, and EVAL (``replicated``: Redis flags no script as a write,
        since what it does depends on the script)."""
        return self.is_write or self.publishes or "replicated" in self.flags
