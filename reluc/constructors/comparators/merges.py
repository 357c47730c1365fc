"""The 0-1 principle at any size, by the merge structure of a comparator schedule.

A comparator network sorts every real input iff it sorts every 0-1 input (Knuth, TAOCP
5.3.4); 2^n of them is too many beyond n = 20 or so. But the schedules reluc builds
(Batcher's odd-even merge and bitonic sorts, at any n) first work on two groups of wires
separately and only then compare across them. Split a schedule where that first happens:
a prefix whose comparators join no wire of group 1 to one of group 2, then the rest.
What the rest can receive is every pair of a group-1 output and a group-2 output that
the prefix produces from 0-1 inputs; each group's outputs are found the same way,
recursively, down to groups small enough to try all their 0-1 inputs. Only the distinct
outputs are kept, with the count of ones they carry (a comparator keeps it) and one
input that produces each. A sorter's groups produce one output per count (their sorted
or otherwise fixed pattern), so a group of m wires passes on m + 1 outputs, and the top
merge of two halves runs (n/2 + 1)^2 vectors instead of 2^n; a network with a wrong
comparator produces more, and the one that reaches the top unsorted comes with the 0-1
input that produced it: a counterexample.

The test vectors are packed 8 to a byte along their axis, so a comparator is an ``&``
(its min wire) and an ``|`` (its max wire) on whole rows of bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BRUTE = 12  # groups of at most this many wires try all 2^m 0-1 inputs
CHUNK_BYTES = 1 << 25  # packed test vectors held at once
MAX_EXTRA = 4096  # outputs beyond one per count a group may pass on


class NotSplit(Exception):
    """The schedule has no structure this proof can use (the network may still sort)."""


class Unsorted(Exception):
    """A 0-1 input the network does not sort (``args[0]``: its values on the wires)."""


@dataclass
class Reach:
    """The distinct outputs of a group over all its 0-1 inputs (rows over its wires, in
    their order), the count of ones of each, and an input that produces each."""

    counts: np.ndarray
    outs: np.ndarray
    inputs: np.ndarray


def merge_proof(n: int, stages) -> int:
    """Prove that the schedule sorts every input, by its merge structure; the number of
    test vectors run. Raises Unsorted (a 0-1 input it does not sort) or NotSplit."""
    comparators = [(np.asarray(lo, np.int64), np.asarray(hi, np.int64)) for lo, hi in stages]
    runs = [0]
    _reach(np.arange(n), comparators, runs, top=True)
    return runs[0]


def _reach(wires: np.ndarray, stages, runs: list, top: bool = False) -> Reach | None:
    """The Reach of the group ``wires`` under ``stages`` (comparators among ``wires``
    only); at the top, None once every output is checked sorted."""
    m = len(wires)
    if m <= BRUTE:
        x = ((np.arange(2 ** m)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)
        return _collect(x, _run_bool(x, wires, stages), runs, top)
    split = _split(wires, stages)
    if split is None:
        raise NotSplit(f"a group of {m} wires is not split by its first stages")
    p, first = split
    second = np.setdiff1d(wires, first)
    parts = [_reach(g, _restrict(stages[:p], g), runs) for g in (first, second)]
    return _merge(wires, (first, second), parts, stages[p:], runs, top)


def _run_bool(x, wires, stages):
    local = np.full(int(wires.max()) + 1, -1)
    local[wires] = np.arange(len(wires))
    x = x.copy()
    for lo, hi in stages:
        a, b = local[lo], local[hi]
        u, v = x[:, a], x[:, b]
        x[:, a], x[:, b] = u & v, u | v
    return x


def _split(wires, stages):
    """The longest prefix of ``stages`` that leaves ``wires`` in at least two connected
    parts, and a first group of whole parts (the part of the lowest wire, then further
    parts while the group stays within half the wires). None if there is none."""
    index = np.full(int(wires.max()) + 1, -1)
    index[wires] = np.arange(len(wires))

    def components(upto):
        parent = list(range(len(wires)))

        def find(a):
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        joins = 0
        for lo, hi in stages[:upto]:
            for a, b in zip(index[lo].tolist(), index[hi].tolist()):
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[ra] = rb
                    joins += 1
        return np.array([find(i) for i in range(len(wires))]), len(wires) - joins

    lo_p, hi_p = 0, len(stages)  # the largest p with at least two parts, by bisection
    if components(hi_p)[1] >= 2:
        lo_p = hi_p
    while lo_p < hi_p:
        mid = (lo_p + hi_p + 1) // 2
        if components(mid)[1] >= 2:
            lo_p = mid
        else:
            hi_p = mid - 1
    if lo_p == 0:
        return None
    roots, _ = components(lo_p)
    groups = [wires[roots == r] for r in dict.fromkeys(roots.tolist())]
    first, size = [], 0
    for g in sorted(groups, key=lambda g: int(g[0])):
        if not first or size + len(g) <= len(wires) // 2:
            first.append(g)
            size += len(g)
    return lo_p, np.sort(np.concatenate(first))


def _restrict(stages, group):
    """The comparators of ``stages`` among ``group`` (each stage's, in order)."""
    out = []
    for lo, hi in stages:
        keep = np.isin(lo, group) & np.isin(hi, group)
        if keep.any():
            out.append((lo[keep], hi[keep]))
    return out


def _merge(wires, groups, parts, stages, runs, top):
    """Run ``stages`` on every pair of the groups' outputs, packed, in chunks."""
    (g1, g2), (r1, r2) = groups, parts
    m, s2 = len(wires), len(r2.counts)
    count = len(r1.counts) * s2  # vector v: the pair (v // s2, v % s2)
    pos = np.full(int(wires.max()) + 1, -1)
    pos[wires] = np.arange(m)
    cols1, cols2 = pos[g1], pos[g2]
    steps = [(pos[lo], pos[hi]) for lo, hi in stages]
    size = max(8, CHUNK_BYTES * 8 // m // 8 * 8)
    found = []
    for start in range(0, count, size):
        i1, i2 = np.divmod(np.arange(start, min(count, start + size)), s2)
        rows = np.empty((m, (len(i1) + 7) // 8), np.uint8)
        rows[cols1] = np.packbits(r1.outs[i1].T, axis=1)
        rows[cols2] = np.packbits(r2.outs[i2].T, axis=1)
        for a, b in steps:
            x, y = rows[a], rows[b]
            rows[a], rows[b] = x & y, x | y
        counts = r1.counts[i1] + r2.counts[i2]

        def inputs(sel, i1=i1, i2=i2):
            x = np.empty((len(sel), m), bool)
            x[:, cols1], x[:, cols2] = r1.inputs[i1[sel]], r2.inputs[i2[sel]]
            return x

        if top:  # sorted: wire w holds 1 exactly when w >= m - count
            want = np.packbits(np.arange(m)[:, None] >= (m - counts)[None, :], axis=1)
            bad = np.flatnonzero(np.any(np.unpackbits(rows ^ want, axis=1,
                                                      count=len(i1)), axis=0))
            if bad.size:
                raise Unsorted(inputs(bad[:1])[0].astype(np.int8))
        else:
            out = np.unpackbits(rows, axis=1, count=len(i1)).T.astype(bool)
            keep = _first_of_each(counts, out)
            found.append(Reach(counts[keep], out[keep], inputs(keep)))
    runs[0] += count
    if top:
        return None
    return _distinct(Reach(*(np.concatenate([getattr(f, k) for f in found])
                             for k in ("counts", "outs", "inputs"))), m)


def _collect(inputs, out, runs, top):
    """The distinct outputs of a group tried on all its inputs (a Reach); at the top,
    Unsorted unless every output is the sorted one for its count."""
    runs[0] += len(inputs)
    counts = inputs.sum(axis=1)
    m = out.shape[1]
    if top:
        want = np.arange(m)[None, :] >= (m - np.arange(m + 1))[:, None]
        bad = np.flatnonzero(np.any(out != want[counts], axis=1))
        if bad.size:
            raise Unsorted(inputs[bad[0]].astype(np.int8))
        return None
    return _distinct(Reach(counts, out, inputs), m)


def _first_of_each(counts, out) -> np.ndarray:
    """The index of the first row of each distinct (count, output), in order."""
    key = np.hstack([counts[:, None].astype(">u2").view(np.uint8).reshape(-1, 2),
                     np.packbits(out, axis=1)])
    _, first = np.unique(key, axis=0, return_index=True)
    return np.sort(first)


def _distinct(r: Reach, m: int) -> Reach:
    """One entry per distinct (count, output), the first input kept; NotSplit when there
    are more than MAX_EXTRA beyond one per count (the proof would blow up)."""
    first = _first_of_each(r.counts, r.outs)
    if len(first) > m + 1 + MAX_EXTRA:
        raise NotSplit(f"a group of {m} wires has {len(first)} distinct outputs")
    return Reach(r.counts[first], r.outs[first], r.inputs[first])
