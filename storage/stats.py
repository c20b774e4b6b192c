"""What ``epaxosdb inspect`` shows about a data directory, without starting a replica."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.messages import Status


@dataclass(frozen=True, slots=True)
class StoreStats:
    """A snapshot of a store's size and identity, read in one transaction.

    ``instances_by_status`` counts instances marked executed as EXECUTED,
    as ``load()`` would report them. ``used_bytes`` is the part of the map
    holding pages (LMDB never shrinks its file; freed pages are reused).
    """

    path: str
    schema_version: int | None
    replica_id: int | None
    cluster_id: bytes | None
    instances_by_status: dict[Status, int] = field(default_factory=dict)
    key_count: int = 0
    expires_count: int = 0
    map_size_bytes: int = 0
    used_bytes: int = 0

    @property
    def instance_count(self) -> int:
        return sum(self.instances_by_status.values())
