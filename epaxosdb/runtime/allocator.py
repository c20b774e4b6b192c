"""Keep large values' memory in the heap: glibc's defaults make every copy of one fault.

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
64 MiB of free memory at its top. The price is memory the process keeps
after a burst of large values, bounded by those 64 MiB per arena. Other C
libraries have other allocators: nothing is changed there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20


def keep_large_allocations_in_heap() -> bool:
    """Apply the settings above when the C library is glibc; ``True`` if they took."""
    if platform.libc_ver()[0] != "glibc":
        return False
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    try:
        mallopt = ctypes.CDLL(path).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not applied:
        log.warning("glibc refused the allocator settings for large values; using its defaults")
    return applied
