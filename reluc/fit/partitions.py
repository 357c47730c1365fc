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
    if x.shape[1] == 1:
        sets = _line(x[:, 0])
    elif x.shape[1] == 2 and np.linalg.matrix_rank(np.c_[x, np.ones(len(x))]) == 3:
        sets = _plane(x)
    else:
        sets = _arrangement(x)
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


def _plane(x: np.ndarray) -> set[tuple[bool, ...]]:
    """In the plane (points not all on one line): each set is a full-dimensional cell
    of the dual arrangement, a pointed cone, so it touches an extreme ray, where two
    planes meet: a line through two data points, with an orientation. Near it, the
    points off the line keep their sides, and those on it split at a point of the line,
    either way round (a small turn about that point), or go all to one side (a small
    shift). Every line through two distinct points, every split: all the sets. The
    sides are decided exactly (a float orientation test where its error bound allows,
    rationals where it does not)."""
    d = len(x)
    out = set()
    for i in range(d):
        for j in range(i + 1, d):
            if np.array_equal(x[i], x[j]):
                continue
            side = _orientation(x, i, j)
            on = np.flatnonzero(side == 0)
            along = _positions(x, i, j, on)  # equal points share a position
            for sign in (1, -1):
                base = side == sign
                for cut in sorted(set(along)) + [None]:
                    first = np.array([cut is None or a < cut for a in along], bool)
                    for part in (first, ~first):
                        s = base.copy()
                        s[on[part]] = True
                        out.add(tuple(s))
    return out


def _orientation(x: np.ndarray, i: int, j: int) -> np.ndarray:
    """The side (+1, -1 or 0) of every point of the line from x_i to x_j, exactly."""
    from fractions import Fraction

    u = x[j] - x[i]
    v = x - x[i]
    left, right = u[0] * v[:, 1], u[1] * v[:, 0]
    det = left - right
    # Shewchuk's orient2d filter: beyond this bound the float sign is the exact sign
    sure = np.abs(det) > 3.3306690738754716e-16 * (np.abs(left) + np.abs(right)) + 1e-300
    side = np.where(sure, np.sign(det), 0).astype(int)
    a, b = (Fraction(float(t)) for t in x[i]), (Fraction(float(t)) for t in x[j])
    (a0, a1), (b0, b1) = a, b
    for k in np.flatnonzero(~sure):
        c0, c1 = Fraction(float(x[k, 0])), Fraction(float(x[k, 1]))
        e = (b0 - a0) * (c1 - a1) - (b1 - a1) * (c0 - a0)
        side[k] = (e > 0) - (e < 0)
    return side


def _positions(x: np.ndarray, i: int, j: int, on: np.ndarray) -> list:
    """Exact positions along the line from x_i to x_j of the points ``on`` it."""
    from fractions import Fraction

    a = [Fraction(float(t)) for t in x[i]]
    u = [Fraction(float(t)) - s for t, s in zip(x[j], a)]
    return [sum((Fraction(float(t)) - s) * w for t, s, w in zip(x[k], a, u)) for k in on]


def _arrangement(x: np.ndarray) -> set[tuple[bool, ...]]:
    """The sets are the full-dimensional cells of the central arrangement
    ``{(a, b): a . x_j + b = 0}`` in (a, b)-space: the activation regions of a one-layer
    network with rows ``[x_j, 1]``, which the exact region enumeration finds."""
    from reluc.analysis.polytopes import enumerate_regions

    d, n = x.shape
    rows = np.hstack([x, np.ones((d, 1))])
    dual = Net([Layer(rows, np.zeros(d)), Layer(np.ones((1, d)), np.zeros(1))])
    found = enumerate_regions(dual, [-1] * (n + 1), [1] * (n + 1), 1 << 22)
    if not found.complete:
        from reluc.errors import RelucError

        raise RelucError(f"the data has more than {1 << 22} sets a hyperplane can induce; "
                         "too many to fit")
    return {tuple(np.unpackbits(np.frombuffer(p, np.uint8))[:d].astype(bool))
            for p in found.patterns}
