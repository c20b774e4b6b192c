"""The simulator's network: seeded, deterministic, and as hostile as the profile says.

Modelled on TigerBeetle's packet simulator (style.md §4). Every directed link
``src -> dst`` keeps its own queue ordered by delivery tick. A message sent at
tick ``t`` is due at ``t + delay``, where the delay is the profile's minimum
plus an exponential tail plus uniform jitter (which reorders), capped at
``delay_max_ticks``. On the way it may be lost, duplicated (the copy gets its
own delay), dropped because its link is full, refused by a partition that is in
place when it is sent or when it is due, or held back by a clogged link until
the clog ends.

Faults come and go as ``tick`` is called: partitions (a symmetric split, a
one-way cut from one side to the other, or one replica isolated) and clogs of
single links. ``heal()`` ends them for the liveness phase: no more loss,
duplication, partitions or clogs, so every message sent afterwards is
delivered within ``delay_max_ticks`` unless its link is full. Scripted tests
can impose the same faults by hand (``partition``, ``clog``).

Determinism: the only randomness is the ``random.Random`` passed in, links are
visited in a fixed order, and ties between messages due at the same tick are
broken by send order; the same seed and the same calls give the same
deliveries. ``perfect()`` draws nothing from the generator at all.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from protocol.messages import Message, ReplicaId

Link = tuple[ReplicaId, ReplicaId]
"""A directed path ``(src, dst)``."""


class PartitionKind(enum.Enum):
    SPLIT = "split"
    """Two sides that cannot reach each other in either direction."""
    ONE_WAY = "one-way"
    """One side's messages to the other are lost; the reverse direction works."""
    ISOLATE = "isolate"
    """One replica cut off from all others, both ways."""


@dataclass(frozen=True, slots=True)
class NetworkProfile:
    """Every knob of the network. ``random`` draws each from the seed, so each
    seed runs the cluster in different weather (TigerBeetle's swarm testing)."""

    delay_min_ticks: int = 1
    delay_mean_ticks: int = 1
    """Mean of the one-way delay before jitter: the minimum plus an exponential tail."""
    delay_max_ticks: int = 1
    """No message (unless clogged) is delivered later than this after being sent."""
    jitter_ticks: int = 0
    """Extra uniform delay in ``[0, jitter_ticks]`` per message, which reorders a link."""
    loss_probability: float = 0.0
    duplication_probability: float = 0.0
    partition_probability: float = 0.0
    """Per tick, while the network is whole, the chance that a partition starts."""
    partition_kinds: tuple[PartitionKind, ...] = ()
    partition_ticks_min: int = 1
    partition_ticks_mean: int = 1
    clog_probability: float = 0.0
    """Per tick and per link, the chance that the link clogs."""
    clog_ticks_mean: int = 1
    path_capacity_max: int = 1_000
    """Messages queued on one link; beyond it a random one of them is dropped
    (a full socket buffer; TigerBeetle's ``path_maximum_capacity``)."""

    def __post_init__(self) -> None:
        if not 0 <= self.delay_min_ticks <= self.delay_mean_ticks <= self.delay_max_ticks:
            raise ValueError(f"need 0 <= delay min <= mean <= max: {self}")
        if self.jitter_ticks < 0 or self.path_capacity_max < 1:
            raise ValueError(f"jitter must be >= 0 and path capacity >= 1: {self}")
        for name in ("loss", "duplication", "partition", "clog"):
            if not 0.0 <= getattr(self, f"{name}_probability") <= 1.0:
                raise ValueError(f"{name}_probability must be a probability: {self}")
        if self.partition_probability and not self.partition_kinds:
            raise ValueError("partitions need at least one PartitionKind")
        if not 1 <= self.partition_ticks_min <= self.partition_ticks_mean:
            raise ValueError(f"need 1 <= partition ticks min <= mean: {self}")
        if self.clog_ticks_mean < 1:
            raise ValueError(f"clog_ticks_mean must be >= 1: {self}")

    @classmethod
    def perfect(cls) -> NetworkProfile:
        """Every message arrives exactly one tick after it is sent, in order."""
        return cls()

    @classmethod
    def lossy(
        cls,
        loss_probability: float = 0.1,
        duplication_probability: float = 0.05,
        delay_mean_ticks: int = 3,
        jitter_ticks: int = 2,
    ) -> NetworkProfile:
        """A whole network that loses, duplicates and reorders; no partitions or clogs."""
        return cls(
            delay_min_ticks=1,
            delay_mean_ticks=delay_mean_ticks,
            delay_max_ticks=4 * delay_mean_ticks + jitter_ticks,
            jitter_ticks=jitter_ticks,
            loss_probability=loss_probability,
            duplication_probability=duplication_probability,
        )

    @classmethod
    def random(cls, rng: random.Random) -> NetworkProfile:
        delay_min = rng.choice((0, 1, 1, 2))
        delay_mean = delay_min + rng.choice((0, 1, 3, 8))
        kinds = tuple(kind for kind in PartitionKind if rng.random() < 0.6)
        partition_mean = rng.choice((10, 50, 200))
        return cls(
            delay_min_ticks=delay_min,
            delay_mean_ticks=delay_mean,
            delay_max_ticks=delay_mean * rng.choice((2, 4, 8)) + 1,
            jitter_ticks=rng.choice((0, 0, 1, 5, 20)),
            loss_probability=rng.choice((0.0, 0.0, 0.01, 0.05, 0.2)),
            duplication_probability=rng.choice((0.0, 0.0, 0.01, 0.1)),
            partition_probability=rng.choice((0.0, 0.001, 0.005, 0.02)) if kinds else 0.0,
            partition_kinds=kinds,
            partition_ticks_min=rng.randint(1, partition_mean),
            partition_ticks_mean=partition_mean,
            clog_probability=rng.choice((0.0, 0.0, 0.0005, 0.002)),
            clog_ticks_mean=rng.choice((5, 20, 100)),
            path_capacity_max=rng.choice((20, 100, 1_000)),
        )


