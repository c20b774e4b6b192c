"""Tune glibc's heap for a replica: large values kept in it, fastbins off (see below).

A replica copies whole values: out of LMDB on a read, into a new payload on
every change of a list, into the reply. With glibc's defaults an allocation
of a few megabytes is served by ``mmap`` and handed back to the kernel when
freed, or, once glibc raised its threshold, the freed memory at the top of
the heap is trimmed back to the kernel as soon as two such values are
freed. Either way the next copy touches fresh pages: a page fault and a
page of zeroes per 4 KiB, which cost several times the copy itself (reading
a 2.2 MB value from LMDB: 1.7 ms, against 0.33 ms with the settings below).

So a serving replica asks glibc to keep allocations of up to 32 MiB (the
most ``M_MMAP_THRESHOLD`` takes on 64-bit) in the heap and to keep up to
64 MiB of free memory at its top. The price is memory: a heap that served a
burst of large values holds on to what they freed, in its middle too (300
SETs of 1–4 MB over 20 keys left 270 MB of anonymous memory in use, against
120 MB with glibc's defaults). So when the replica goes idle the loop hands
the heap's free pages back (``release_free_memory``, glibc's
``malloc_trim``): the same run then came back to about what the defaults
leave. Other C libraries have other allocators: nothing is changed there.

The same call turns glibc's fastbins off (``M_MXFAST`` 0). Every EVAL and FCALL
builds a fresh Lua state and closes it (``commands.scripting``): a thousand or so
small blocks allocated and freed per call, in a heap that holds the replica's
long-lived data too. With fastbins, those frees pile up there and the state's
first large allocation makes glibc sweep them all (``malloc_consolidate``):
under ``redis-benchmark`` EVALs that sweep was a fifth of the replica's CPU.
Without them a freed block merges with its neighbours at once (small ones still
go through the per-thread cache first): an EVAL's CPU fell by a fifth to a
quarter (160 to 125 us, one replica, -P 16, 2026-11-29) and SET's and GET's
stayed where they were, side by side in one run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
from collections.abc import Callable

log = logging.getLogger(__name__)

M_MXFAST = 1
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20

_malloc_trim: Callable[[int], int] | None = None
"""glibc's ``malloc_trim``, once the settings took (``release_free_memory``)."""


def tune_heap() -> bool:
    """Apply the settings above when the C library is glibc; ``True`` if they took."""
    if platform.libc_ver()[0] != "glibc":
        return False
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    try:
        libc = ctypes.CDLL(path)
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(
        mallopt(M_MXFAST, 0)
        and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not applied:
        log.warning("glibc refused the allocator settings for large values; using its defaults")
        return False
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    global _malloc_trim
    _malloc_trim = malloc_trim
    return True


def release_free_memory() -> bool:
    """Give the kernel back the heap's free pages (``True`` if glibc released any).

    Only after ``tune_heap`` took: glibc's defaults return
    memory by themselves. It walks the heap, so the loop calls it when the
    replica goes idle, not between turns."""
    return _malloc_trim is not None and bool(_malloc_trim(0))
