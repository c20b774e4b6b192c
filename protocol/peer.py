"""Binary encoding of peer messages and instance records; length-prefixed frames.

A frame is a 4-byte big-endian length followed by that many bytes of msgpack.
A message body is ``[tag, field, ...]`` with the tag from ``MESSAGE_TAGS``;
nested values (commands, ids, ballots) are msgpack arrays. The same value
encoding is used for instance records on disk, so a record and the message
that carried it can never disagree about how a batch is spelled.

Decoding is strict: anything that is not exactly the expected shape raises
``PeerProtocolError`` (the connection is closed and the event logged); it
never raises anything else and never allocates for a frame over
``frame_size_max`` (the length is checked before the body is buffered).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from protocol.messages import (
    Accept,
    AcceptReply,
    Ballot,
    Command,
    Commit,
    Heartbeat,
    InstanceId,
    InstanceRecord,
    JoinReply,
    JoinRequest,
    Message,
    PreAccept,
    PreAcceptReply,
    Prepare,
    PrepareReply,
    ReplicaId,
    Status,
    SyncReply,
    SyncRequest,
)

FRAME_HEADER = struct.Struct(">I")

COMMAND_BYTES_MAX: Final = 1 << 30
"""Most bytes one replicated command may take in a frame: the front end bounds a client
request (client-query-buffer-limit, at most this) and a MULTI's queued requests by it,
counted as RESP sends them, which is never less than msgpack's encoding."""

FRAME_SIZE_MAX: Final = COMMAND_BYTES_MAX + (1 << 20)
"""Largest frame accepted by default: one command of ``COMMAND_BYTES_MAX`` (a request of
up to 1 GB, Redis's client-query-buffer-limit) and the message around it. An instance
with a command that large holds no other (``batch_bytes_max``), nor does a sync reply."""


class PeerProtocolError(Exception):
    """A peer sent bytes that are not a well-formed frame or message."""


# --- values ----------------------------------------------------------------


def _int(v: object) -> int:
    if type(v) is not int:
        raise PeerProtocolError(f"expected an integer, got {type(v).__name__}")
    return v


def _bool(v: object) -> bool:
    if type(v) is not bool:
        raise PeerProtocolError(f"expected a boolean, got {type(v).__name__}")
    return v


def _tuple(v: object) -> tuple[Any, ...]:
    if type(v) is not tuple:
        raise PeerProtocolError(f"expected an array, got {type(v).__name__}")
    return v


def _unpack_ops(v: object) -> tuple[tuple[bytes, ...], ...]:
    ops = _tuple(v)
    for op in ops:
        if type(op) is not tuple or not op:
            raise PeerProtocolError("a command op must be a non-empty array")
        for arg in op:
            if type(arg) is not bytes:
                raise PeerProtocolError("command arguments must be binary strings")
    return ops


def _unpack_command(v: object) -> Command:
    t = _tuple(v)
    if len(t) != 5:
        raise PeerProtocolError("a command has 5 fields")
    return Command(_int(t[0]), _int(t[1]), _int(t[2]), _unpack_ops(t[3]), _bool(t[4]))


def _pack_cmds(cmds: tuple[Command, ...] | None) -> tuple[Command, ...] | None:
    """Commands as they are: a ``Command`` is a NamedTuple, which msgpack packs (in C)
    as the array ``[origin, id, time_ms, ops, multi]`` that ``_unpack_command`` reads.
    Hundreds of commands ride in every batch, so no per-command list is built."""
    return cmds


def _unpack_cmds(v: object) -> tuple[Command, ...]:
    """A batch of commands, each checked as ``_unpack_command`` checks one.

    The same checks written out in one loop: every PreAccept, Accept and
    Commit carries a whole batch, and a function call per field of every
    command cost a follower more than a microsecond per command. A checked
    5-tuple becomes a ``Command`` without its keyword-handling constructor.
    """
    out: list[Command] = []
    append = out.append
    make = tuple.__new__
    for c in _tuple(v):
        if (
            type(c) is not tuple
            or len(c) != 5
            or type(c[0]) is not int
            or type(c[1]) is not int
            or type(c[2]) is not int
            or type(c[4]) is not bool
        ):
            append(_unpack_command(c))  # raises, naming the fault
            continue
        _unpack_ops(c[3])
        append(make(Command, c))
    return tuple(out)


