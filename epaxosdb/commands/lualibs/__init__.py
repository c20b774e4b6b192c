"""Redis's extra Lua libraries: ``cjson``, ``cmsgpack``, ``bit`` and ``struct``.

Redis links four C libraries into its Lua, and real scripts lean on them (job
queues pack their payloads with ``cmsgpack``, rate limiters and caches keep JSON
with ``cjson``). Lupa's Lua 5.1 has none of them and cannot load C modules, so
each is a module of this package, matching Redis 7.0.15's library byte for byte
(differential tests against redis-server): ``SOURCE``, the Lua chunk that builds
the library table a script sees (compiled once per process, loaded into a call's
state only when its script first names the library), and ``python_side(lua,
meter)``, the per-call object that chunk receives as ``...`` and calls for the
work done in Python, making any tables it returns in that call's Lua state.
The state holds that object, so one that keeps the state (or a function of it)
has a ``release()`` the sandbox calls when the call ends: a cycle between a Lua
state and Python objects is freed only by Python's cyclic collector, and a
replica running scripts under load piled up hundreds of megabytes of dead
states between its collections.

A library's own Lua counts against the script's instruction budget like the
script's (the budget's stop knows library code by its chunk name, ``=lualib``).
What runs in Python does not, and costs far more per byte (decoding JSON, about
0.4 µs a byte; reading a ``struct`` format, about 1 µs a character), so a library
charges that work to the call's ``Meter`` before doing it: a script cannot make
every replica spend minutes in one call. Outputs are bounded by ``OUTPUT_MAX``.
Each replica runs the same code on the same input: the results are alike
everywhere, as the replicated script needs. Unlike Redis, where
``cjson.encode_max_depth(n)`` and friends change the setting for every later
script on that server, a setting lasts for the call that makes it (each call has
a fresh state).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

OUTPUT_MAX = 512 << 20
"""The largest string a library builds (Redis's own bound on a string value)."""

WORK_MAX = 2_000_000_000
"""The work a script's libraries may do in Python, in units of about one Lua instruction
(3 ns on this machine, 2026-11-28): ten times the script's instruction budget, about as
long as Redis lets a script run before it answers BUSY to others (5 s). Enough to
decode 16 MB of JSON."""

WORK_EXCEEDED = (
    "ERR Script exceeded the work limit of its Lua libraries "
    "(about 16 MB of JSON to decode, or 6 MB of struct formats, per script)"
)


class WorkExceeded(Exception):
    """A library's Python side would go past ``WORK_MAX``: the script is stopped (its next
    instruction fails with ``WORK_EXCEEDED``) and this unwinds the library call."""


class Meter:
    """The Python work one script call's libraries have done (see the module docstring)."""

    __slots__ = ("_lua", "used")

    def __init__(self, lua: Any) -> None:
        self._lua = lua
        self.used = 0

    def release(self) -> None:
        """The call is over: let go of its Lua state (see the module docstring)."""
        self._lua = None

    def charge(self, units: int) -> None:
        """Account for ``units`` of work about to be done; past ``WORK_MAX`` stop the
        script (the sandbox's ``STOP``) and raise ``WorkExceeded`` instead of doing it."""
        self.used += units
        if self.used > WORK_MAX:
            self._lua.globals().STOP(WORK_EXCEEDED.encode())
            raise WorkExceeded(WORK_EXCEEDED)

ARGERROR = r"""
-- An argument error as luaL_argerror words it, ``extramsg`` in parentheses: the function
-- is named as its caller called it ('?' from pcall or another C function; a method call
-- does not count ``self``). Level 2 is the library's stub, which raises it; a stub the
-- script tail-called lost the name it was called by, which the C function would have
-- read from the tail call: the library's own name then.
local function argerror(name, narg, extramsg)
  local caller = debug.getinfo(3, "S")
  if not (caller and caller.what == "tail") then
    local info = debug.getinfo(2, "n")
    name = info and info.name or "?"
    if info and info.namewhat == "method" then
      narg = narg - 1
      if narg == 0 then
        return string.format("calling '%s' on bad self (%s)", name, extramsg)
      end
    end
  end
  return string.format("bad argument #%d to '%s' (%s)", narg, name, extramsg)
end
"""
"""Shared by the libraries' Lua sides: called from a stub, whose caller it names."""

_MODULES = {b"cjson": "cjson", b"cmsgpack": "cmsgpack", b"bit": "bitop", b"struct": "structs"}
"""The libraries by the global name a script uses, and the module of this package that
holds each (with ``SOURCE`` and ``python_side(lua, meter)``)."""


def library(name: bytes) -> ModuleType | None:
    """The module of the library a script names ``name``, or None for any other name."""
    module = _MODULES.get(name)
    if module is None:
        return None
    return importlib.import_module(f"{__name__}.{module}")
