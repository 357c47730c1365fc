"""Work split over the cores with threads: scipy's sparse products and numpy's array
arithmetic release the GIL, so threads running them use every core."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


def cores(pieces: int) -> int:
    """How many parts to split ``pieces`` items of work into: one a core, at least one."""
    return max(1, min(pieces, os.cpu_count() or 1))


def pool() -> ThreadPoolExecutor:
    """One thread a core."""
    return ThreadPoolExecutor(cores(os.cpu_count() or 1))
