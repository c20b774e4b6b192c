"""The key chooser and client placement: the interference knob must mean what the paper means.

Draw counts are large and every RNG is seeded, so the tolerances below are
several standard deviations wide and the tests are deterministic.
"""

from __future__ import annotations

import random
from collections import Counter

import hiredis
import pytest

from epaxosdb.bench.workload import HOT_KEY, KeyChooser, Workload, assign_clients, make_value

DRAWS = 50_000


def chooser(workload: Workload, client_id: int = 0, nonce: str = "n0", seed: int = 1) -> KeyChooser:
    return KeyChooser(workload, client_id, nonce, random.Random(seed), b"v" * 16)


@pytest.mark.parametrize("pct", [0.0, 2.0, 25.0, 100.0])
def test_conflict_percent_of_commands_go_to_the_one_hot_key(pct: float) -> None:
    c = chooser(Workload(read_ratio=0.5, conflict_pct=pct))
    hot = sum(c.choose()[1] == HOT_KEY for _ in range(DRAWS))
    assert abs(hot / DRAWS - pct / 100) < 0.01


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_read_ratio_is_the_share_of_gets(ratio: float) -> None:
    c = chooser(Workload(read_ratio=ratio, conflict_pct=10))
    reads = sum(c.choose()[0] for _ in range(DRAWS))
    assert abs(reads / DRAWS - ratio) < 0.01


def test_reads_and_writes_are_mixed_on_the_hot_key_too() -> None:
    """Read ratio and hot-key choice are independent: hot reads meet hot writes."""
    c = chooser(Workload(read_ratio=0.3, conflict_pct=50))
    hot_reads = Counter(c.choose() for _ in range(DRAWS))
    reads, writes = hot_reads[(True, HOT_KEY)], hot_reads[(False, HOT_KEY)]
    assert abs(reads / (reads + writes) - 0.3) < 0.02


def test_non_hot_keys_are_never_reused_within_or_across_clients() -> None:
    seen: set[bytes] = set()
    drawn = 0
    for client_id in range(4):
        c = chooser(Workload(conflict_pct=5), client_id=client_id, seed=7)
        for _ in range(5_000):
            key = c.choose()[1]
            if key != HOT_KEY:
                assert key not in seen
                seen.add(key)
                drawn += 1
    assert drawn == len(seen) > 18_000


def test_another_run_nonce_touches_none_of_the_previous_runs_keys() -> None:
    first = {chooser(Workload(), nonce="aaaa").choose()[1] for _ in range(100)}
    c = chooser(Workload(), nonce="bbbb")
    assert first.isdisjoint(c.choose()[1] for _ in range(100))


def test_keyspace_draws_non_hot_keys_from_that_many_shared_keys() -> None:
    c = chooser(Workload(conflict_pct=0, keyspace=10))
    keys = {c.choose()[1] for _ in range(2_000)}
    assert keys == {b"bench:k:%d" % i for i in range(10)}


def test_the_same_seed_gives_the_same_command_stream() -> None:
    w = Workload(read_ratio=0.5, conflict_pct=25)
    a, b = chooser(w, seed=3), chooser(w, seed=3)
    assert [a.next_request() for _ in range(200)] == [b.next_request() for _ in range(200)]


def test_requests_are_resp_arrays_of_get_or_set_with_the_value() -> None:
    value = make_value(100, random.Random(0))
    c = KeyChooser(Workload(read_ratio=0.5, conflict_pct=2), 0, "n", random.Random(5), value)
    reader = hiredis.Reader()
    reader.feed(b"".join(c.next_request() for _ in range(500)))
    kinds: Counter[bytes] = Counter()
    while (request := reader.gets()) is not False:
        assert isinstance(request, list)
        kinds[request[0]] += 1
        if request[0] == b"GET":
            assert len(request) == 2
        else:
            assert request[0] == b"SET" and len(request) == 3 and request[2] == value
    assert sum(kinds.values()) == 500 and set(kinds) == {b"GET", b"SET"}


@pytest.mark.parametrize("size", [0, 1, 16, 1024, 10_000])
def test_values_have_the_requested_size(size: int) -> None:
    assert len(make_value(size, random.Random(1))) == size


def test_clients_go_round_robin_over_the_ports_and_every_client_is_placed_once() -> None:
    plan = assign_clients(10, (7001, 7002, 7003), 3)
    slots = [s for worker in plan for s in worker]
    assert sorted(s.client_id for s in slots) == list(range(10))
    assert Counter(s.port for s in slots) == {7001: 4, 7002: 3, 7003: 3}
    assert all(s.port == (7001, 7002, 7003)[s.client_id % 3] for s in slots)
    assert sorted(len(w) for w in plan) == [3, 3, 4]


def test_never_more_workers_than_clients() -> None:
    assert len(assign_clients(2, (1,), 8)) == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"read_ratio": 1.5}, {"read_ratio": -0.1}, {"conflict_pct": 101}, {"value_size": -1},
     {"keyspace": 0}],
)
def test_a_workload_out_of_range_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Workload(**kwargs)  # type: ignore[arg-type]
