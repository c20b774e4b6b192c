"""Redis 7 functions: FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS and FCALL.

Unlike EVAL's script cache, function libraries are data: Redis keeps them in
its RDB and AOF and sends them to its replicas. Here they are replicated
state beside the keyspace (``KeyValueView.functions``): FUNCTION LOAD, DELETE,
FLUSH and RESTORE go through consensus as commands over the whole keyspace
(so they are ordered against every other command, FCALLs included), and
every replica executes them into the same registry. FCALL is proposed with
the function's name; every replica that executes it finds the library in its
own registry, at that point of the order, and runs it as EVAL runs a script.

The registry is stored as one blob (``encode_registry``): libraries are few
and small, and a change to them is rare enough to rewrite them all.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import msgpack

from protocol.replies import OK, Error, Map, Reply, Set, SimpleString, help_reply
from protocol.resp import split_inline
from storage.interface import KeyValueView

from . import errors, glob, rdb, scripting
from .integers import parse_ll
from .rdb import OP_FUNCTION, OP_FUNCTION_PRE_GA
from .scripting import FUNCTION_FLAGS, NO_WRITES, RegisteredFunction
from .spec import preparing

if TYPE_CHECKING:
    from .notifications import Notices
    from .tally import Tally

Libraries = dict[bytes, bytes]
"""Library name -> the library's code as FUNCTION LOAD got it (shebang included)."""


def encode_registry(libraries: Mapping[bytes, bytes]) -> bytes:
    """The stored form of the registry: ``b""`` when it is empty, else the libraries
    by name (sorted, so equal registries are equal bytes on every replica)."""
    if not libraries:
        return b""
    packed: bytes = msgpack.packb(sorted(libraries.items()), use_bin_type=True)
    return packed


def decode_registry(blob: bytes) -> Libraries:
    """``encode_registry``'s inverse."""
    if not blob:
        return {}
    pairs = msgpack.unpackb(blob, raw=True, use_list=True)
    return {bytes(name): bytes(code) for name, code in pairs}


# --- libraries ---------------------------------------------------------------------------

NAME_RULE = (
    "Library names can only contain letters, numbers, or underscores(_) and must be at "
    "least one character long"
)
ENGINE = b"LUA"
FUNCTION_NOT_FOUND = Error("ERR Function not found")
LIBRARY_NOT_FOUND = Error("ERR Library not found")
BAD_KEY_COUNT = Error("ERR Bad number of keys provided")


class Library(NamedTuple):
    """A library as FUNCTION LOAD made it: its code whole, shebang line included."""

    name: bytes
    code: bytes
    functions: tuple[RegisteredFunction, ...]


class _Metadata(NamedTuple):
    name: bytes
    source: bytes
    """The code after the shebang line, that line's newline first (Lua's lines stay the
    library's)."""


def _shown(arg: bytes) -> str:
    """An argument as C's ``%s`` prints it, in an error line."""
    return errors.text(errors.c_string(arg))


def _valid_name(name: bytes) -> bool:
    return bool(name) and name.isascii() and name.replace(b"_", b"a").isalnum()


