"""What INFO's keyspace counters count: ``Tally``, and which keys an op looks up.

Redis's ``expired_keys`` counts the keys it deleted because their time to live
ran out; ``keyspace_hits`` and ``keyspace_misses`` count its lookups of a key for
reading (``lookupKeyRead``): a hit when the key is there and not expired.
Monitoring (redis_exporter, Datadog) computes cache hit ratios from the latter.

The pure layer keeps no state of its own, so whoever executes commands hands
``execute`` a ``Tally`` to add to (``node`` gives one per step). Expirations are
counted at every replica — each one executes every command and removes the same
expired keys — but lookups only where the command's handlers run for its
client: at the replica that proposed it (read-only commands run only there,
see ``execution.is_read_only``), so a cluster counts each client's read once.

Which commands look up what, as Redis 7.0 does (checked against redis-server
7.0.15, ``tests/integration/test_info_stats.py``):

* a key a command's key spec flags ``RO`` is looked up once per time it is
  named (``MGET a a`` looks ``a`` up twice): GET, EXISTS, TYPE, HGET, LRANGE,
  SMEMBERS, ZSCORE, TTL, OBJECT, DUMP, the sources of SUNIONSTORE, COPY,
  BITOP... (a ``BITFIELD`` of only GETs too);
* GETDEL, GETEX, GETSET and ``SET ... GET`` look their key up once too;
* XREAD and XREADGROUP look each stream up twice (to resolve its ID, then to
  read it); PFMERGE looks its destination up too, PFCOUNT each of its keys;
* MEMORY USAGE looks nothing up (Redis finds the key without counting);
* a script's calls count as those commands do.

Nothing else counts: writes look their keys up for writing, and keyspace-wide
commands (KEYS, SCAN, RANDOMKEY) look nothing up by name.

What it costs: the handlers do not report their lookups, so a command is
judged from its reply where the reply tells — GET and its kin (the null reply
is a miss), MGET, EXISTS, TOUCH, TYPE, TTL and its kin — and otherwise by one
more read of its key's header before it runs (``_one_key``, ``_read_keys``).
GET, the commonest command, and SET, which finds no rule at all, cost a few
dict and identity checks more.

A command of several keys that fails with WRONGTYPE on one of them (SUNION of
a set and a string) has looked up the keys before that one and that one, and
no further, as in Redis (``_STOPS_AT_WRONG_TYPE``); LCS looks up both its keys
first.

Where this differs from Redis: SORT counts only its key, not those its BY and
GET patterns name (they depend on the stored elements).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from protocol.replies import Error, Reply
from storage.interface import KeyValueView, ValueType

from . import hyperloglog
from .keyspace import NONE_TYPE as _NONE_TYPE
from .spec import CommandSpec, KeySpec
from .table import COMMANDS
from .values import live_header


@dataclass(slots=True)
class Tally:
    """Counters that executing commands adds to: INFO's ``expired_keys``,
    ``keyspace_hits`` and ``keyspace_misses``."""

    expired: int = 0
    """Keys deleted because they were found expired (settled before an op, swept
    by ``DELEXPIRED``, or overwritten or deleted while expired)."""
    hits: int = 0
    misses: int = 0
    missed: list[bytes] | None = None
    """When keyspace notifications hear key misses (class ``m``): the keys found missing
    since the caller last took them (``Notices.missed``), in lookup order."""

    def add(self, other: Tally) -> None:
        """Fold ``other`` in (a step's counts into a replica's)."""
        self.expired += other.expired
        self.hits += other.hits
        self.misses += other.misses

    def reset(self) -> None:
        """``CONFIG RESETSTAT``."""
        self.expired = self.hits = self.misses = 0


Judge = Callable[[KeyValueView, tuple[bytes, ...], Reply, int, Tally], None]
"""``judge(kv, op, reply, now_ms, tally)``, once ``op`` ran: count its lookups, from its
reply or from what ``kv`` holds (after a read-only op, what it held before)."""

Rule = Callable[[KeyValueView, tuple[bytes, ...], int, Tally], "Judge | None"]
"""``rule(kv, op, now_ms, tally)``, before ``op`` runs: count what it looks up, or return
the judge that will tell from its reply (no second lookup of the key)."""


def null_is_miss(
    kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
) -> None:
    """GET and its kin: one lookup; no key is the null reply, and any other reply (a
    value, WRONGTYPE) found one. (``execute`` counts GET's inline.)"""
    if reply is None:
        tally.misses += 1
        if tally.missed is not None:
            tally.missed.append(op[1])
    else:
        tally.hits += 1


def by_reply(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally) -> Judge:
    """The rule of GET, GETDEL, GETEX and GETSET (``execute`` knows it by sight)."""
    return null_is_miss


def in_script(
    kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally
) -> Judge | None:
    """EVAL, FCALL and their read-only forms: their keys are what the script makes of
    them; each command it calls counts its own lookups (``execute`` gives the script
    ``tally``)."""
    return None


def _mget(
    kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
) -> None:
    """A value for each key found; a null is a key missing, or one of another type (which
    Redis found: a hit), told apart by a look at the null ones only."""
    if type(reply) is list:
        if None not in reply:
            tally.hits += len(reply)
            return
        missed = [
            key
            for key, got in zip(op[1:], reply, strict=True)
            if got is None and live_header(kv, key, now_ms) is None
        ]
        tally.misses += len(missed)
        tally.hits += len(reply) - len(missed)
        if missed and tally.missed is not None:
            tally.missed += missed


def _exists(
    kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
) -> None:
    """EXISTS and TOUCH reply how many of their keys (each time named) exist (which ones,
    only key misses heard by notifications need: they look)."""
    if type(reply) is int:
        if tally.missed is not None and reply < len(op) - 1:
            _count(kv, list(op[1:]), now_ms, tally)
            return
        tally.hits += reply
        tally.misses += len(op) - 1 - reply


def _type(
    kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
) -> None:
    if reply == _NONE_TYPE:
        _missed(tally, op[1])
    else:
        tally.hits += 1


def _time_to_live(
    kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
) -> None:
    """TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for no key."""
    if reply == -2:
        _missed(tally, op[1])
    else:
        tally.hits += 1


def _missed(tally: Tally, key: bytes) -> None:
    tally.misses += 1
    if tally.missed is not None:
        tally.missed.append(key)


def _judged(judge: Judge) -> Rule:
    def rule(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally) -> Judge:
        return judge

    return rule


def judge_of(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally) -> Judge | None:
    """``op``'s rule applied (``LOOKUPS``), before it runs; SET's too, which looks its key
    up only with its GET option (``prepare`` spells options in upper case), and is left
    out of ``LOOKUPS`` so that ``execute`` finds nothing to do for the commonest write."""
    name = op[0]
    rule = LOOKUPS.get(name)
    if rule is not None:
        return rule(kv, op, now_ms, tally)
    if name == b"SET" and b"GET" in op[3:]:
        return null_is_miss
    return None


def _count(kv: KeyValueView, keys: list[bytes], now_ms: int, tally: Tally) -> None:
    _add_found(tally, keys, [live_header(kv, key, now_ms) is not None for key in keys])


def _add_found(tally: Tally, keys: list[bytes], found: list[bool]) -> None:
    """Count lookups of ``keys``, ``found[i]`` saying whether ``keys[i]`` was there."""
    hits = sum(found)
    tally.hits += hits
    tally.misses += len(keys) - hits
    if tally.missed is not None and hits < len(keys):
        tally.missed += [key for key, there in zip(keys, found, strict=True) if not there]


Refuses = Callable[[KeyValueView, bytes, int], bool]
"""``refuses(kv, key, now_ms)``: whether a command answers WRONGTYPE at ``key``."""


def _holds_other_than(*types: ValueType) -> Refuses:
    accepted = frozenset(types)

    def refuses(kv: KeyValueView, key: bytes, now_ms: int) -> bool:
        header = live_header(kv, key, now_ms)
        return header is not None and header.type not in accepted

    return refuses


_SETS_ONLY = _holds_other_than(ValueType.SET)
_SETS_OR_ZSETS = _holds_other_than(ValueType.SET, ValueType.ZSET)
_STOPS_AT_WRONG_TYPE: dict[bytes, Refuses] = {
    **dict.fromkeys(
        (b"SUNION", b"SINTER", b"SDIFF", b"SUNIONSTORE", b"SINTERSTORE", b"SDIFFSTORE",
         b"SINTERCARD"),
        _SETS_ONLY,
    ),
    **dict.fromkeys(
        (b"ZUNION", b"ZINTER", b"ZDIFF", b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE",
         b"ZINTERCARD"),
        _SETS_OR_ZSETS,
    ),
    b"BITOP": _holds_other_than(ValueType.STRING),
    b"XREAD": _holds_other_than(ValueType.STREAM),
    b"XREADGROUP": _holds_other_than(ValueType.STREAM),
    b"PFCOUNT": hyperloglog.refuses,
    b"PFMERGE": hyperloglog.refuses,
}  # fmt: skip
"""Commands of several keys that Redis 7.0 looks up one at a time, checking each one's
type before the next lookup: WRONGTYPE ends their lookups at the key it is about (XREAD's
at its first pass, which resolves IDs). What each refuses."""


def _read_keys(
    specs: tuple[KeySpec, ...], times: int = 1, stops_at: Refuses | None = None
) -> Rule:
    """A rule counting every key the ``RO`` specs among ``specs`` find, ``times`` times
    (a spec whose flags depend on the call, BITFIELD's, is asked: ``flags_of``); with
    ``stops_at``, a judge that counts them once the reply tells whether the op stopped
    with WRONGTYPE at one of them, from what each held before the op (SINTERSTORE may
    delete a source that is also its destination)."""

    def rule(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally) -> Judge | None:
        keys: list[bytes] = []
        for spec in specs:
            flags = spec.flags if spec.flags_of is None else spec.flags_of(op)
            if "RO" not in flags:
                continue
            positions = spec.find(op)
            if positions is not None:  # a malformed count: the handler refuses the op
                keys += [op[i] for i in positions if i < len(op)]
        if not keys:
            return None
        if stops_at is None:
            _count(kv, keys * times, now_ms, tally)
            return None
        found = [live_header(kv, key, now_ms) is not None for key in keys]

        def judge(
            kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
        ) -> None:
            if type(reply) is Error and reply.code == "WRONGTYPE":
                # Refused: nothing was written, ``kv`` is as the op found it.
                for i, key in enumerate(keys):
                    if stops_at(kv, key, now_ms):
                        _add_found(tally, keys[: i + 1], found[: i + 1])
                        return
            _add_found(tally, keys * times, found * times)

        return judge

    return rule


def _found_by_reply(reply: Reply) -> bool:
    """Whether ``reply`` could only come from a key that is there: a non-empty bulk, a
    positive count, an array holding something other than nulls and zeros (HMGET and
    SMISMEMBER answer such an array for no key), WRONGTYPE. A null, an empty string or
    array, 0, -1 (BITPOS of no key) say nothing: they can come from either."""
    kind = type(reply)
    if kind is bytes or kind is list:
        if kind is list:
            return any(item is not None and item != 0 for item in reply)  # type: ignore[union-attr]
        return bool(reply)
    if kind is int:
        return reply > 0  # type: ignore[operator]
    return kind is Error and reply.code == "WRONGTYPE"  # type: ignore[union-attr]


def _scan_found(reply: Reply) -> bool:
    """HSCAN, SSCAN, ZSCAN: ``[cursor, elements]``, the elements only from a key that is
    there (the cursor, always a string, says nothing); WRONGTYPE from one too."""
    if type(reply) is list:
        return len(reply) == 2 and bool(reply[1])
    return type(reply) is Error and reply.code == "WRONGTYPE"


def _one_key(index: int, found: Callable[[Reply], bool] = _found_by_reply) -> Rule:
    """``_read_keys`` for the commonest shape, one ``RO`` key at a fixed place (HGET,
    LRANGE, SMEMBERS, ZSCORE...): judged from the reply when it can only come from a key
    that is there (``found``: the common hit costs nothing), else by one header read once
    the op ran (these ops only read, so the key is as the op found it)."""

    def judge(
        kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
    ) -> None:
        if index >= len(op):
            return
        if found(reply):
            tally.hits += 1
            return
        header = kv.header(op[index])
        if header is None or (header.expire_ms and header.expire_ms <= now_ms):
            _missed(tally, op[index])
        else:
            tally.hits += 1

    return _judged(judge)


def _every_key(spec: CommandSpec) -> Rule:
    """PFMERGE and PFCOUNT: Redis looks up for reading keys their specs say are written
    (PFMERGE's destination; PFCOUNT's keys, whose cached count it may update)."""
    read_all = tuple(replace(key_spec, flags=("RO",), flags_of=None) for key_spec in spec.key_specs)
    return _read_keys(read_all, stops_at=_STOPS_AT_WRONG_TYPE[spec.upper])


_SPECIAL: dict[bytes, Callable[[CommandSpec], Rule | None]] = {
    b"GET": lambda spec: by_reply,
    b"GETDEL": lambda spec: by_reply,
    b"GETEX": lambda spec: by_reply,
    b"GETSET": lambda spec: by_reply,
    b"MGET": lambda spec: _judged(_mget),
    b"EXISTS": lambda spec: _judged(_exists),
    b"TOUCH": lambda spec: _judged(_exists),
    b"TYPE": lambda spec: _judged(_type),
    b"TTL": lambda spec: _judged(_time_to_live),
    b"PTTL": lambda spec: _judged(_time_to_live),
    b"EXPIRETIME": lambda spec: _judged(_time_to_live),
    b"PEXPIRETIME": lambda spec: _judged(_time_to_live),
    b"SET": lambda spec: None,  # see ``judge_of``
    b"EVAL": lambda spec: in_script,
    b"EVAL_RO": lambda spec: in_script,
    b"FCALL": lambda spec: in_script,
    b"FCALL_RO": lambda spec: in_script,
    b"XREAD": lambda spec: _read_keys(spec.key_specs, 2, _STOPS_AT_WRONG_TYPE[b"XREAD"]),
    b"XREADGROUP": lambda spec: _read_keys(
        spec.key_specs, 2, _STOPS_AT_WRONG_TYPE[b"XREADGROUP"]
    ),
    b"PFMERGE": _every_key,
    b"PFCOUNT": _every_key,
    b"SORT": lambda spec: _read_keys(spec.key_specs[:1]),
    b"SORT_RO": lambda spec: _read_keys(spec.key_specs[:1]),
    b"MEMORY|USAGE": lambda spec: None,
    b"HSCAN": lambda spec: _one_key(1, _scan_found),
    b"SSCAN": lambda spec: _one_key(1, _scan_found),
    b"ZSCAN": lambda spec: _one_key(1, _scan_found),
}
"""Where a reply tells what the lookups found, sparing a second lookup of the key, and
where Redis's lookups differ from "each ``RO`` key once" (see the module docstring)."""


def _rule(spec: CommandSpec) -> Rule | None:
    special = _SPECIAL.get(spec.upper)
    if special is not None:
        return special(spec)
    if "internal" in spec.flags or spec.group == "scripting":
        return None  # EVALSHA is proposed as EVAL; FUNCTION and SCRIPT count no lookups
    specs = spec.key_specs
    if not any("RO" in key_spec.flags or key_spec.flags_of for key_spec in specs):
        return None
    only = specs[0]
    if len(specs) == 1 and only.is_legacy_range and only.last == 0 and only.flags_of is None:
        return _one_key(only.begin)
    return _read_keys(specs, stops_at=_STOPS_AT_WRONG_TYPE.get(spec.upper))


def _unheard(rule: Rule) -> Rule:
    """``rule``, its misses counted but not heard as ``keymiss`` (Redis's lookup with
    ``LOOKUP_NONOTIFY``: OBJECT's)."""

    def quiet(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally) -> Judge | None:
        missed, tally.missed = tally.missed, None
        try:
            judge = rule(kv, op, now_ms, tally)
        finally:
            tally.missed = missed
        if judge is None:
            return None
        found = judge

        def quiet_judge(
            kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, now_ms: int, tally: Tally
        ) -> None:
            missed, tally.missed = tally.missed, None
            try:
                found(kv, op, reply, now_ms, tally)
            finally:
                tally.missed = missed

        return quiet_judge

    return quiet


_UNHEARD = frozenset({b"OBJECT"})
"""Containers whose lookups Redis counts without a ``keymiss`` event."""


def _container_rule(spec: CommandSpec) -> Rule | None:
    """XINFO, OBJECT...: the rule of the sub-command their op names (``op[1]``)."""
    rules = {
        sub.upper.partition(b"|")[2]: (_unheard(sub_rule) if spec.upper in _UNHEARD else sub_rule)
        for sub in spec.subcommands
        if sub.handler is not None and (sub_rule := _rule(sub)) is not None
    }
    if not rules:
        return None

    def rule(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, tally: Tally) -> Judge | None:
        sub = rules.get(op[1].upper()) if len(op) > 1 else None
        return None if sub is None else sub(kv, op, now_ms, tally)

    return rule


LOOKUPS: dict[bytes, Rule] = {
    spec.upper: rule
    for spec in COMMANDS
    if spec.handler is not None or spec.subcommands
    if (rule := (_rule(spec) if spec.handler is not None else _container_rule(spec)))
    is not None
}
"""The rule of each command that looks keys up for reading, by its name as ``prepare``
leaves it (upper case); a command missing here looks nothing up."""