def _unpack_opt_cmds(v: object) -> tuple[Command, ...] | None:
    return None if v is None else _unpack_cmds(v)


def _unpack_inst(v: object) -> InstanceId:
    t = _tuple(v)
    if len(t) != 2:
        raise PeerProtocolError("an instance id has 2 fields")
    return InstanceId(_int(t[0]), _int(t[1]))


def _unpack_ballot(v: object) -> Ballot:
    t = _tuple(v)
    if len(t) != 3:
        raise PeerProtocolError("a ballot has 3 fields")
    return Ballot(_int(t[0]), _int(t[1]), _int(t[2]))


def _unpack_deps(v: object) -> tuple[int, ...]:
    t = _tuple(v)
    for x in t:
        _int(x)
    return t


def _unpack_insts(v: object) -> tuple[InstanceId, ...]:
    return tuple(_unpack_inst(x) for x in _tuple(v))


def _unpack_status(v: object) -> Status:
    try:
        return Status(_int(v))
    except ValueError:
        raise PeerProtocolError(f"unknown status {v!r}") from None


# --- messages ----------------------------------------------------------------
#
# One row per message type: its tag, how to flatten it, and how to rebuild it
# from the flattened fields (each field checked by its own decoder).

_Fields = list[Any]


def _pack_commit_fields(m: Commit) -> _Fields:
    return [m.sender, m.inst, _pack_cmds(m.cmds), m.seq, m.deps]


def _unpack_commit_fields(f: tuple[Any, ...]) -> Commit:
    return Commit(
        _int(f[0]), _unpack_inst(f[1]), _unpack_cmds(f[2]), _int(f[3]), _unpack_deps(f[4])
    )


def _unpack_commit(v: object) -> Commit:
    f = _tuple(v)
    if len(f) != 5:
        raise PeerProtocolError("a commit has 5 fields")
    return _unpack_commit_fields(f)


@dataclass(frozen=True, slots=True)
class SnapshotFetch:
    """A joining replica asks for bytes of a peer's snapshot file (``runtime.snapshots``).

    ``transfer`` 0 asks the peer to take a new snapshot; otherwise it names the
    snapshot the first part came with, and ``offset`` is where to go on."""

    sender: ReplicaId
    transfer: int
    offset: int


@dataclass(frozen=True, slots=True)
class SnapshotPart:
    """Bytes ``offset`` to ``offset + len(data)`` of a ``total``-byte snapshot file.

    ``transfer`` 0: the peer does not know the snapshot asked for (it expired,
    or the peer restarted), so the joiner starts a new one; with ``total`` -1,
    the peer has none to give (it is rebuilding itself): ask another; with
    ``total`` -2, it is still copying its file for the first part: wait."""

    sender: ReplicaId
    transfer: int
    offset: int
    total: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Nothing to say: a connection's sender sends this when it has sent nothing for a
    while (``runtime.peers.KEEPALIVE_S``), so that a replica hears every reachable peer
    often even when the cluster is idle, and can tell silence from idleness."""

    sender: ReplicaId


Delivered = Message | SnapshotFetch | SnapshotPart
"""What the transport hands the replica: the core's messages and snapshot transfers."""
PeerFrame = Delivered | Keepalive
"""What travels between replicas: the above, and keepalives, which the transport keeps
to itself."""


def _bytes(v: object) -> bytes:
    if type(v) is not bytes:
        raise PeerProtocolError("expected binary data")
    return v


_Codec = tuple[int, type, Callable[[Any], _Fields], Callable[[tuple[Any, ...]], PeerFrame], int]

