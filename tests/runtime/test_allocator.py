"""The allocator settings a serving replica asks glibc for (``runtime.allocator``)."""

from __future__ import annotations

import platform

from epaxosdb.runtime.allocator import keep_large_allocations_in_heap


def test_glibc_takes_the_settings_and_other_c_libraries_are_left_alone() -> None:
    assert keep_large_allocations_in_heap() is (platform.libc_ver()[0] == "glibc")
