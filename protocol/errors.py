"""Protocol errors, split by whose fault they are (the h11 convention).

A ``RemoteProtocolError`` means the peer sent bytes we refuse: the stream is
in an unknown state and the connection must close. A ``LocalProtocolError``
means our own code misused a codec (for instance asked it to encode a value
the wire format cannot carry): that is a bug here, never the client's.

The RESP front end distinguishes two remote failures because Redis answers
them differently: ``RespProtocolError`` is replied to (with Redis's exact
``ERR Protocol error: ...`` text) and then the connection closes;
``QueryBufferLimitExceeded`` closes the connection with no reply at all, as
Redis does when ``client-query-buffer-limit`` is reached. A
``CrossProtocolRequest`` (an HTTP ``POST`` or ``Host:`` line on the RESP
port) is also dropped silently: it is the signature of a cross-protocol
scripting attack, and answering it would help the attacker.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every codec error in ``protocol``."""


class LocalProtocolError(ProtocolError):
    """Our code asked a codec for something the protocol cannot express."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that violate the protocol or one of our limits."""


class RespProtocolError(RemoteProtocolError):
    """Malformed RESP input: reply ``-<text>`` and close the connection.

    ``text`` is the full error line without the leading ``-``, byte for byte
    what Redis 7 sends, e.g. ``ERR Protocol error: invalid bulk length``.
    Bytes of the input quoted in the text (the ``got 'x'`` byte) are carried
    as surrogate escapes so that encoding with ``surrogateescape`` restores
    the raw byte.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class QueryBufferLimitExceeded(RemoteProtocolError):
    """The client buffered more unparsed input than allowed: close, no reply."""

    def __init__(self, buffered: int, limit: int) -> None:
        super().__init__(f"query buffer of {buffered} bytes exceeds the limit of {limit} bytes")
        self.buffered = buffered
        self.limit = limit


class CrossProtocolRequest(RemoteProtocolError):
    """An HTTP request line (``POST ...``) or header (``Host: ...``) arrived.

    Redis treats these as an attack (a browser tricked into talking to the
    RESP port) and drops the connection without replying; so do we.
    """

    def __init__(self, first_word: bytes) -> None:
        super().__init__(f"cross protocol request starting with {first_word[:16]!r}")
        self.first_word = first_word
