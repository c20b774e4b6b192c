"""A tiny script language for differential scenarios, so each reads like a redis-cli session.

One request per line, arguments separated by spaces; ``""`` is an empty
argument and Python escapes work inside a word (``\\x00``, ``\\r\\n``).
``{now+N}`` / ``{now_s+N}`` become the wall clock in ms / s plus ``N``
(``N`` may be negative). A line may start with how to compare:

* ``ttl``  — integer within a second, ``pttl`` — within the ms tolerance;
* ``set``  — same elements in any order (KEYS);
* ``scan`` — a full SCAN iteration with these options gives the same keys;
* ``random`` — RANDOMKEY: nil on both, or an existing key on both;
* ``pairs`` — the same field/value (member/score) pairs in any order;
* ``times`` — the same reply but for idle and delivery times, within a tolerance;
* ``size`` — a positive integer on both, or the same reply (MEMORY USAGE);
* ``!list k`` (``!set``, ``!hash``, ``!zset``) — give ``k`` a value of that type.

Anything else is compared byte for byte.
"""

from __future__ import annotations

import re

from storage.interface import ValueType
from tests.commands.differential import PTTL_TOLERANCE_MS, TTL_TOLERANCE_S, Differential, wall_ms

_NOW = re.compile(r"\{(now|now_s)([+-]\d+)?\}")
TYPE_LINES = {
    "!list": ValueType.LIST,
    "!set": ValueType.SET,
    "!hash": ValueType.HASH,
    "!zset": ValueType.ZSET,
}


def words(line: str) -> list[bytes]:
    def now(match: re.Match[str]) -> str:
        offset = int(match.group(2) or 0)
        base = wall_ms() if match.group(1) == "now" else wall_ms() // 1000
        return str(base + offset)

    line = _NOW.sub(now, line)
    out: list[bytes] = []
    for word in line.split():
        if word == '""':
            out.append(b"")
        else:
            out.append(word.encode("latin-1").decode("unicode_escape").encode("latin-1"))
    return out


def run(diff: Differential, script: str, name: str) -> int:
    """Run every line of ``script``; return how many requests were compared."""
    compared = 0
    for number, raw in enumerate(script.strip().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        mode, _, rest = line.partition(" ")
        context = f"[{name} line {number}, RESP{diff.protocol}]"
        if mode in TYPE_LINES:
            diff.put_non_string(words(rest)[0], TYPE_LINES[mode])
            continue
        if mode == "ttl":
            diff.check_ttl(*words(rest), tolerance=TTL_TOLERANCE_S, context=context)
        elif mode == "pttl":
            diff.check_ttl(*words(rest), tolerance=PTTL_TOLERANCE_MS, context=context)
        elif mode == "set":
            diff.check_unordered(*words(rest), context=context)
        elif mode == "scan":
            diff.check_scan(*words(rest), context=context)
        elif mode == "random":
            diff.check_randomkey(context=context)
        elif mode == "pairs":
            diff.check_pairs(*words(rest), context=context)
        elif mode == "times":
            diff.check_times(*words(rest), context=context)
        elif mode == "size":
            diff.check_size(*words(rest), context=context)
        else:
            diff.check(*words(line), context=context)
        compared += 1
    return compared
