"""The allocator settings a serving replica asks glibc for (``runtime.allocator``)."""

from __future__ import annotations

import platform

from epaxosdb.runtime.allocator import keep_large_allocations_in_heap, release_free_memory

GLIBC = platform.libc_ver()[0] == "glibc"


def test_glibc_takes_the_settings_and_other_c_libraries_are_left_alone() -> None:
    assert keep_large_allocations_in_heap() is GLIBC


def test_what_a_burst_of_large_values_freed_goes_back_to_the_kernel_when_asked() -> None:
    keep_large_allocations_in_heap()
    burst = [bytes(4 << 20) for _ in range(8)]  # in the heap now, not mmap'd
    del burst  # 32 MiB free, under the 64 MiB glibc now keeps without asking
    assert release_free_memory() is GLIBC