def _metadata(code: bytes) -> _Metadata | Error:
    """``functionExtractLibMetaData`` and the checks FUNCTION LOAD makes before it
    runs the code, in Redis 7.0's order: the shebang line (``#!<engine> name=<name>``,
    split as Redis splits inline requests), the name's characters, the engine."""
    if not code.startswith(b"#!"):
        return Error("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        return Error("ERR Invalid library metadata")
    parts = split_inline(code[:end])
    if not parts:
        return Error("ERR Invalid library metadata")
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                return Error("ERR Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        return Error(f"ERR Invalid metadata value given: {_shown(part)}")
    if name is None:
        return Error("ERR Library name was not given")
    if not _valid_name(name):
        return Error("ERR " + NAME_RULE)
    engine = parts[0][2:]
    if engine.upper() != ENGINE:
        return Error(f"ERR Engine '{_shown(engine)}' not found")
    return _Metadata(name, code[end:])


@functools.lru_cache(maxsize=256)
def _created(code: bytes) -> Library | Error:
    """The library ``code`` makes (run in the sandbox: ``scripting.register_library``),
    or the error FUNCTION LOAD gives for it, whatever the registry holds. Pure, hence
    cached by code."""
    metadata = _metadata(code)
    if isinstance(metadata, Error):
        return metadata
    registered = scripting.register_library(metadata.source)
    if isinstance(registered, Error):
        return registered
    if not registered:
        return Error("ERR No functions registered")
    return Library(metadata.name, code, registered)


class _Registry(NamedTuple):
    libraries: dict[bytes, Library]
    """By name, in name order."""
    functions: dict[bytes, tuple[Library, RegisteredFunction]]
    """By lower-case name: Redis looks functions up ignoring case."""


@functools.lru_cache(maxsize=8)
def _registry(blob: bytes) -> _Registry:
    libraries: dict[bytes, Library] = {}
    functions: dict[bytes, tuple[Library, RegisteredFunction]] = {}
    for name, code in decode_registry(blob).items():
        library = _created(code)
        if isinstance(library, Error):
            # Stored by a build whose sandbox took it: kept, listed, but nothing to call.
            library = Library(name, code, ())
        libraries[name] = library
        for function in library.functions:
            # A library may register ``f`` and ``F``; FCALL finds the first, as Redis does.
            functions.setdefault(function.name.lower(), (library, function))
    return _Registry(libraries, functions)


def audit(blob: bytes) -> tuple[list[bytes], list[tuple[bytes, str]]]:
    """The names of a stored registry's libraries, and those that do not load as FUNCTION
    LOAD would load them, with why (``epaxosdb inspect --check``); a blob that does not
    decode is one problem, named ``*``."""
    try:
        stored = decode_registry(blob)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        return [], [(b"*", f"the stored libraries do not decode: {exc}")]
    problems: list[tuple[bytes, str]] = []
    for name, code in stored.items():
        created = _created(code)
        if isinstance(created, Error):
            problems.append((name, created.text))
        elif created.name != name:
            problems.append((name, f"its code names it {_shown(created.name)}"))
    return list(stored), problems


def counts(blob: bytes) -> tuple[int, int]:
    """``(libraries, functions)`` in a stored registry (FUNCTION STATS, INFO)."""
    libraries = _registry(blob).libraries.values()
    return len(libraries), sum(len(lib.functions) for lib in libraries)


def _store(kv: KeyValueView, libraries: Mapping[bytes, Library]) -> None:
    kv.set_functions(encode_registry({name: lib.code for name, lib in libraries.items()}))


def _joined(
    current: Mapping[bytes, Library], added: Sequence[Library], replace: bool, quoted: bool
) -> dict[bytes, Library] | Error:
    """``current`` with ``added`` in it, or why not: a library that exists already
    (unless ``replace``, which drops it first), a function name another library has."""
    joined = dict(current)
    for library in added:
        if library.name in joined:
            if not replace:
                name = _shown(library.name)
                return Error(
                    f"ERR Library '{name}' already exists"
                    if quoted
                    else f"ERR Library {name} already exists"
                )
            del joined[library.name]
    taken = {f.name.lower() for lib in joined.values() for f in lib.functions}
    for library in added:
        for function in library.functions:
            if function.name.lower() in taken:
                return Error(f"ERR Function {_shown(function.name)} already exists")
    for library in added:
        joined[library.name] = library
    return dict(sorted(joined.items()))


# --- FUNCTION LOAD / DELETE / FLUSH / RESTORE ----------------------------------------------


def _load_request(op: Sequence[bytes]) -> tuple[bool, bytes] | Error:
    """``FUNCTION LOAD [REPLACE] code``: options before the last argument, the code last."""
    replace = False
    for option in op[2:-1]:
        if option.lower() != b"replace":
            return Error(f"ERR Unknown option given: {_shown(option)}")
        replace = True
    return replace, op[-1]


def _load_checked(op: Sequence[bytes]) -> tuple[bool, bytes, _Metadata] | Error:
    """What FUNCTION LOAD refuses whatever the registry holds, before it runs the code
    (as Redis checks these first): options, the shebang line, the name, the engine."""
    request = _load_request(op)
    if isinstance(request, Error):
        return request
    metadata = _metadata(request[1])
    if isinstance(metadata, Error):
        return metadata
    return (*request, metadata)


prepare_function_load = preparing(_load_checked)


def cmd_function_load(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    checked = _load_checked(op)
    if isinstance(checked, Error):
        return checked
    replace, code, metadata = checked
    libraries = _registry(kv.functions()).libraries
    if metadata.name in libraries and not replace:
        return Error(f"ERR Library '{_shown(metadata.name)}' already exists")
    library = _created(code)
    if isinstance(library, Error):
        return library
    joined = _joined(libraries, (library,), replace, quoted=True)
    if isinstance(joined, Error):
        return joined
    _store(kv, joined)
    return library.name


def cmd_function_delete(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    libraries = dict(_registry(kv.functions()).libraries)
    if libraries.pop(op[2], None) is None:
        return LIBRARY_NOT_FOUND
    _store(kv, libraries)
    return OK


def _flush_mode(op: Sequence[bytes]) -> Error | None:
    if len(op) > 3:
        return errors.subcommand_arity(b"FUNCTION", op[1])
    if len(op) == 3 and op[2].lower() not in (b"sync", b"async"):
        return Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    return None


prepare_function_flush = preparing(_flush_mode)


def cmd_function_flush(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    refused = _flush_mode(op)
    if refused is not None:
        return refused
    if kv.functions():
        kv.set_functions(b"")
    return OK


_POLICIES = (b"append", b"replace", b"flush")


def _restore_policy(op: Sequence[bytes]) -> bytes | Error:
    if len(op) > 4:
        return errors.subcommand_arity(b"FUNCTION", op[1])
    policy = op[3].lower() if len(op) == 4 else b"append"
    if policy not in _POLICIES:
        return Error(
            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
        )
    return policy


def _payload_libraries(payload: bytes) -> list[Library] | Error:
    """The libraries of a FUNCTION DUMP payload, checked as FUNCTION LOAD checks each."""
    if not rdb.footer_ok(payload):
        return Error("ERR DUMP payload version or checksum are wrong")
    found: list[Library] = []
    end = len(payload) - rdb.FOOTER_SIZE
    at = 0
    while at < end:
        kind = payload[at]
        at += 1
        if kind == OP_FUNCTION_PRE_GA:
            return Error("ERR Pre-GA function format not supported")
        if kind != OP_FUNCTION:
            return Error("ERR given type is not a function")
        try:
            code, at = rdb.read_string(payload, at)
        except rdb.Corrupt:
            return Error("ERR Failed loading library payload")
        library = _created(code)
        if isinstance(library, Error):
            return library
        joined = _joined({lib.name: lib for lib in found}, (library,), False, quoted=True)
        if isinstance(joined, Error):
            return joined
        found.append(library)
    return found


def _restore_checked(op: Sequence[bytes]) -> tuple[bytes, list[Library]] | Error:
    """FUNCTION RESTORE's policy and payload, which depend on nothing stored."""
    policy = _restore_policy(op)
    if isinstance(policy, Error):
        return policy
    libraries = _payload_libraries(op[2])
    if isinstance(libraries, Error):
        return libraries
    return policy, libraries


prepare_function_restore = preparing(_restore_checked)


def cmd_function_restore(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    checked = _restore_checked(op)
    if isinstance(checked, Error):
        return checked
    policy, added = checked
    if policy == b"flush":
        _store(kv, {lib.name: lib for lib in added})
        return OK
    current = _registry(kv.functions()).libraries
    joined = _joined(current, added, policy == b"replace", quoted=False)
    if isinstance(joined, Error):
        return joined
    _store(kv, joined)
    return OK


# --- FUNCTION LIST / DUMP / STATS / KILL / HELP ------------------------------------------


def _list_request(op: Sequence[bytes]) -> tuple[bool, bytes | None] | Error:
    with_code, pattern = False, None
    index = 2
    while index < len(op):
        argument = op[index]
        if not with_code and argument.lower() == b"withcode":
            with_code = True
        elif pattern is None and argument.lower() == b"libraryname":
            if index >= len(op) - 1:
                return Error("ERR library name argument was not given")
            index += 1
            pattern = op[index]
        else:
            return Error(f"ERR Unknown argument {_shown(argument)}")
        index += 1
    return with_code, pattern


prepare_function_list = preparing(_list_request)


def _flags_reply(flags: int) -> Set:
    return Set(
        [SimpleString(name) for bit, name in enumerate(FUNCTION_FLAGS) if flags & (1 << bit)]
    )


def cmd_function_list(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    request = _list_request(op)
    if isinstance(request, Error):
        return request
    with_code, pattern = request
    matches = None if pattern is None else glob.matcher(pattern, nocase=True)
    listed: list[Reply] = []
    for library in _registry(kv.functions()).libraries.values():
        if matches is not None and not matches(library.name):
            continue
        functions: list[Reply] = [
            Map(
                [
                    (b"name", f.name),
                    (b"description", f.description),
                    (b"flags", _flags_reply(f.flags)),
                ]
            )
            for f in library.functions
        ]
        fields: list[tuple[Reply, Reply]] = [
            (b"library_name", library.name),
            (b"engine", ENGINE),
            (b"functions", functions),
        ]
        if with_code:
            fields.append((b"library_code", library.code))
        listed.append(Map(fields))
    return listed


def dump_payload(blob: bytes) -> bytes:
    """FUNCTION DUMP's payload of a registry: each library's code as Redis 7.0 saves it in
    an RDB file (``RDB_OPCODE_FUNCTION2``, then the code), then version and CRC64."""
    body = b"".join(
        bytes((OP_FUNCTION,)) + rdb.rdb_string(lib.code)
        for lib in _registry(blob).libraries.values()
    )
    return rdb.frame(body)


def cmd_function_dump(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return dump_payload(kv.functions())


def cmd_function_stats(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """No function is ever running when a command can be answered: functions run inside
    the consensus loop, to the end (a budget stops a runaway one)."""
    libraries, functions = counts(kv.functions())
    engine = Map([(b"libraries_count", libraries), (b"functions_count", functions)])
    return Map([(b"running_script", None), (b"engines", Map([(ENGINE, engine)]))])


def cmd_function_kill(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return scripting.NOT_BUSY


FUNCTION_HELP = (
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore "
    "policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of "
    "failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
)


def cmd_function_help(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return help_reply(FUNCTION_HELP)


# --- FCALL ---------------------------------------------------------------------------------


def fcall(
    kv: KeyValueView,
    op: tuple[bytes, ...],
    now_ms: int,
    seed: int,
    *,
    read_only: bool,
    notices: Notices | None = None,
    reads: Tally | None = None,
    guard: scripting.Guard | None = None,
) -> Reply:
    """FCALL and FCALL_RO (``read_only``): ``function numkeys key... arg...``, checked in
    Redis's order (the function, then the count, then its flags) where it runs, since
    whether the function exists is known only at that point of the order."""
    found = _registry(kv.functions()).functions.get(op[1].lower())
    if found is None:
        return FUNCTION_NOT_FOUND
    count = parse_ll(op[2])
    if count is None:
        return BAD_KEY_COUNT
    if count > len(op) - 3:
        return scripting.TOO_MANY_KEYS
    if count < 0:
        return scripting.NEGATIVE_KEYS
    library, function = found
    if read_only and not function.flags & NO_WRITES:
        return scripting.WRITE_FLAG_WITH_RO
    return scripting.run_function(
        kv,
        library.code[library.code.find(b"\n") :],
        function,
        op[3 : 3 + count],
        op[3 + count :],
        now_ms,
        seed,
        read_only=read_only,
        notices=notices,
        reads=reads,
        guard=guard,
    )


def cmd_fcall(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return fcall(kv, op, now_ms, seed, read_only=False)


def cmd_fcall_ro(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return fcall(kv, op, now_ms, seed, read_only=True)
