"""How scripts get Redis's extra libraries (``lualibs``), whichever library it is.

A library is built when a script first names it, read-only like the others;
a name that is no library is still the sandbox's undefined-global error. The
work a library does in Python is charged to the call's meter, so a script
cannot make every replica spend minutes in one call: past ``WORK_MAX`` the
script stops with ``WORK_EXCEEDED``, even when it catches the library's error.
A library's own Lua stops at the script's instruction budget like the script.
"""

from __future__ import annotations

import time

import pytest

from epaxosdb.commands import lualibs, scripting
from protocol.replies import Error, Reply, SimpleString
from tests.commands.differential import Model

QUICKLY_S = 30.0
"""Far below what the unmetered work would take (minutes), on a loaded machine too."""


def eval_script(body: bytes, *args: bytes) -> Reply:
    return Model().call([b"EVAL", body, b"0", *args])


def error_text(reply: Reply) -> str:
    assert isinstance(reply, Error), reply
    return reply.text


@pytest.mark.parametrize("name", [b"cjson", b"cmsgpack", b"bit", b"struct"])
def test_each_library_is_there_and_read_only(name: bytes) -> None:
    assert eval_script(b"return type(%s)" % name) == b"table"
    text = error_text(eval_script(b"%s.x = 1" % name))
    assert "Attempt to modify a readonly table" in text


def test_a_name_that_is_no_library_is_still_an_undefined_global() -> None:
    text = error_text(eval_script(b"return cjsonx"))
    assert "Script attempted to access nonexistent global variable 'cjsonx'" in text


def test_a_script_that_names_no_library_loads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bytes] = []
    library = lualibs.library

    def spying(name: bytes) -> object:
        asked.append(name)
        return library(name)

    monkeypatch.setattr(lualibs, "library", spying)
    assert eval_script(b"return redis.call('PING')") == SimpleString(b"PONG")
    assert asked == []
    eval_script(b"return cjson.encode({1})")
    assert asked == [b"cjson"]


def test_a_huge_struct_format_stops_at_the_work_limit() -> None:
    started = time.monotonic()
    text = error_text(eval_script(b"return struct.size(string.rep('i', 20000000))"))
    assert lualibs.WORK_EXCEEDED in text
    assert time.monotonic() - started < QUICKLY_S


def test_json_decoded_again_and_again_stops_at_the_work_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100 KB of JSON decodes; with the limit at a tenth of its own (to keep the test
    short), the 17th time the meter is past ``WORK_MAX``."""
    monkeypatch.setattr(lualibs, "WORK_MAX", lualibs.WORK_MAX // 10)
    document = b"[" + b",".join(b'"%07d"' % i for i in range(10_000)) + b"]"
    assert len(document) > 100_000
    assert eval_script(b"return #cjson.decode(ARGV[1])", document) == 10_000
    started = time.monotonic()
    body = b"for i = 1, 100 do cjson.decode(ARGV[1]) end return 1"
    assert lualibs.WORK_EXCEEDED in error_text(eval_script(body, document))
    assert time.monotonic() - started < QUICKLY_S


def test_a_script_that_catches_the_libraries_error_stops_all_the_same() -> None:
    model = Model()
    body = (
        b"local ok = pcall(struct.size, string.rep('i', 20000000))\n"
        b"redis.call('SET', 'after', 'ran')\n"
        b"return 1"
    )
    assert lualibs.WORK_EXCEEDED in error_text(model.call([b"EVAL", body, b"0"]))
    assert model.call([b"GET", b"after"]) is None


def test_a_librarys_own_lua_stops_at_the_instruction_budget() -> None:
    """A table holding another twice, 40 levels deep, packs to 2^40 leaves: the packer's
    Lua loops stop with the script's budget error instead of running for hours."""
    started = time.monotonic()
    text = error_text(
        eval_script(b"local t = {} for i = 1, 40 do t = {t, t} end return #cjson.encode(t)")
    )
    assert scripting.BUDGET_EXCEEDED in text
    assert time.monotonic() - started < QUICKLY_S
