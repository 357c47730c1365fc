"""The data partitions a hyperplane induces (:mod:`reluc.fit`): every set of data points
that one ReLU unit can have active, each once."""

from __future__ import annotations

import numpy as np

from reluc.net import Layer, Net


def partitions(x: np.ndarray) -> np.ndarray:
    """Every set of data points (rows of ``x``) a hyperplane ``a . x + b = 0`` can have
    strictly on its positive side with the rest strictly on the other, each once, as a
    boolean matrix (sets x points), ordered by size and then lexicographically (the empty
    set first). Points in general position give Cover's count, 2 sum_{k<=n} C(D-1, k);
    repeated and collinear points fewer."""
    x = np.asarray(x, float)
    sets = _line(x[:, 0]) if x.shape[1] == 1 else _arrangement(x)
    return np.array(sorted(sets, key=lambda s: (sum(s), s)), bool).reshape(-1, len(x))


def _line(x: np.ndarray) -> set[tuple[bool, ...]]:
    """On a line the sets are the empty set, everything, and for each gap between
    consecutive distinct values the points left of it and the points right of it (the
    paper's n = 1 view: a unit is a breakpoint in a gap and a direction)."""
    values = np.unique(x)
    out = {tuple([False] * len(x)), tuple([True] * len(x))}
    for v in values[:-1]:
        left = x <= v
        out |= {tuple(left), tuple(~left)}
    return out


def _arrangement(x: np.ndarray) -> set[tuple[bool, ...]]:
    """The sets are the full-dimensional cells of the central arrangement
    ``{(a, b): a . x_j + b = 0}`` in (a, b)-space: the activation regions of a one-layer
    network with rows ``[x_j, 1]``, which the exact region enumeration finds."""
    from reluc.analysis.polytopes import enumerate_regions

    d, n = x.shape
    rows = np.hstack([x, np.ones((d, 1))])
    dual = Net([Layer(rows, np.zeros(d)), Layer(np.ones((1, d)), np.zeros(1))])
    found = enumerate_regions(dual, [-1] * (n + 1), [1] * (n + 1), 1 << 22)
    return {tuple(np.unpackbits(np.frombuffer(p, np.uint8))[:d].astype(bool))
            for p in found.patterns}
