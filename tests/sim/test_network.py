"""The simulated network: deterministic, and each fault observable on its own."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from epaxosdb.sim.network import NetworkProfile, PartitionKind, SimNetwork
from protocol.messages import Message, SyncRequest

IDS = (1, 2, 3)


def tagged(n: int) -> Message:
    """A message carrying ``n``, so tests can tell messages apart."""
    return SyncRequest(sender=0, committed=(n,), wanted=())


def tag(message: Message) -> int:
    assert isinstance(message, SyncRequest)
    return message.committed[0]


def network(profile: NetworkProfile, seed: int = 0, ids: tuple[int, ...] = IDS) -> SimNetwork:
    return SimNetwork(ids, random.Random(seed), profile)


def run_traffic(net: SimNetwork, rng: random.Random, ticks: int) -> list[tuple[int, int, int, int]]:
    """Each tick: evolve, deliver, then send a few random messages. Returns
    (tick, src, dst, tag) of every delivery."""
    log = []
    for now in range(1, ticks + 1):
        net.tick(now)
        log += [(now, src, dst, tag(m)) for src, dst, m in net.deliverable(now)]
        for _ in range(rng.randint(0, 4)):
            src, dst = rng.sample(IDS, 2)
            net.send(now, src, dst, tagged(rng.randrange(10**6)))
    return log


HOSTILE = NetworkProfile(
    delay_min_ticks=1,
    delay_mean_ticks=4,
    delay_max_ticks=20,
    jitter_ticks=5,
    loss_probability=0.1,
    duplication_probability=0.1,
    partition_probability=0.02,
    partition_kinds=tuple(PartitionKind),
    partition_ticks_min=5,
    partition_ticks_mean=30,
    clog_probability=0.005,
    clog_ticks_mean=10,
    path_capacity_max=30,
)


def test_the_same_seed_and_calls_give_the_same_deliveries() -> None:
    first = run_traffic(network(HOSTILE, seed=7), random.Random(1), 500)
    again = run_traffic(network(HOSTILE, seed=7), random.Random(1), 500)
    other = run_traffic(network(HOSTILE, seed=8), random.Random(1), 500)
    assert first == again
    assert first != other


def test_every_random_profile_is_valid_and_seeds_give_different_weather() -> None:
    profiles = {NetworkProfile.random(random.Random(seed)) for seed in range(50)}
    assert len(profiles) > 40
    assert any(p.partition_probability for p in profiles)
    assert any(p.loss_probability == 0 for p in profiles)


def test_a_perfect_network_delivers_everything_one_tick_later_in_send_order() -> None:
    rng = random.Random(3)
    state_before = rng.getstate()
    net = SimNetwork(IDS, rng, NetworkProfile.perfect())
    for n in range(100):
        net.send(5, 1, 2, tagged(n))
    net.tick(5)
    assert net.deliverable(5) == []
    net.tick(6)
    assert [tag(m) for _, _, m in net.deliverable(6)] == list(range(100))
    assert rng.getstate() == state_before, "a perfect network draws no randomness"


def test_loss_drops_about_the_configured_share() -> None:
    net = network(NetworkProfile(loss_probability=0.3, path_capacity_max=10_000), seed=1)
    for n in range(2000):
        net.send(0, 1, 2, tagged(n))
    delivered = net.deliverable(1)
    stats = net.statistics()
    assert 500 < stats.dropped_loss < 700
    assert len(delivered) == 2000 - stats.dropped_loss == stats.delivered


def test_duplication_delivers_some_messages_twice() -> None:
    profile = NetworkProfile(duplication_probability=0.2, path_capacity_max=10_000)
    net = network(profile, seed=2)
    for n in range(1000):
        net.send(0, 1, 2, tagged(n))
    copies = Counter(tag(m) for _, _, m in net.deliverable(10))
    assert set(copies.values()) == {1, 2}
    assert sum(c == 2 for c in copies.values()) == net.statistics().duplicated
    assert 150 < net.statistics().duplicated < 250


def test_jitter_reorders_messages_on_one_link_within_the_delay_bounds() -> None:
    profile = NetworkProfile(
        delay_min_ticks=2, delay_mean_ticks=4, delay_max_ticks=12, jitter_ticks=3
    )
    net = network(profile, seed=4)
    sent_at = {}
    received = []
    for now in range(1, 200):
        received += [(now, tag(m)) for _, _, m in net.deliverable(now)]
        if now <= 100:
            net.send(now, 2, 3, tagged(now))
            sent_at[now] = now
    order = [n for _, n in received]
    assert sorted(order) == list(range(1, 101))
    assert order != sorted(order), "jitter and the exponential tail reorder"
    delays = [now - sent_at[n] for now, n in received]
    assert min(delays) >= 2 and max(delays) <= 12


def test_a_one_way_partition_blocks_only_one_direction() -> None:
    net = network(NetworkProfile.perfect())
    net.partition(PartitionKind.ONE_WAY, {1})
    assert net.partitioned_links() == {(1, 2), (1, 3)}
    for src, dst in [(1, 2), (2, 1), (1, 3), (3, 1), (2, 3)]:
        net.send(0, src, dst, tagged(10 * src + dst))
    delivered = {(src, dst) for src, dst, _ in net.deliverable(1)}
    assert delivered == {(2, 1), (3, 1), (2, 3)}
    assert net.statistics().dropped_partition == 2


def test_a_split_blocks_both_directions_and_isolation_cuts_off_one_replica() -> None:
    net = network(NetworkProfile.perfect(), ids=(1, 2, 3, 4))
    net.partition(PartitionKind.SPLIT, {1, 2})
    assert net.partitioned_links() == {(a, b) for a in (1, 2) for b in (3, 4)} | {
        (b, a) for a in (1, 2) for b in (3, 4)
    }
    net.partition(PartitionKind.ISOLATE, {4})
    assert net.partitioned_links() == {(4, r) for r in (1, 2, 3)} | {(r, 4) for r in (1, 2, 3)}
    with pytest.raises(ValueError, match="exactly one"):
        net.partition(PartitionKind.ISOLATE, {1, 2})
    with pytest.raises(ValueError, match="proper subset"):
        net.partition(PartitionKind.SPLIT, {1, 2, 3, 4})


def test_a_partition_loses_messages_already_in_flight() -> None:
    net = network(NetworkProfile(delay_min_ticks=5, delay_mean_ticks=5, delay_max_ticks=5))
    net.send(0, 1, 2, tagged(1))
    net.partition(PartitionKind.ISOLATE, {2}, until_tick=10)
    assert net.deliverable(5) == []
    net.tick(10)
    assert net.partitioned_links() == frozenset()
    net.send(10, 1, 2, tagged(2))
    assert [tag(m) for _, _, m in net.deliverable(15)] == [2]


def test_random_partitions_come_and_go_in_every_configured_shape() -> None:
    profile = NetworkProfile(
        partition_probability=0.05,
        partition_kinds=tuple(PartitionKind),
        partition_ticks_min=3,
        partition_ticks_mean=10,
    )
    net = network(profile, seed=5, ids=(1, 2, 3, 4, 5))
    shapes: set[str] = set()
    whole_ticks = 0
    for now in range(1, 3000):
        net.tick(now)
        cut = net.partitioned_links()
        if not cut:
            whole_ticks += 1
            continue
        if any((b, a) not in cut for a, b in cut):
            shapes.add("one-way")
        else:  # one replica against four cuts 2 * 4 links; two against three, 2 * 6
            shapes.add("isolate" if len(cut) == 8 else "split")
    assert shapes == {"isolate", "split", "one-way"}
    assert 0 < whole_ticks < 2999
    assert net.statistics().partitions > 10


def test_a_clogged_link_holds_its_messages_until_the_clog_ends() -> None:
    net = network(NetworkProfile.perfect())
    net.clog(1, 2, until_tick=20)
    net.send(0, 1, 2, tagged(1))
    net.send(0, 2, 1, tagged(2))
    assert [tag(m) for _, _, m in net.deliverable(1)] == [2]
    assert net.clogged_links(1) == {(1, 2)}
    assert net.deliverable(19) == []
    assert [tag(m) for _, _, m in net.deliverable(20)] == [1]


def test_random_clogs_hold_messages_back_but_lose_none() -> None:
    net = network(NetworkProfile(clog_probability=0.01, clog_ticks_mean=30), seed=6)
    delays = []
    for now in range(1, 1000):
        net.tick(now)
        delays += [now - tag(m) for _, _, m in net.deliverable(now)]
        if now < 900:
            net.send(now, 1, 2, tagged(now))
    assert net.statistics().clogs > 0
    assert len(delays) == 899, "clogs delay, they do not drop"
    assert Counter(delays)[1] < 899 and max(delays) > 10, "delays are one tick unless clogged"


def test_a_full_link_drops_messages() -> None:
    net = network(NetworkProfile(path_capacity_max=10), seed=9)
    for n in range(25):
        net.send(0, 1, 3, tagged(n))
    stats = net.statistics()
    assert stats.dropped_capacity == 15 and stats.queued == 10
    assert len(net.deliverable(1)) == 10


def test_after_heal_everything_sent_arrives_once_within_the_max_delay() -> None:
    net = network(HOSTILE, seed=11)
    run_traffic(net, random.Random(4), 300)
    net.partition(PartitionKind.SPLIT, {1})
    net.clog(2, 3, until_tick=10_000)
    net.heal()
    assert net.partitioned_links() == frozenset() and net.clogged_links(301) == frozenset()
    sent_at: dict[int, int] = {}
    arrivals: dict[int, list[int]] = {}
    for now in range(301, 700):
        net.tick(now)
        for _, _, m in net.deliverable(now):
            if tag(m) in sent_at:
                arrivals.setdefault(tag(m), []).append(now)
        if now < 600 and now % 3 == 0:
            n = 10_000_000 + now
            net.send(now, 1 + now % 3, 1 + (now + 1) % 3, tagged(n))
            sent_at[n] = now
    assert set(arrivals) == set(sent_at)
    for n, times in arrivals.items():
        assert len(times) == 1
        assert times[0] - sent_at[n] <= HOSTILE.delay_max_ticks


def test_crash_drops_everything_queued_to_and_from_the_replica() -> None:
    net = network(NetworkProfile(delay_min_ticks=3, delay_mean_ticks=3, delay_max_ticks=3))
    for src, dst in [(1, 2), (2, 1), (3, 2), (1, 3), (3, 1)]:
        net.send(0, src, dst, tagged(10 * src + dst))
    net.crash(2)
    assert {(src, dst) for src, dst, _ in net.deliverable(3)} == {(1, 3), (3, 1)}
    assert net.statistics().dropped_crash == 3


def test_statistics_account_for_every_message() -> None:
    net = network(HOSTILE, seed=12)
    run_traffic(net, random.Random(5), 1000)
    for n in range(100):
        net.send(1000, 2, 3, tagged(n))
    net.crash(3)
    stats = net.statistics()
    assert stats.sent + stats.duplicated == stats.delivered + stats.dropped + stats.queued
    assert min(stats.dropped_loss, stats.dropped_partition, stats.dropped_capacity) > 0
    assert stats.duplicated > 0 and stats.delivered > 0


def test_invalid_profiles_and_calls_are_refused() -> None:
    with pytest.raises(ValueError, match="delay"):
        NetworkProfile(delay_min_ticks=3, delay_mean_ticks=2)
    with pytest.raises(ValueError, match="probability"):
        NetworkProfile(loss_probability=1.5)
    with pytest.raises(ValueError, match="PartitionKind"):
        NetworkProfile(partition_probability=0.1)
    net = network(NetworkProfile.perfect())
    with pytest.raises(ValueError, match="no link"):
        net.send(0, 1, 9, tagged(0))
    net.tick(5)
    with pytest.raises(AssertionError, match="backwards"):
        net.deliverable(4)
