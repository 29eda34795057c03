"""Process-level tuning for CPU training.

glibc serves allocations above its mmap threshold (at most 32 MiB) with fresh mmaps and returns them to
the kernel on free. The paper-size denoiser at batch 32 allocates activations just above that size many
times per step, so every step faults millions of fresh pages in: about half of a CPU training step went
to the kernel in ``diamond bench``. Keeping freed memory in the heap instead removes that cost.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """On glibc, serve large allocations from the heap and never trim it; returns whether it applied.

    Skipped (glibc defaults kept) when DIAMOND_DEFAULT_MALLOC=1 is set, and on other C libraries.
    """
    if os.environ.get("DIAMOND_DEFAULT_MALLOC") == "1" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok_mmap = mallopt(M_MMAP_MAX, 0) == 1
    ok_trim = mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    return ok_mmap and ok_trim
