"""Comparator schedules: the sorting algorithms themselves, before any ReLU encoding.

A schedule is a list of stages; a stage is a pair of equal-length integer arrays
``(lo, hi)`` of disjoint wires: each comparator puts the minimum of its two wires on
``lo`` and the maximum on ``hi``. Every schedule here uses ascending comparators only
(``lo < hi``), so a schedule for ``N`` wires sorts ``n < N`` wires after dropping every
comparator that touches a wire ``>= n``: imagine those wires hold ``+inf``; an
ascending comparator never moves ``+inf`` to a lower wire, so those comparators are
no-ops (the *pruning* argument, used for every ``n`` that is not a table entry or a
power of two).

- :func:`bitonic_stages`: Batcher's bitonic sorter, ``p(p+1)/2`` stages,
  ``n p (p+1) / 4`` comparators for ``n = 2^p``;
- :func:`oddeven_stages`: Batcher's odd-even merge sort, same depth,
  ``(p^2 - p + 4) 2^(p-2) - 1`` comparators;
- :func:`best_stages`: the best published networks for ``n <= 16`` (minimum known depth,
  from B. Dobbelaere's list of sorting networks), odd-even merge sort beyond.
"""

from __future__ import annotations

import numpy as np

from reluc.formulas import clog2

Stage = tuple[np.ndarray, np.ndarray]


def _stage(lo: np.ndarray, step: int, n: int) -> Stage:
    lo = lo[lo + step < n].astype(np.int64)
    return lo, lo + step


def bitonic_stages(n: int) -> list[Stage]:
    """Bitonic sorter in its all-ascending form: each merge of blocks of ``k`` starts with
    a mirrored step (``i`` with ``i XOR (k-1)``), then half-cleaners (``i`` with
    ``i XOR j``, ``j = k/4 .. 1``); pruned to ``n`` wires."""
    size = 1 << clog2(n)
    wires = np.arange(size)
    stages = []
    k = 2
    while k <= size:
        for mask in [k - 1] + [k >> s for s in range(2, k.bit_length())]:
            partner = wires ^ mask
            lo = wires[(wires < partner) & (partner < n)]
            stages.append((lo.astype(np.int64), (lo ^ mask).astype(np.int64)))
        k *= 2
    return [s for s in stages if s[0].size]


def oddeven_stages(n: int) -> list[Stage]:
    """Batcher's odd-even merge sort (all comparators ascending), pruned to ``n`` wires.

    Stage ``(p, k)`` for ``p = 1, 2, 4, ..`` and ``k = p, p/2, .., 1`` compares ``w`` with
    ``w + k`` for every ``w`` with ``(w - k mod p) mod 2k < k`` whose pair lies in one block
    of ``2p`` wires."""
    size = 1 << clog2(n)
    stages = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            w = np.arange(size - k)
            r = k % p
            sel = (w >= r) & ((w - r) % (2 * k) < k) & (w // (2 * p) == (w + k) // (2 * p))
            stages.append(_stage(w[sel], k, n))
            k //= 2
        p *= 2
    return [s for s in stages if s[0].size]


# Best known networks, as published (layers of ascending comparators); each one is
# re-checked by the 0-1 principle in the tests. Sizes without an entry use the next
# larger entry, pruned. Depths reached: n = 2..10 and 13..16 the optimal depth (1, 3, 3,
# 5, 5, 6, 6, 7, 7 and 9); n = 11, 12 depth 9 (the published optimum is 8).
_PUBLISHED = {
    2: [[(0, 1)]],
    4: [[(0, 2), (1, 3)], [(0, 1), (2, 3)], [(1, 2)]],
    6: [[(0, 5), (1, 3), (2, 4)], [(1, 2), (3, 4)], [(0, 3), (2, 5)],
        [(0, 1), (2, 3), (4, 5)], [(1, 2), (3, 4)]],
    8: [[(0, 2), (1, 3), (4, 6), (5, 7)], [(0, 4), (1, 5), (2, 6), (3, 7)],
        [(0, 1), (2, 3), (4, 5), (6, 7)], [(2, 4), (3, 5)], [(1, 4), (3, 6)],
        [(1, 2), (3, 4), (5, 6)]],
    9: [[(0, 3), (1, 7), (2, 5), (4, 8)], [(0, 7), (2, 4), (3, 8), (5, 6)],
        [(0, 2), (1, 3), (4, 5), (7, 8)], [(1, 4), (3, 6), (5, 7)],
        [(0, 1), (2, 4), (3, 5), (6, 8)], [(2, 3), (4, 5), (6, 7)], [(1, 2), (3, 4), (5, 6)]],
    10: [[(0, 1), (2, 5), (3, 6), (4, 7), (8, 9)], [(0, 6), (1, 8), (2, 4), (3, 9), (5, 7)],
         [(0, 2), (1, 3), (4, 5), (6, 8), (7, 9)], [(0, 1), (2, 7), (3, 5), (4, 6), (8, 9)],
         [(1, 2), (3, 4), (5, 6), (7, 8)], [(1, 3), (2, 4), (5, 7), (6, 8)],
         [(2, 3), (4, 5), (6, 7)]],
    16: [[(0, 5), (1, 4), (2, 12), (3, 13), (6, 7), (8, 9), (10, 15), (11, 14)],
         [(0, 2), (1, 10), (3, 6), (4, 7), (5, 14), (8, 11), (9, 12), (13, 15)],
         [(0, 8), (1, 3), (2, 11), (4, 13), (5, 9), (6, 10), (7, 15), (12, 14)],
         [(0, 1), (2, 4), (3, 8), (5, 6), (7, 12), (9, 10), (11, 13), (14, 15)],
         [(1, 3), (2, 5), (4, 8), (6, 9), (7, 11), (10, 13), (12, 14)],
         [(1, 2), (3, 5), (4, 11), (6, 8), (7, 9), (10, 12), (13, 14)],
         [(2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13)],
         [(4, 6), (5, 7), (8, 10), (9, 11)],
         [(3, 4), (5, 6), (7, 8), (9, 10), (11, 12)]],
}  # fmt: skip

# Minimum known depths (OEIS A067782; Bundala and Zavodny 2014), for the README table.
# The tables above reach them but at n = 11, 12: pruned from the n = 16 network, depth 9
# (the published depth-8 networks for 11 and 12 are not among them).
PUBLISHED_DEPTH = [0, 0, 1, 3, 3, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 9, 9]


def best_stages(n: int) -> list[Stage]:
    """The best published network for ``n <= 16`` (pruned from the next larger table
    entry), odd-even merge sort beyond."""
    if n > 16:
        return oddeven_stages(n)
    if n == 1:
        return []
    base = min(k for k in _PUBLISHED if k >= n)
    stages = []
    for layer in _PUBLISHED[base]:
        pairs = np.array([c for c in layer if c[1] < n], dtype=np.int64).reshape(-1, 2)
        if pairs.size:
            stages.append((pairs[:, 0].copy(), pairs[:, 1].copy()))
    return stages


METHODS = {"bitonic": bitonic_stages, "oddeven": oddeven_stages, "best": best_stages}


def sort_stages(n: int, method: str) -> list[Stage]:
    return METHODS[method](n)


def run_stages(x: np.ndarray, stages: list[Stage]) -> np.ndarray:
    """Apply a schedule to the rows of ``x``."""
    x = x.copy()
    for lo, hi in stages:
        a, b = x[:, lo], x[:, hi]
        x[:, lo], x[:, hi] = np.minimum(a, b), np.maximum(a, b)
    return x


def binary_inputs(n: int) -> np.ndarray:
    """All 2^n rows of 0s and 1s."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int8)
