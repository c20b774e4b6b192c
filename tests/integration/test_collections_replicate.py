"""Lists, sets and hashes written through every replica end the same on all of them.

Their commands rewrite whole values and SPOP picks at random, so this is
where a handler that is not deterministic — that read a clock, or seeded
its random pick from anything but the command — would make replicas drift
apart. Clients on all three replicas write the same few keys concurrently
(one key takes every kind of command, so WRONGTYPE errors happen too), then
SPOP draws from freshly filled 40-member sets, then every replica's
keyspace, contents included, must be the same. (Churn alone often leaves the
sets small or empty; the final SPOPs are what a SPOP seeded from the process's
own random state fails on: tried, it is caught.)
"""

from __future__ import annotations

import random
import threading
import time

import redis

from tests.integration.cluster import ProcessCluster

LISTS = ["list:0", "list:1"]
SETS = ["set:0", "set:1"]
HASHES = ["hash:0"]
MIXED = "mixed"
"""Every kind of command lands on this one too, so WRONGTYPE replies happen as well."""
KEYS = [*LISTS, *SETS, *HASHES, MIXED]
STEPS_PER_CLIENT = 300
SAME_DATA_S = 60.0


def _one_command(rng: random.Random) -> list[str]:
    element = rng.choice(["a", "b", "c", "d", "e", "f", "1", "2"])
    kind = rng.choice(["list", "set", "set", "hash"])

    def pick(names: list[str]) -> str:
        return MIXED if rng.random() < 0.1 else rng.choice(names)

    if kind == "list":
        key, other = pick(LISTS), pick(LISTS)
        return rng.choice(
            [
                ["LPUSH", key, element, element + "x"],
                ["RPUSH", key, element],
                ["LPOP", key],
                ["RPOP", key, "2"],
                ["LREM", key, "1", element],
                ["LINSERT", key, "BEFORE", element, "ins"],
                ["LMOVE", key, other, "LEFT", "RIGHT"],
                ["LTRIM", key, "0", "7"],
            ]
        )
    if kind == "set":
        key, other = pick(SETS), pick(SETS)
        return rng.choice(
            [
                ["SADD", key, element, element + "y", element + "z"],
                ["SADD", key, element],
                ["SREM", key, element],
                ["SPOP", key],
                ["SPOP", key, "2"],
                ["SMOVE", key, other, element],
                ["SDIFFSTORE", other, other, key],
                ["COPY", key, other, "REPLACE"],
            ]
        )
    key = pick(HASHES)
    return rng.choice(
        [
            ["HSET", key, element, str(rng.randrange(100))],
            ["HINCRBY", key, "n", "3"],
            ["HDEL", key, element],
            ["SETBIT", key, str(rng.randrange(40)), "1"],
        ]
    )


