"""Latency histograms that workers can fill cheaply and the parent can merge.

A run at tens of thousands of operations per second for a minute produces
millions of samples spread over several processes. Shipping and sorting them
all would cost more than the measurement, so each worker counts latencies
(in whole microseconds) in log-linear buckets, the layout of HdrHistogram
with 7 significant bits: values below 256 µs are exact, and above that each
power of two is split into 128 buckets, so a bucket is at most 1/128 of its
value wide. A percentile read back from the histogram is therefore within
0.4 % of the exact one (we report the bucket's midpoint), which is far below
run-to-run noise. Histograms merge by adding counts.

``bucket_of`` is written out in the worker's hot loop as well; the two must
stay the same formula.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

SUB_BITS = 7
LATENCY_US_MAX = (1 << 40) - 1
"""About 12 days: anything longer is clamped (and shows up as ``max`` anyway)."""
BUCKETS = ((LATENCY_US_MAX.bit_length() - SUB_BITS - 1) << SUB_BITS) + (2 << SUB_BITS)


def bucket_of(value_us: int) -> int:
    """The bucket index of a latency in microseconds (monotonic in the value)."""
    v = min(max(value_us, 0), LATENCY_US_MAX)
    shift = v.bit_length() - SUB_BITS - 1
    return v if shift <= 0 else (shift << SUB_BITS) + (v >> shift)


def bucket_range(index: int) -> tuple[int, int]:
    """The smallest and largest microsecond values that fall into bucket ``index``."""
    if index < (2 << SUB_BITS):
        return index, index
    shift = (index >> SUB_BITS) - 1
    mantissa = index - (shift << SUB_BITS)
    return mantissa << shift, ((mantissa + 1) << shift) - 1


def nearest_rank(sorted_values: Sequence[float], pct: float) -> float:
    """The exact nearest-rank percentile: the smallest value with ``pct``% of samples at or below.

    This is the definition the histogram approximates; tests compare the two.
    """
    if not sorted_values:
        raise ValueError("no samples")
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"percentile must be within 0..100, not {pct}")
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values) - 1e-9))
    return sorted_values[rank - 1]


class Histogram:
    """Counts per bucket, plus exact count, sum, min and max."""

    __slots__ = ("counts", "max_us", "min_us", "sum_us", "total")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * BUCKETS
        self.total = 0
        self.sum_us = 0
        self.min_us = LATENCY_US_MAX
        self.max_us = 0

    def record(self, value_us: int) -> None:
        self.counts[bucket_of(value_us)] += 1
        self.total += 1
        self.sum_us += value_us
        self.min_us = min(self.min_us, value_us)
        self.max_us = max(self.max_us, value_us)

    def merge(self, other: Histogram) -> None:
        if other.total == 0:
            return
        counts = self.counts
        for i, c in enumerate(other.counts):
            if c:
                counts[i] += c
        self.total += other.total
        self.sum_us += other.sum_us
        self.min_us = min(self.min_us, other.min_us)
        self.max_us = max(self.max_us, other.max_us)

    def percentile_us(self, pct: float) -> float:
        """Nearest-rank percentile, as the midpoint of its bucket, clamped to [min, max]."""
        if self.total == 0:
            raise ValueError("no samples")
        if not 0.0 <= pct <= 100.0:
            raise ValueError(f"percentile must be within 0..100, not {pct}")
        rank = max(1, math.ceil(pct / 100.0 * self.total - 1e-9))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                lo, hi = bucket_range(i)
                return min(max((lo + hi) / 2.0, self.min_us), self.max_us)
        return float(self.max_us)  # unreachable while total == sum(counts)

    def mean_us(self) -> float:
        return self.sum_us / self.total if self.total else 0.0

    def __reduce__(self) -> tuple[object, tuple[dict[int, int], int, int, int, int]]:
        """Pickle sparsely: most of the 4352 buckets are empty, and workers ship many of these."""
        counts = {i: c for i, c in enumerate(self.counts) if c}
        return Histogram.from_counts, (counts, self.total, self.sum_us, self.min_us, self.max_us)

    @classmethod
    def from_counts(
        cls, counts: Mapping[int, int], total: int, sum_us: int, min_us: int, max_us: int
    ) -> Histogram:
        h = cls()
        for i, c in counts.items():
            h.counts[i] += c
        h.total, h.sum_us, h.min_us, h.max_us = total, sum_us, min_us, max_us
        return h

    @classmethod
    def of(cls, values_us: Iterable[int]) -> Histogram:
        h = cls()
        for v in values_us:
            h.record(v)
        return h
