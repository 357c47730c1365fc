"""Work split over the cores with threads: scipy's sparse products and numpy's array
arithmetic release the GIL, so threads running them use every core."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


def cores(pieces: int) -> int:
    """How many parts to split ``pieces`` items of work into: one a core, at least one."""
    return max(1, min(pieces, os.cpu_count() or 1))


# rows of float64 arrays go in pieces under this many bytes: below the size from which
# malloc maps every array afresh, so that arrays made anew every layer reuse memory
# instead of costing the kernel's page faults (verify of sort n=65536: a quarter of its
# CPU; eval of rows past the input limit there: 9.7 s of CPU for 64 rows in one piece,
# 7.5 s in 21-row pieces)
PIECE_BYTES = 24 << 20


def rows_per_piece(width: int) -> int:
    """Rows of ``width`` float64 values that fit in a piece of PIECE_BYTES (one at least)."""
    return max(1, PIECE_BYTES // (max(width, 1) * 8))


def pool() -> ThreadPoolExecutor:
    """One thread a core."""
    return ThreadPoolExecutor(cores(os.cpu_count() or 1))