def _writer(client: redis.Redis, seed: int, errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    try:
        for _ in range(STEPS_PER_CLIENT):
            pipe = client.pipeline(transaction=False)
            for _ in range(rng.randint(1, 4)):
                pipe.execute_command(*_one_command(rng))
            pipe.execute(raise_on_error=False)  # WRONGTYPE replies are part of the game
    except BaseException as exc:  # handed to the test thread, which fails on it
        errors.append(exc)


def test_lists_sets_and_hashes_written_through_every_replica_end_the_same_on_all(
    cluster3: ProcessCluster,
) -> None:
    clients = [cluster3.client(i) for i in cluster3]
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_writer, args=(client, seed, errors))
        for seed, client in enumerate(clients * 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a writer did not finish"
    assert not errors, errors
    # Random picks from sets large enough for them to matter, through each replica.
    for i, key in enumerate(SETS):
        clients[i].delete(key)
        clients[i].sadd(key, *(f"m{n}" for n in range(40)))
        popped = clients[i + 1].spop(key, 5)
        assert len(popped) == 5
        assert clients[i].scard(key) == 35
    cluster3.wait_same_data(SAME_DATA_S)
    kinds = {key: clients[0].type(key) for key in KEYS}
    assert {kinds[k] for k in LISTS + HASHES} & {b"list", b"hash"}, kinds


KILL_ROUNDS = 2
ADDERS = 4


def test_collections_added_to_through_every_replica_survive_kill_9_of_each_in_turn(
    cluster3: ProcessCluster,
) -> None:
    """Unique fields and members added to one hash, set and sorted set through all three
    replicas, while one replica at a time is killed with SIGKILL and restarted: every
    acknowledged add is on every replica afterwards, and the replicas end equal. A
    collection changed turn after turn stays decoded between them until a bulk write
    (``storage.buffered``), so each kill finds some of them decoded only."""
    rng = random.Random(7)
    acknowledged: dict[str, list[str]] = {"hash": [], "set": [], "zset": []}
    lock = threading.Lock()
    stop = threading.Event()

    def add(n: int) -> None:
        pick = random.Random(n)
        connections: dict[int, redis.Redis] = {}
        i = 0
        while not stop.is_set():
            replica = pick.choice(list(cluster3))
            item = f"{n}:{i}"
            i += 1
            kind = pick.choice(list(acknowledged))
            try:
                client = connections.setdefault(replica, cluster3.client(replica))
                if kind == "hash":
                    client.hset("added:hash", item, i)
                elif kind == "set":
                    client.sadd("added:set", item)
                else:
                    client.zadd("added:zset", {item: i})
            except redis.RedisError:
                connections.pop(replica, None)  # a killed replica, or its outcome unknown
                time.sleep(0.05)
                continue
            with lock:
                acknowledged[kind].append(item)

    adders = [threading.Thread(target=add, args=(n,), daemon=True) for n in range(ADDERS)]
    for adder in adders:
        adder.start()
    try:
        for victim in rng.sample(list(cluster3), KILL_ROUNDS):
            time.sleep(rng.uniform(1.0, 2.0))
            cluster3.kill9(victim)
            time.sleep(rng.uniform(0.5, 1.5))
            cluster3.restart(victim)
            cluster3.wait_serving(victim, SAME_DATA_S)
        time.sleep(1.0)
    finally:
        stop.set()
        for adder in adders:
            adder.join(30)
    assert all(len(items) > 50 for items in acknowledged.values()), acknowledged.keys()
    cluster3.wait_same_data(SAME_DATA_S)
    for replica in cluster3:
        client = cluster3.client(replica)
        present = {
            "hash": set(client.hkeys("added:hash")),
            "set": client.smembers("added:set"),
            "zset": set(client.zrange("added:zset", 0, -1)),
        }
        lost = [
            (kind, item)
            for kind, items in acknowledged.items()
            for item in items
            if item.encode() not in present[kind]
        ]
        assert not lost, f"replica {replica} lost {len(lost)} acknowledged adds: {lost[:10]}"


def test_every_replica_answers_the_same_debug_digest_once_writes_stop(
    cluster3: ProcessCluster,
) -> None:
    """DEBUG DIGEST (Redis's fingerprint of the whole dataset) is how an operator checks
    that replicas hold the same data: written through all three, read back through each
    once the writes are acknowledged, the digests agree — and a write through one replica
    changes the digest every replica answers."""
    clients = [cluster3.client(i) for i in cluster3]
    rng = random.Random(11)
    for step in range(20):
        pipe = clients[step % 3].pipeline(transaction=False)
        for _ in range(3):
            pipe.execute_command(*_one_command(rng))
        pipe.execute(raise_on_error=False)  # WRONGTYPE and the like are part of the game
    cluster3.wait_same_data(SAME_DATA_S)
    digests = {i: cluster3.client(i).execute_command("DEBUG", "DIGEST") for i in cluster3}
    assert len(set(digests.values())) == 1, digests
    before = digests[1]
    clients[2].set("digest:changed", "yes")
    after = {i: cluster3.client(i).execute_command("DEBUG", "DIGEST") for i in cluster3}
    assert len(set(after.values())) == 1 and before not in after.values(), (before, after)