MESSAGE_CODECS: Final[tuple[_Codec, ...]] = (
    (
        1,
        PreAccept,
        lambda m: [m.sender, m.inst, m.ballot, _pack_cmds(m.cmds), m.seq, m.deps],
        lambda f: PreAccept(
            _int(f[0]), _unpack_inst(f[1]), _unpack_ballot(f[2]), _unpack_cmds(f[3]),
            _int(f[4]), _unpack_deps(f[5]),
        ),
        6,
    ),
    (
        2,
        PreAcceptReply,
        lambda m: [m.sender, m.inst, m.ballot, m.ok, m.seq, m.deps, m.eq],
        lambda f: PreAcceptReply(
            _int(f[0]), _unpack_inst(f[1]), _unpack_ballot(f[2]), _bool(f[3]), _int(f[4]),
            _unpack_deps(f[5]), _bool(f[6]),
        ),
        7,
    ),
    (
        3,
        Accept,
        lambda m: [m.sender, m.inst, m.ballot, _pack_cmds(m.cmds), m.seq, m.deps],
        lambda f: Accept(
            _int(f[0]), _unpack_inst(f[1]), _unpack_ballot(f[2]), _unpack_cmds(f[3]),
            _int(f[4]), _unpack_deps(f[5]),
        ),
        6,
    ),
    (
        4,
        AcceptReply,
        lambda m: [m.sender, m.inst, m.ballot, m.ok],
        lambda f: AcceptReply(_int(f[0]), _unpack_inst(f[1]), _unpack_ballot(f[2]), _bool(f[3])),
        4,
    ),
    (5, Commit, _pack_commit_fields, _unpack_commit_fields, 5),
    (
        6,
        Prepare,
        lambda m: [m.sender, m.inst, m.ballot],
        lambda f: Prepare(_int(f[0]), _unpack_inst(f[1]), _unpack_ballot(f[2])),
        3,
    ),
    (
        7,
        PrepareReply,
        lambda m: [
            m.sender, m.inst, m.ballot, m.ok, int(m.status), _pack_cmds(m.cmds), m.seq, m.deps,
            m.vbal, m.eq,
        ],
        lambda f: PrepareReply(
            _int(f[0]), _unpack_inst(f[1]), _unpack_ballot(f[2]), _bool(f[3]),
            _unpack_status(f[4]), _unpack_opt_cmds(f[5]), _int(f[6]), _unpack_deps(f[7]),
            _unpack_ballot(f[8]), _bool(f[9]),
        ),
        10,
    ),
    (
        8,
        SyncRequest,
        lambda m: [m.sender, m.committed, m.wanted],
        lambda f: SyncRequest(_int(f[0]), _unpack_deps(f[1]), _unpack_insts(f[2])),
        3,
    ),
    (
        9,
        SyncReply,
        lambda m: [
            m.sender, m.committed, [_pack_commit_fields(c) for c in m.commits], m.more,
            m.collected,
        ],
        lambda f: SyncReply(
            _int(f[0]), _unpack_deps(f[1]), tuple(_unpack_commit(c) for c in _tuple(f[2])),
            _bool(f[3]), _unpack_deps(f[4]),
        ),
        5,
    ),
    (
        10,
        Heartbeat,
        lambda m: [m.sender, m.executed],
        lambda f: Heartbeat(_int(f[0]), _unpack_deps(f[1])),
        2,
    ),
    (11, JoinRequest, lambda m: [m.sender], lambda f: JoinRequest(_int(f[0])), 1),
    (
        12,
        JoinReply,
        lambda m: [m.sender, m.next_instance, m.known, m.pristine, m.joining],
        lambda f: JoinReply(
            _int(f[0]), _int(f[1]), _unpack_deps(f[2]), _bool(f[3]), _bool(f[4])
        ),
        5,
    ),
    (
        13,
        SnapshotFetch,
        lambda m: [m.sender, m.transfer, m.offset],
        lambda f: SnapshotFetch(_int(f[0]), _int(f[1]), _int(f[2])),
        3,
    ),
    (
        14,
        SnapshotPart,
        lambda m: [m.sender, m.transfer, m.offset, m.total, m.data],
        lambda f: SnapshotPart(_int(f[0]), _int(f[1]), _int(f[2]), _int(f[3]), _bytes(f[4])),
        5,
    ),
    (15, Keepalive, lambda m: [m.sender], lambda f: Keepalive(_int(f[0])), 1),
)

