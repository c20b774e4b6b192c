"""Redis's error replies, byte for byte.

Clients dispatch on these texts (redis-py maps the first word to an exception
class, go-redis matches ``ERR unknown command``), so every text here is copied
from Redis 7.0 and checked against a real ``redis-server`` by the differential
tests. Texts that quote user input follow Redis's C formatting: ``%s`` stops
at the first NUL byte, ``%.128s`` truncates, and CR/LF become spaces so that
the reply stays one line.

It also holds ``ERRORREPLY``, the internal op that carries an error decided at
proposal time into the execution of a MULTI/EXEC: Redis reports argument
errors of queued commands per item when EXEC runs, not when they are queued.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.replies import Error, Reply
from storage.interface import KeyValueView

SYNTAX = Error("ERR syntax error")
NOT_INTEGER = Error("ERR value is not an integer or out of range")
NOT_FLOAT = Error("ERR value is not a valid float")
WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
OVERFLOW = Error("ERR increment or decrement would overflow")
DECREMENT_OVERFLOW = Error("ERR decrement would overflow")
NAN_OR_INFINITY = Error("ERR increment would produce NaN or Infinity")
NO_SUCH_KEY = Error("ERR no such key")
INVALID_CURSOR = Error("ERR invalid cursor")
OFFSET_OUT_OF_RANGE = Error("ERR offset is out of range")
STRING_TOO_LONG = Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
EXPIRE_NX_CONFLICT = Error("ERR NX and XX, GT or LT options at the same time are not compatible")
EXPIRE_GT_LT_CONFLICT = Error("ERR GT and LT options at the same time are not compatible")
NOT_POSITIVE = Error("ERR value is out of range, must be positive")
"""``getPositiveLongFromObjectOrReply``: a count that is negative or not a number."""
INT_RANGE = Error("ERR value is out of range, value must between -2147483648 and 2147483647")
"""``getIntFromObjectOrReply``: an integer that does not fit in a C ``int``."""
DB_OUT_OF_RANGE = Error("ERR DB index is out of range")
SAME_OBJECT = Error("ERR source and destination objects are the same")
NUMKEYS_NOT_POSITIVE = Error("ERR numkeys should be greater than 0")
"""SINTERCARD, ZMPOP, LMPOP: a key count that is not an integer of at least 1."""
COUNT_NOT_POSITIVE = Error("ERR count should be greater than 0")
"""ZMPOP and LMPOP's COUNT: not an integer of at least 1."""
LIMIT_NEGATIVE = Error("ERR LIMIT can't be negative")
"""SINTERCARD and ZINTERCARD's LIMIT: negative or not an integer."""
NOT_IN_MULTI = Error("ERR Command not allowed inside a transaction")
"""A ``no_multi`` command (SHUTDOWN) after MULTI: refused, and EXEC then aborts."""
EXEC_WRONG_ARITY = Error(
    "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
)
"""Redis rejects a malformed EXEC through ``execCommandAbort``, even outside MULTI."""


def c_string(arg: bytes) -> bytes:
    """What C's ``%s`` prints of an argument: everything before the first NUL."""
    nul = arg.find(b"\0")
    return arg if nul < 0 else arg[:nul]


def text(raw: bytes) -> str:
    """User bytes as error text: one line, and lossless for any byte value.

    ``Error.text`` is a ``str``; ``surrogateescape`` keeps bytes that are not
    UTF-8 recoverable by an encoder that uses the same error handler.
    """
    return raw.replace(b"\r", b" ").replace(b"\n", b" ").decode("utf-8", "surrogateescape")


def unknown_command(args: Sequence[bytes]) -> Error:
    """``ERR unknown command 'x', with args beginning with: 'a' 'b' `` (trailing space kept).

    Mirrors ``processCommand``: the name is cut at 128 bytes, and arguments are
    quoted one by one until the list reaches 128 bytes.
    """
    quoted = b""
    for arg in args[1:]:
        if len(quoted) >= 128:
            break
        quoted += b"'" + c_string(arg)[: 128 - len(quoted)] + b"' "
    name = c_string(args[0])[:128] if args else b""
    return Error(
        "ERR unknown command '" + text(name) + "', with args beginning with: " + text(quoted)
    )


def unknown_subcommand(container: bytes, sub: bytes) -> Error:
    return Error(
        "ERR unknown subcommand '"
        + text(c_string(sub)[:128])
        + "'. Try "
        + container.upper().decode()
        + " HELP."
    )


def subcommand_arity(container: bytes, sub: bytes) -> Error:
    """A known sub-command given too many arguments, named as the client sent it."""
    return Error(
        "ERR unknown subcommand or wrong number of arguments for '"
        + text(c_string(sub))
        + "'. Try "
        + container.upper().decode()
        + " HELP."
    )


def wrong_arity(fullname: bytes) -> Error:
    return Error("ERR wrong number of arguments for '" + fullname.decode() + "' command")


def invalid_expire(name: bytes) -> Error:
    """``ERR invalid expire time in 'set' command``; ``name`` is the command the client sent."""
    return Error("ERR invalid expire time in '" + name.decode() + "' command")


def unsupported_option(option: bytes) -> Error:
    return Error("ERR Unsupported option " + text(c_string(option)))


def error_op(error: Error) -> tuple[bytes, ...]:
    """The internal op that replies ``error`` when executed (see ``cmd_errorreply``)."""
    return (b"ERRORREPLY", error.text.encode("utf-8", "surrogateescape"))


def cmd_errorreply(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Reply the error a queued command's arguments earned; touches nothing."""
    return Error(args[1].decode("utf-8", "surrogateescape"))
