"""Percentiles: the exact definition, and the histogram's approximation of it."""

from __future__ import annotations

import pickle
import random

import pytest

from epaxosdb.bench.histogram import (
    LATENCY_US_MAX,
    Histogram,
    bucket_of,
    bucket_range,
    nearest_rank,
)


def test_nearest_rank_is_the_smallest_value_with_that_share_at_or_below() -> None:
    values = list(range(1, 101))
    assert nearest_rank(values, 50) == 50
    assert nearest_rank(values, 90) == 90
    assert nearest_rank(values, 99) == 99
    assert nearest_rank(values, 100) == 100
    assert nearest_rank(values, 0) == 1
    assert nearest_rank(values, 50.5) == 51
    thousand = list(range(1, 1001))
    assert nearest_rank(thousand, 99.9) == 999


def test_one_sample_is_every_percentile() -> None:
    assert nearest_rank([7.0], 0) == nearest_rank([7.0], 99.9) == 7.0
    assert Histogram.of([700]).percentile_us(99.9) == 700


def test_percentiles_of_nothing_or_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError):
        nearest_rank([], 50)
    with pytest.raises(ValueError):
        Histogram().percentile_us(50)
    with pytest.raises(ValueError):
        Histogram.of([1]).percentile_us(100.5)


def test_small_latencies_are_counted_exactly() -> None:
    values = [*range(0, 256, 3), 0, 255, 255]
    h = Histogram.of(values)
    ordered = sorted(values)
    for p in (1, 10, 50, 90, 99, 100):
        assert h.percentile_us(p) == nearest_rank(ordered, p)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histogram_percentiles_are_within_half_a_percent_of_the_exact_ones(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(8, 1.5)) for _ in range(20_000)]
    h = Histogram.of(values)
    ordered = sorted(values)
    for p in (50, 90, 99, 99.9, 100):
        exact = nearest_rank(ordered, p)
        assert abs(h.percentile_us(p) - exact) <= max(exact * 0.005, 0.5), p
    assert h.max_us == ordered[-1] and h.min_us == ordered[0]
    assert h.mean_us() == pytest.approx(sum(values) / len(values))


def test_every_value_falls_in_a_bucket_whose_range_holds_it() -> None:
    rng = random.Random(4)
    values = [0, 1, 255, 256, 257, 511, 512, 1 << 20, LATENCY_US_MAX]
    values += [rng.randrange(1 << rng.randrange(1, 40)) for _ in range(5_000)]
    for v in values:
        lo, hi = bucket_range(bucket_of(v))
        assert lo <= v <= hi
        assert hi - lo <= max(v, 1) / 128


def test_buckets_are_ordered_like_their_values() -> None:
    indexes = [bucket_of(v) for v in range(0, 200_000, 7)]
    assert indexes == sorted(indexes)


def test_merged_histograms_equal_one_histogram_of_all_samples() -> None:
    rng = random.Random(5)
    a = [rng.randrange(1, 100_000) for _ in range(3_000)]
    b = [rng.randrange(1, 5_000_000) for _ in range(2_000)]
    merged = Histogram.of(a)
    merged.merge(Histogram.of(b))
    whole = Histogram.of(a + b)
    assert merged.counts == whole.counts
    assert (merged.total, merged.sum_us, merged.min_us, merged.max_us) == (
        whole.total, whole.sum_us, whole.min_us, whole.max_us
    )


def test_a_histogram_survives_the_trip_between_processes() -> None:
    h = Histogram.of([5, 500, 50_000, 5_000_000])
    back = pickle.loads(pickle.dumps(h))
    assert back.counts == h.counts and back.total == 4 and back.max_us == 5_000_000