_BY_TYPE: Final = {cls: (tag, pack) for tag, cls, pack, _, _ in MESSAGE_CODECS}
_BY_TAG: Final = {tag: (unpack, arity) for tag, _, _, unpack, arity in MESSAGE_CODECS}


def encode_message(m: PeerFrame) -> bytes:
    """The msgpack body of a message (no frame header)."""
    tag, pack = _BY_TYPE[type(m)]
    return msgpack.packb([tag, *pack(m)], use_bin_type=True)


def decode_message(body: bytes) -> PeerFrame:
    """Rebuild a message from its body; ``PeerProtocolError`` on anything malformed."""
    try:
        v = msgpack.unpackb(body, use_list=False, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises a variety of types on garbage
        raise PeerProtocolError(f"undecodable message: {exc!r}") from None
    t = _tuple(v)
    if not t:
        raise PeerProtocolError("empty message")
    entry = _BY_TAG.get(t[0]) if type(t[0]) is int else None
    if entry is None:
        raise PeerProtocolError(f"unknown message tag {t[0]!r}")
    unpack, arity = entry
    if len(t) != arity + 1:
        raise PeerProtocolError(f"message tag {t[0]} has {len(t) - 1} fields, expected {arity}")
    return unpack(t[1:])


def encode_frame(body: bytes) -> bytes:
    return FRAME_HEADER.pack(len(body)) + body


class FrameDecoder:
    """Sans-IO frame splitter: ``feed(bytes)``, then ``next_frame()`` until ``None``.

    The length is checked against ``frame_size_max`` as soon as the header is
    complete, before any of the body is kept.
    """

    def __init__(self, frame_size_max: int = FRAME_SIZE_MAX) -> None:
        self._buf = bytearray()
        self._frame_size_max = frame_size_max

    def feed(self, data: bytes | bytearray) -> None:
        self._buf += data
        if len(self._buf) >= 4:
            (size,) = FRAME_HEADER.unpack_from(self._buf)
            if size > self._frame_size_max:
                raise PeerProtocolError(f"frame of {size} bytes exceeds {self._frame_size_max}")

    def next_frame(self) -> bytes | None:
        buf = self._buf
        if len(buf) < 4:
            return None
        (size,) = FRAME_HEADER.unpack_from(buf)
        if size > self._frame_size_max:
            raise PeerProtocolError(f"frame of {size} bytes exceeds {self._frame_size_max}")
        if len(buf) < 4 + size:
            return None
        body = bytes(buf[4 : 4 + size])
        del buf[: 4 + size]
        # The next frame's size is judged when it is asked for (or fed more): it may be
        # meant for another decoder, as the first message after a handshake is, which
        # arrives with the last handshake frame and is no handshake frame (``remaining``).
        return body

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def remaining(self) -> bytes:
        """Hand over the bytes buffered beyond the last frame (to a decoder with other limits)."""
        data = bytes(self._buf)
        self._buf.clear()
        return data


# --- records -------------------------------------------------------------------


def encode_record(r: InstanceRecord) -> bytes:
    """An instance record as stored on disk; ``bal`` and ``vbal`` kept apart (P25)."""
    return msgpack.packb(
        [r.id, int(r.status), _pack_cmds(r.cmds), r.seq, r.deps, r.bal, r.vbal, r.eq],
        use_bin_type=True,
    )


def decode_record(data: bytes) -> InstanceRecord:
    try:
        v = msgpack.unpackb(data, use_list=False, raw=False)
    except Exception as exc:
        raise PeerProtocolError(f"undecodable record: {exc!r}") from None
    f = _tuple(v)
    if len(f) != 8:
        raise PeerProtocolError("an instance record has 8 fields")
    return InstanceRecord(
        _unpack_inst(f[0]), _unpack_status(f[1]), _unpack_opt_cmds(f[2]), _int(f[3]),
        _unpack_deps(f[4]), _unpack_ballot(f[5]), _unpack_ballot(f[6]), _bool(f[7]),
    )


def encode_command(c: Command) -> bytes:
    return msgpack.packb(c, use_bin_type=True)


def decode_command(data: bytes) -> Command:
    try:
        v = msgpack.unpackb(data, use_list=False, raw=False)
    except Exception as exc:
        raise PeerProtocolError(f"undecodable command: {exc!r}") from None
    return _unpack_command(v)


# --- handshake -----------------------------------------------------------------

HELLO_TAG: Final = 100
HANDSHAKE_FRAME_MAX: Final = 1024
"""A peer that has not yet proved who it is may send only this much."""


@dataclass(frozen=True, slots=True)
class Hello:
    """One step of the peer handshake (see ``epaxosdb.runtime.peers``).

    ``proof`` is an HMAC over the other side's nonce, keyed with the cluster's
    shared secret; it is empty in the dialer's first Hello. ``data_dir`` is the
    random id of the sender's data directory, ``incarnation`` how many times a
    replica has started on it, ``run`` a random id of this start, and
    ``next_instance`` the number its next own instance will get, so that peers
    notice a replica that came back without the votes it made: on a new
    directory, or on an old copy of its own (``epaxosdb.runtime.identities``).
    ``joining`` says the sender started on an empty directory and votes on
    nothing until it has rebuilt its state (``epaxosdb.core.joining``), which
    is what makes a new directory acceptable. ``build`` is the digest of the
    sender's code (``epaxosdb.build``): replicas of different builds refuse each
    other, since each executes every command itself.
    """

    cluster_id: bytes
    replica_id: int
    nonce: bytes
    proof: bytes
    data_dir: bytes
    incarnation: int = 0
    run: bytes = b""
    next_instance: int = 0
    joining: bool = False
    build: bytes = b""


def encode_hello(h: Hello) -> bytes:
    return msgpack.packb(
        [
            HELLO_TAG, h.cluster_id, h.replica_id, h.nonce, h.proof, h.data_dir,
            h.incarnation, h.run, h.next_instance, h.joining, h.build,
        ],
        use_bin_type=True,
    )  # fmt: skip


def decode_hello(body: bytes) -> Hello:
    try:
        v = msgpack.unpackb(body, use_list=False, raw=False)
    except Exception as exc:
        raise PeerProtocolError(f"undecodable handshake: {exc!r}") from None
    t = _tuple(v)
    if len(t) == 10 and type(t[0]) is int and t[0] == HELLO_TAG:
        raise PeerProtocolError(
            "a handshake from an older epaxosdb build (one without a build id): every "
            "replica of a cluster must run the same build"
        )
    if len(t) != 11 or type(t[0]) is not int or t[0] != HELLO_TAG:
        raise PeerProtocolError("expected a handshake frame")
    for field_ in (t[1], t[3], t[4], t[5], t[7], t[10]):
        if type(field_) is not bytes:
            raise PeerProtocolError("handshake fields must be binary")
    incarnation, next_instance = _int(t[6]), _int(t[8])
    for name, value in (("incarnation", incarnation), ("next instance", next_instance)):
        if not 0 <= value < 1 << 63:
            raise PeerProtocolError(f"{name} {value} is out of range")
    return Hello(
        t[1], _int(t[2]), t[3], t[4], t[5], incarnation, t[7], next_instance, _bool(t[9]),
        t[10],
    )  # fmt: skip
