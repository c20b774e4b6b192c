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
