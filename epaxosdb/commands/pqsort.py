"""Redis 7.0's ``pqsort``: the partial quicksort SORT (BY with LIMIT) and the GEO searches
(COUNT) use, ported because which of several equal elements land in the range asked for,
and in what order, is this algorithm's and not a stable sort's.

It is NetBSD's quicksort (Bentley and McIlroy's three-way partitioning, insertion sort
for parts of under seven elements) that skips the parts outside the range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Compare = Callable[[T, T], int]
"""``compare(a, b)``: negative, zero or positive, as C's comparators answer."""


def _median_of_three(a: list[T], i: int, j: int, k: int, compare: Compare[T]) -> int:
    if compare(a[i], a[j]) < 0:
        if compare(a[j], a[k]) < 0:
            return j
        return k if compare(a[i], a[k]) < 0 else i
    if compare(a[j], a[k]) > 0:
        return j
    return i if compare(a[i], a[k]) < 0 else k


def _insertion_sort(a: list[T], base: int, n: int, compare: Compare[T]) -> None:
    for m in range(base + 1, base + n):
        i = m
        while i > base and compare(a[i - 1], a[i]) > 0:
            a[i], a[i - 1] = a[i - 1], a[i]
            i -= 1


def _swap_runs(a: list[T], i: int, j: int, n: int) -> None:
    for offset in range(n):
        a[i + offset], a[j + offset] = a[j + offset], a[i + offset]


def _outside(first: int, count: int, low: int, high: int) -> bool:
    """Whether elements ``first .. first + count - 1`` miss the range ``low .. high``."""
    end = first + count - 1
    return (low < first and high < first) or (low > end and high > end)


def partial_quicksort(a: list[T], compare: Compare[T], low: int, high: int) -> None:
    """Redis 7.0's ``pqsort(a, n, compare, low, high)``: NetBSD's quicksort (Bentley and
    McIlroy's three-way partitioning, insertion sort for parts of under seven) that leaves
    alone the parts outside ``a[low..high]``. Which of several equal elements land in that
    range, and in what order, is this algorithm's: hence the port. (Later NetBSD and
    Redis versions switch to insertion sort after a partition that swapped nothing;
    7.0.15's does not.)"""
    _pqsort(a, 0, len(a), compare, low, high)


def _pqsort(a: list[T], base: int, n: int, compare: Compare[T], low: int, high: int) -> None:
    """``_pqsort`` of ``a[base:base + n]``, in place."""
    while True:
        if n < 7:
            _insertion_sort(a, base, n, compare)
            return
        middle = base + n // 2
        if n > 7:
            left, right = base, base + n - 1
            if n > 40:
                d = n // 8
                left = _median_of_three(a, left, left + d, left + 2 * d, compare)
                middle = _median_of_three(a, middle - d, middle, middle + d, compare)
                right = _median_of_three(a, right - 2 * d, right - d, right, compare)
            middle = _median_of_three(a, left, middle, right, compare)
        a[base], a[middle] = a[middle], a[base]
        pa = pb = base + 1
        pc = pd = base + n - 1
        while True:
            while pb <= pc:
                result = compare(a[pb], a[base])
                if result > 0:
                    break
                if result == 0:
                    a[pa], a[pb] = a[pb], a[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                result = compare(a[pc], a[base])
                if result < 0:
                    break
                if result == 0:
                    a[pc], a[pd] = a[pd], a[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            a[pb], a[pc] = a[pc], a[pb]
            pb += 1
            pc -= 1
        end = base + n
        r = min(pa - base, pb - pa)
        _swap_runs(a, base, pb - r, r)
        r = min(pd - pc, end - pd - 1)
        _swap_runs(a, pb, end - r, r)
        r = pb - pa
        if r > 1 and not _outside(base, r, low, high):
            _pqsort(a, base, r, compare, low, high)
        r = pd - pc
        if r <= 1:
            return
        base, n = end - r, r  # iterate rather than recurse, as the C does
        if _outside(base, n, low, high):
            return
