"""The allocator settings a serving replica asks glibc for (``runtime.allocator``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import pytest

from epaxosdb.runtime.allocator import release_free_memory, tune_heap

GLIBC = platform.libc_ver()[0] == "glibc"


def test_glibc_takes_the_settings_and_other_c_libraries_are_left_alone() -> None:
    assert tune_heap() is GLIBC


def test_what_a_burst_of_large_values_freed_goes_back_to_the_kernel_when_asked() -> None:
    tune_heap()
    burst = [bytes(4 << 20) for _ in range(8)]  # in the heap now, not mmap'd
    del burst  # 32 MiB free, under the 64 MiB glibc now keeps without asking
    assert release_free_memory() is GLIBC


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _fastbin_bytes_after_small_frees() -> int:
    """Free a thousand 64-byte blocks (past the per-thread cache's seven) and report
    what glibc's fastbins then hold (``mallinfo2().fsmblks``)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    libc.mallinfo2.restype = _MallInfo2
    blocks = [libc.malloc(64) for _ in range(1000)]
    held = [libc.malloc(64) for _ in range(1000)]  # neighbours, so nothing merges away
    for block in blocks:
        libc.free(block)
    fastbins: int = libc.mallinfo2().fsmblks
    for block in held:
        libc.free(block)
    return fastbins


@pytest.mark.skipif(not GLIBC, reason="fastbins are glibc's")
def test_fastbins_are_off_so_a_lua_states_frees_never_pile_up_for_a_sweep() -> None:
    tune_heap()
    assert _fastbin_bytes_after_small_frees() == 0