@dataclass(frozen=True, slots=True)
class NetworkStatistics:
    """Counters since creation; ``sent + duplicated == delivered + dropped + queued``."""

    sent: int
    delivered: int
    duplicated: int
    dropped_loss: int
    dropped_partition: int
    dropped_capacity: int
    dropped_crash: int
    queued: int
    partitions: int
    clogs: int

    @property
    def dropped(self) -> int:
        return (
            self.dropped_loss + self.dropped_partition + self.dropped_capacity + self.dropped_crash
        )


@dataclass(slots=True)
class _Counters:
    sent: int = 0
    delivered: int = 0
    duplicated: int = 0
    dropped_loss: int = 0
    dropped_partition: int = 0
    dropped_capacity: int = 0
    dropped_crash: int = 0
    partitions: int = 0
    clogs: int = 0


Packet = tuple[int, int, Message]
"""(due tick, send sequence number, message): the heap order of a link's queue."""


class SimNetwork:
    """Directed links between replicas, each a queue ordered by delivery tick."""

    def __init__(
        self, replica_ids: Iterable[ReplicaId], rng: random.Random, profile: NetworkProfile
    ) -> None:
        self.replica_ids: tuple[ReplicaId, ...] = tuple(replica_ids)
        if len(set(self.replica_ids)) != len(self.replica_ids):
            raise ValueError(f"replica ids must be distinct: {self.replica_ids}")
        self.profile = profile
        self._rng = rng
        self._links: list[Link] = [
            (src, dst) for src in self.replica_ids for dst in self.replica_ids if src != dst
        ]
        self._queues: dict[Link, list[Packet]] = {link: [] for link in self._links}
        self._clogged_until: dict[Link, int] = {}
        self._cut: frozenset[Link] = frozenset()
        self._partition_until: int | None = None
        self._healed = False
        self._sequence = itertools.count()
        self._now = 0
        self._counters = _Counters()

    # --- traffic ------------------------------------------------------------

    def send(self, now_tick: int, src: ReplicaId, dst: ReplicaId, message: Message) -> None:
        """Put a message on the wire. Whether and when it arrives is the network's business."""
        self._advance(now_tick)
        link = (src, dst)
        if link not in self._queues:
            raise ValueError(f"no link {src} -> {dst} among replicas {self.replica_ids}")
        self._counters.sent += 1
        if link in self._cut:
            self._counters.dropped_partition += 1
            return
        faulty = not self._healed
        if faulty and self._chance(self.profile.loss_probability):
            self._counters.dropped_loss += 1
            return
        self._enqueue(now_tick, link, message)
        if faulty and self._chance(self.profile.duplication_probability):
            self._counters.duplicated += 1
            self._enqueue(now_tick, link, message)

    def deliverable(self, now_tick: int) -> list[tuple[ReplicaId, ReplicaId, Message]]:
        """Pop every message due at or before ``now_tick`` on an unclogged link, in
        (due tick, send order) order. A message whose link is cut now is dropped:
        a partition loses what was in flight."""
        self._advance(now_tick)
        due: list[tuple[int, int, Link, Message]] = []
        for link in self._links:
            queue = self._queues[link]
            if not queue or self._clogged_until.get(link, 0) > now_tick:
                continue
            while queue and queue[0][0] <= now_tick:
                at, sequence, message = heapq.heappop(queue)
                due.append((at, sequence, link, message))
        due.sort(key=lambda item: (item[0], item[1]))
        delivered = []
        for _, _, link, message in due:
            if link in self._cut:
                self._counters.dropped_partition += 1
            else:
                delivered.append((link[0], link[1], message))
        self._counters.delivered += len(delivered)
        return delivered

    def crash(self, replica: ReplicaId) -> None:
        """A crashed process loses what was in its sockets, in both directions."""
        for link in self._links:
            if replica in link:
                self._counters.dropped_crash += len(self._queues[link])
                self._queues[link] = []

    # --- weather ------------------------------------------------------------

    def tick(self, now_tick: int) -> None:
        """Let partitions and clogs begin and end, as the profile's odds say."""
        self._advance(now_tick)
        if self._partition_until is not None and now_tick >= self._partition_until:
            self._cut, self._partition_until = frozenset(), None
        if self._healed:
            return
        profile, rng = self.profile, self._rng
        if (
            not self._cut
            and len(self.replica_ids) > 1
            and self._chance(profile.partition_probability)
        ):
            kind = rng.choice(profile.partition_kinds)
            size = 1 if kind is PartitionKind.ISOLATE else rng.randint(1, len(self.replica_ids) - 1)
            side = rng.sample(self.replica_ids, size)
            extra = profile.partition_ticks_mean - profile.partition_ticks_min
            duration = profile.partition_ticks_min + self._exponential(extra)
            self.partition(kind, side, until_tick=now_tick + duration)
        if profile.clog_probability:
            for link in self._links:
                if self._clogged_until.get(link, 0) <= now_tick and self._chance(
                    profile.clog_probability
                ):
                    duration = 1 + self._exponential(profile.clog_ticks_mean - 1)
                    self.clog(link[0], link[1], until_tick=now_tick + duration)

    def partition(
        self, kind: PartitionKind, side: Collection[ReplicaId], until_tick: int | None = None
    ) -> None:
        """Cut the network now, replacing any partition in place; it lasts until
        ``until_tick`` (or until ``heal()`` when None). ``side`` is the isolated
        replica, one side of a split, or the side whose messages are lost."""
        inside = set(side)
        outside = set(self.replica_ids) - inside
        if not inside <= set(self.replica_ids) or not inside or not outside:
            raise ValueError(f"a partition side must be a proper subset of the replicas: {side}")
        if kind is PartitionKind.ISOLATE and len(inside) != 1:
            raise ValueError(f"ISOLATE cuts off exactly one replica, not {sorted(inside)}")
        cut = {(a, b) for a in inside for b in outside}
        if kind is not PartitionKind.ONE_WAY:
            cut |= {(b, a) for a, b in cut}
        self._cut = frozenset(cut)
        self._partition_until = until_tick
        self._counters.partitions += 1

    def clog(self, src: ReplicaId, dst: ReplicaId, until_tick: int) -> None:
        """Hold everything on ``src -> dst`` until ``until_tick``; then it all arrives."""
        if (src, dst) not in self._queues:
            raise ValueError(f"no link {src} -> {dst}")
        self._clogged_until[(src, dst)] = until_tick
        self._counters.clogs += 1

    def heal(self) -> None:
        """End every partition and clog, and stop loss, duplication and new faults:
        the liveness phase. Delays and link capacity still apply."""
        self._healed = True
        self._cut, self._partition_until = frozenset(), None
        self._clogged_until.clear()

    @property
    def healed(self) -> bool:
        return self._healed

    def partitioned_links(self) -> frozenset[Link]:
        """The directed links a partition cuts right now."""
        return self._cut

    def clogged_links(self, now_tick: int) -> frozenset[Link]:
        return frozenset(link for link, until in self._clogged_until.items() if until > now_tick)

    def statistics(self) -> NetworkStatistics:
        c = self._counters
        queued = sum(len(queue) for queue in self._queues.values())
        stats = NetworkStatistics(
            sent=c.sent,
            delivered=c.delivered,
            duplicated=c.duplicated,
            dropped_loss=c.dropped_loss,
            dropped_partition=c.dropped_partition,
            dropped_capacity=c.dropped_capacity,
            dropped_crash=c.dropped_crash,
            queued=queued,
            partitions=c.partitions,
            clogs=c.clogs,
        )
        assert stats.sent + stats.duplicated == stats.delivered + stats.dropped + stats.queued
        return stats

    # --- internals ----------------------------------------------------------

    def _advance(self, now_tick: int) -> None:
        assert now_tick >= self._now, f"time went backwards: {now_tick} < {self._now}"
        self._now = now_tick

    def _chance(self, probability: float) -> bool:
        """A coin flip that draws nothing when the odds are zero, so a perfect
        network consumes no randomness."""
        return probability > 0.0 and self._rng.random() < probability

    def _exponential(self, mean: int) -> int:
        return round(self._rng.expovariate(1.0 / mean)) if mean > 0 else 0

    def _delay(self) -> int:
        profile = self.profile
        delay = profile.delay_min_ticks + self._exponential(
            profile.delay_mean_ticks - profile.delay_min_ticks
        )
        if profile.jitter_ticks:
            delay += self._rng.randint(0, profile.jitter_ticks)
        return min(delay, profile.delay_max_ticks)

    def _enqueue(self, now_tick: int, link: Link, message: Message) -> None:
        queue = self._queues[link]
        heapq.heappush(queue, (now_tick + self._delay(), next(self._sequence), message))
        if len(queue) > self.profile.path_capacity_max:
            victim = self._rng.randrange(len(queue))
            queue[victim] = queue[-1]
            queue.pop()
            heapq.heapify(queue)
            self._counters.dropped_capacity += 1
