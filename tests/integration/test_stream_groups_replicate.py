"""A stream consumed by one group whose consumers sit on all three replicas.

Consumers block in XREADGROUP (``>``, no timeout) on every replica while
producers XADD through every replica. Each XREADGROUP is a replicated write
that moves the group's last-delivered ID, so every entry must be delivered to
exactly one consumer cluster-wide — none twice (two replicas both handing out
an entry), none lost — and once every consumer has acknowledged what it got,
no replica may hold a pending entry. The group's state (last-delivered ID,
entries read, pending counts) must end identical on all three replicas.
"""

from __future__ import annotations

import threading
import time

import redis

from tests.integration.cluster import ProcessCluster

STREAM, GROUP = "events", "workers"
CONSUMERS_PER_REPLICA = 2
ENTRIES = 240
JOIN_S = 120.0
CAUGHT_UP_S = 30.0
STOP = b"stop"


def _consume(
    client: redis.Redis, name: str, got: list[bytes], errors: list[BaseException]
) -> None:
    """Read one entry at a time, acknowledge it, until a stop entry arrives."""
    try:
        while True:
            reply = client.xreadgroup(GROUP, name, {STREAM: ">"}, count=1, block=0)
            assert reply, reply
            [(stream, entries)] = reply
            assert stream == STREAM.encode(), reply
            for entry_id, fields in entries:
                assert client.xack(STREAM, GROUP, entry_id) == 1
                if fields[b"job"] == STOP:
                    return
                got.append(fields[b"job"])
    except BaseException as exc:  # handed to the test thread, which fails on it
        errors.append(exc)


def test_every_entry_reaches_exactly_one_consumer_of_the_group_on_any_replica(
    cluster3: ProcessCluster,
) -> None:
    admin = cluster3.client(1)
    assert admin.xgroup_create(STREAM, GROUP, id="$", mkstream=True) is True
    names = [f"c{i}.{k}" for i in cluster3 for k in range(CONSUMERS_PER_REPLICA)]
    consumers = [
        cluster3.client(i, socket_timeout=None)
        for i in cluster3
        for _ in range(CONSUMERS_PER_REPLICA)
    ]
    got: list[list[bytes]] = [[] for _ in consumers]
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_consume, args=(client, name, mine, errors))
        for client, name, mine in zip(consumers, names, got, strict=True)
    ]
    for thread in threads:
        thread.start()
    producers = [cluster3.client(i) for i in cluster3]
    for n in range(ENTRIES):
        producers[n % len(producers)].xadd(STREAM, {"job": f"job{n}"})
    for n in range(len(consumers)):
        producers[n % len(producers)].xadd(STREAM, {"job": STOP})
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert not any(thread.is_alive() for thread in threads), "a consumer never got its stop"
    assert not errors, errors
    delivered = [job for mine in got for job in mine]
    assert sorted(delivered) == sorted(f"job{n}".encode() for n in range(ENTRIES))
    assert sum(1 for mine in got if mine) > 1, "one consumer took everything"
    total = ENTRIES + len(consumers)
    summaries = []
    for client in producers:
        deadline = time.monotonic() + CAUGHT_UP_S
        while True:  # a replica may still be executing the last XACKs
            [group] = client.xinfo_groups(STREAM)
            if group["pending"] == 0 and group["entries-read"] == total:
                break
            assert time.monotonic() < deadline, f"replica never caught up: {group}"
            time.sleep(0.05)
        summaries.append(group)
        assert client.xpending(STREAM, GROUP)["pending"] == 0
        assert client.xlen(STREAM) == total
    assert all(summary == summaries[0] for summary in summaries), summaries
    assert summaries[0]["lag"] == 0 and summaries[0]["consumers"] == len(consumers)
