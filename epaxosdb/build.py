"""Which build of epaxosdb this is: the digest that replicas compare before they talk.

EPaxos replicates commands, not their effects: every replica executes every
command itself, so every replica must execute it the same way. Two builds
whose handlers differ anywhere — a bug fixed in INCRBYFLOAT's formatting, a
new command an older build does not know — would each apply the same log
and end with different data, silently. So the peer handshake carries this
digest (``protocol.peer.Hello.build``) and a replica refuses a peer whose build
differs, saying so in its log: a replica upgraded alone is cut off from the
others until a majority runs its build, which is what a partition does, and
never diverges from them.

The digest covers the code that decides what a replica does with a committed
command and what travels between replicas — the command handlers, the EPaxos
core, the apply path, snapshots, storage and the peer protocol (``SOURCES``) —
and the Lua that scripts run in (lupa's version: its Lua decides the order of
``pairs``). It changes with any change of that code, not only of behaviour:
strict, and nothing to remember to bump. The client front end, the tools and
the simulator are left out: builds that differ only there agree on every
command.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import lupa

SOURCES = (
    "epaxosdb/commands",
    "epaxosdb/core",
    "epaxosdb/node.py",
    "epaxosdb/snapshot.py",
    "storage",
    "protocol",
)
"""What the digest covers: directories (every ``.py`` below) and files, from the repo root."""
BUILD_BYTES = 16


@functools.cache
def build_id() -> bytes:
    """This build's digest (``BUILD_BYTES`` bytes), computed once per process."""
    return digest_of(Path(__file__).resolve().parent.parent)


def digest_of(root: Path) -> bytes:
    """The digest of the tree at ``root`` (``SOURCES``) with this process's lupa."""
    digest = hashlib.sha256(b"lupa " + lupa.__version__.encode() + b"\n")
    for source in SOURCES:
        top = root / source
        for path in sorted(top.rglob("*.py")) if top.is_dir() else [top]:
            name = path.relative_to(root).as_posix().encode()
            text = path.read_bytes()
            digest.update(b"%d %s %d\n" % (len(name), name, len(text)))
            digest.update(text)
    return digest.digest()[:BUILD_BYTES]


def build_name(build: bytes | None = None) -> str:
    """A build's digest as people read it: the first twelve hex digits."""
    return (build_id() if build is None else build).hex()[:12]
