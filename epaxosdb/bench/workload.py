"""What the load generator sends: the paper's interference knob, read ratio, values.

EPaxos's performance depends on how often concurrent commands interfere, so
the benchmark must control that rate, and it does so the way the paper's
client does (``src/client/client.go`` in efficient/epaxos, brief §5.1):
``conflict`` percent of commands go to **one hot key**, all the others to
**distinct keys that are never used again** — so two non-hot commands never
interfere, and the conflict rate is exactly the hot-key share. Independently,
``read_ratio`` of the commands are ``GET`` and the rest ``SET``.

Distinct keys are ``<prefix>:<client>:<n>``: the prefix carries a random
per-run nonce so that a second run does not touch the first one's keys, the
client id keeps clients apart, and ``n`` counts up. With ``keyspace`` set, the
non-hot keys are instead drawn uniformly from ``keyspace`` shared keys, which
adds the accidental conflicts of a real key space on top of the hot key.

Everything here is pure and seeded: the worker processes only call
``next_request`` and send the bytes.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

HOT_KEY = b"bench:hot"
VALUE_SIZE_MAX = 512 << 20
"""Redis's ``proto-max-bulk-len``: a bigger value would be refused by the server."""


@dataclass(frozen=True, slots=True)
class Workload:
    """The mix of commands; validated at construction so a worker never sees nonsense."""

    read_ratio: float = 0.0
    """Fraction of commands that are GET (0.0–1.0); the rest are SET."""
    conflict_pct: float = 0.0
    """Percent of commands (0–100) that go to the one hot key."""
    value_size: int = 16
    keyspace: int | None = None
    """None: non-hot keys are distinct and never reused (the paper). N: drawn from N keys."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.read_ratio <= 1.0:
            raise ValueError(f"read ratio must be between 0 and 1, not {self.read_ratio}")
        if not 0.0 <= self.conflict_pct <= 100.0:
            raise ValueError(f"conflict must be a percentage 0–100, not {self.conflict_pct}")
        if not 0 <= self.value_size <= VALUE_SIZE_MAX:
            raise ValueError(f"value size must be 0..{VALUE_SIZE_MAX} bytes")
        if self.keyspace is not None and self.keyspace < 1:
            raise ValueError("keyspace must be at least 1 key")

    def describe(self) -> str:
        keys = (
            "distinct keys, never reused" if self.keyspace is None
            else f"{self.keyspace} shared keys"
        )
        return (
            f"reads {self.read_ratio:.0%}, conflict {self.conflict_pct:g}% on one hot key, "
            f"others on {keys}, values {self.value_size} B"
        )


def make_value(size: int, rng: random.Random) -> bytes:
    """A printable value (so ``redis-cli GET`` shows something readable), random per worker."""
    letters = (string.ascii_letters + string.digits).encode()
    block = bytes(rng.choice(letters) for _ in range(min(size, 4096)))
    return (block * (size // 4096 + 1))[:size] if block else b""


class KeyChooser:
    """The command stream of one client: which key, read or write, as ready RESP bytes.

    Each client owns one chooser with its own seeded ``random.Random``, so a
    run is reproducible from ``--seed`` and clients do not share RNG state
    across processes.
    """

    __slots__ = ("_get_fmt", "_hot", "_keyspace", "_n", "_prefix", "_read", "_rng", "_set_fmt",
                 "_set_tail")

    def __init__(
        self, workload: Workload, client_id: int, nonce: str, rng: random.Random, value: bytes
    ) -> None:
        self._rng = rng
        self._hot = workload.conflict_pct / 100.0
        self._read = workload.read_ratio
        self._keyspace = workload.keyspace
        self._prefix = (
            b"bench:k:" if workload.keyspace is not None
            else f"bench:{nonce}:{client_id}:".encode()
        )
        self._n = 0
        self._get_fmt = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n"
        self._set_fmt = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n"
        self._set_tail = b"$%d\r\n%s\r\n" % (len(value), value)

    def choose(self) -> tuple[bool, bytes]:
        """The next command as ``(is_read, key)``."""
        rng = self._rng
        if rng.random() < self._hot:
            key = HOT_KEY
        elif self._keyspace is None:
            key = self._prefix + str(self._n).encode()
            self._n += 1
        else:
            key = self._prefix + str(rng.randrange(self._keyspace)).encode()
        return rng.random() < self._read, key

    def next_request(self) -> bytes:
        """The next command, encoded as a RESP array of bulk strings."""
        is_read, key = self.choose()
        if is_read:
            return self._get_fmt % (len(key), key)
        return self._set_fmt % (len(key), key) + self._set_tail


@dataclass(frozen=True, slots=True)
class ClientSlot:
    """One closed-loop client: its global id and the replica port it talks to."""

    client_id: int
    port: int


def assign_clients(clients: int, ports: tuple[int, ...], workers: int) -> list[list[ClientSlot]]:
    """Spread ``clients`` over ``ports`` round robin, then cut them into ``workers`` slices.

    Client ``i`` talks to ``ports[i % len(ports)]``, so every replica gets the
    same number of clients (±1) whatever the worker count; each worker takes a
    contiguous slice, so the per-worker load differs by at most one client.
    """
    if clients < 1 or not ports or workers < 1:
        raise ValueError("need at least one client, one port and one worker")
    workers = min(workers, clients)
    slots = [ClientSlot(i, ports[i % len(ports)]) for i in range(clients)]
    bounds = [clients * w // workers for w in range(workers + 1)]
    return [slots[bounds[w] : bounds[w + 1]] for w in range(workers)]
