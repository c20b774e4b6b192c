"""A stream read by a consumer group under faults: the workload and its check.

Producer threads XADD unique items and consumer threads read them with
XREADGROUP ``>`` and XACK what they read, each through its own replica with
retries off, while the nemesis runs (``test_linearizability_faults`` runs
this workload beside its own). Then one consumer claims every entry still
pending (XAUTOCLAIM), reads what is left, and acknowledges all. Checked,
with indeterminate operations allowed either outcome (``faults``):

* every acknowledged XADD's entry, under the ID it was given, is delivered at
  least once, and nothing is delivered that was never added;
* the group's cursor only moves forward: a ``>`` read that returned before
  another began delivered only smaller IDs;
* at the end every replica holds the same entries, and nothing is pending.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import cast

from tests.integration.cluster import ProcessCluster
from tests.integration.faults import (
    CLIENT_TIMEOUT_S,
    SEED,
    SERVE_AGAIN_S,
    attempt,
    worker_threads,
)

STREAM = b"jobs"
GROUP = "workers"
PRODUCERS = 2
CONSUMERS = 2
FINAL_BATCH = 500


@dataclass(frozen=True)
class Read:
    """One ``>`` read that returned: when, and the IDs it delivered."""

    call: float
    ret: float
    ids: tuple[bytes, ...]


@dataclass
class GroupRun:
    added: dict[bytes, bytes] = field(default_factory=dict)
    """Item → the ID its acknowledged XADD answered."""
    unsure_adds: set[bytes] = field(default_factory=set)
    delivered: dict[bytes, set[bytes]] = field(default_factory=dict)
    """Item → every ID it was delivered under."""
    reads: list[Read] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        self.outcomes[what] = self.outcomes.get(what, 0) + 1

    def deliver(self, entries: object) -> tuple[bytes, ...]:
        """Note the ``[(id, {b"item": item}), ...]`` of a read or a claim; their IDs."""
        assert isinstance(entries, list), entries
        ids = []
        for entry_id, fields in entries:
            assert fields is not None, f"entry {entry_id!r} pending but deleted"
            self.delivered.setdefault(fields[b"item"], set()).add(entry_id)
            ids.append(entry_id)
        return tuple(ids)


def producer(cluster: ProcessCluster, run: GroupRun, who: int, stop: threading.Event) -> None:
    client = cluster.client(1 + who % 3, socket_timeout=CLIENT_TIMEOUT_S)
    n = 0
    while not stop.is_set():
        n += 1
        item = b"job%d-%d" % (who, n)
        outcome, reply = attempt(partial(client.xadd, STREAM, {b"item": item}))
        with run.lock:
            run.count(f"xadd {outcome}")
            if outcome == "ok":
                assert isinstance(reply, bytes)
                run.added[item] = reply
            elif outcome == "unsure":
                run.unsure_adds.add(item)
        if outcome != "ok":
            stop.wait(0.05)


def consumer(cluster: ProcessCluster, run: GroupRun, who: int, stop: threading.Event) -> None:
    rng = random.Random(SEED * 10 + who)
    client = cluster.client(1 + (who + 1) % 3, socket_timeout=CLIENT_TIMEOUT_S)
    name = f"c{who}"
    while not stop.is_set():
        call = time.monotonic()
        read = partial(
            client.xreadgroup, GROUP, name, {STREAM: ">"}, count=rng.randint(1, 4), block=None
        )
        outcome, reply = attempt(read)
        ids: tuple[bytes, ...] = ()
        with run.lock:
            run.count(f"xreadgroup {outcome}")
            if outcome == "ok" and reply:
                assert isinstance(reply, list)
                ids = run.deliver(reply[0][1])
                run.reads.append(Read(call, time.monotonic(), ids))
        if ids:
            outcome, _ = attempt(partial(client.xack, STREAM, GROUP, *ids))
            with run.lock:
                run.count(f"xack {outcome}")
        else:
            stop.wait(0.02)


def finish(cluster: ProcessCluster, run: GroupRun) -> None:
    """Claim what is pending, read what is left, acknowledge everything, through each
    replica in turn until nothing is pending."""
    for i in cluster:
        cluster.wait_serving(i, SERVE_AGAIN_S)
    clients = [cluster.client(i, socket_timeout=CLIENT_TIMEOUT_S) for i in cluster]
    deadline = time.monotonic() + SERVE_AGAIN_S
    turn = 0
    while True:
        assert time.monotonic() < deadline, "the group never got to the end of the stream"
        client = clients[turn % len(clients)]
        turn += 1
        claim = partial(
            client.xautoclaim, STREAM, GROUP, "final", 0, start_id="0-0", count=FINAL_BATCH
        )
        outcome, claimed = attempt(claim)
        if outcome != "ok":
            continue
        assert isinstance(claimed, list)
        outcome, fresh = attempt(
            partial(client.xreadgroup, GROUP, "final", {STREAM: ">"}, count=FINAL_BATCH)
        )
        if outcome != "ok":
            continue
        ids = run.deliver(claimed[1]) + (run.deliver(cast(list, fresh)[0][1]) if fresh else ())
        if ids:
            attempt(partial(client.xack, STREAM, GROUP, *ids))
            continue
        if client.xpending(STREAM, GROUP)["pending"] == 0:
            break
    entries = [cast(list[tuple[bytes, dict[bytes, bytes]]], c.xrange(STREAM)) for c in clients]
    assert entries[0] == entries[1] == entries[2], "the replicas hold different entries"
    for entry_id, fields in entries[0]:
        assert entry_id in run.delivered.get(fields[b"item"], set()), entry_id


def violations(run: GroupRun) -> list[str]:
    found = []
    lost = sorted(item for item, entry_id in run.added.items() if item not in run.delivered)
    if lost:
        found.append(f"added but never delivered: {lost[:10]}")
    strangers = sorted(set(run.delivered) - set(run.added) - run.unsure_adds)
    if strangers:
        found.append(f"delivered but never added: {strangers[:10]}")
    moved = sorted(
        item
        for item, ids in run.delivered.items()
        if len(ids) > 1 or (item in run.added and ids != {run.added[item]})
    )
    if moved:
        found.append(f"delivered under another ID than XADD gave: {moved[:10]}")
    backwards = _reads_going_back(run.reads)
    if backwards:
        found.append(f"a '>' read after another delivered an older ID: {backwards[:3]}")
    return found


def _reads_going_back(reads: list[Read]) -> list[tuple[bytes, ...]]:
    """The ``>`` reads that delivered an ID no greater than one a read that returned
    before they began had delivered (one sweep over the reads by start and by return)."""
    by_return = sorted(reads, key=lambda r: r.ret)
    newest = (-1, -1)
    returned = 0
    found = []
    for read in sorted(reads, key=lambda r: r.call):
        while returned < len(by_return) and by_return[returned].ret < read.call:
            newest = max(newest, *map(_id, by_return[returned].ids))
            returned += 1
        if min(map(_id, read.ids)) <= newest:
            found.append(read.ids)
    return found


def _id(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq)


def workers(
    cluster: ProcessCluster, run: GroupRun, stop: threading.Event
) -> list[threading.Thread]:
    """The group, created, and the producer and consumer threads, not started, that run
    until ``stop``."""
    assert cluster.client(1).xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    return worker_threads(cluster, run, stop, (producer, PRODUCERS), (consumer, CONSUMERS))
