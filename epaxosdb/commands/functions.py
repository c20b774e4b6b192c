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

from collections.abc import Mapping

import msgpack

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
