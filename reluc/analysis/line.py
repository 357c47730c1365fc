"""The exact pieces of a network along a bounded segment, vectorised.

The segment's points are ``t = P / Q`` (integers, ``Q > 0``). The network is run in
homogeneous coordinates: the input ``(P, Q)``, every bias moved into a column that
multiplies ``Q``, and one more neuron per layer that carries ``Q`` on (ReLU leaves it
alone, as it is positive). Then every layer is integer arithmetic on whole arrays of
points (:func:`reluc.exact.step`: int64 while no overflow is possible, Python integers
after), and a value is its numerator over the carried ``Q`` times one factor common to
all points.

A layer at a time, the neurons that change sign between two neighbouring points cut
the segment between them where they are 0: from numerators ``Na``, ``Nb`` at
``Pa / Qa`` and ``Pb / Qb`` the cut is ``(Pb Na - Pa Nb) / (Na Qb - Nb Qa)``, reduced.
Cuts on one segment are sorted by their float values and compared exactly where the
floats are too close to tell, so two neurons that vanish at the same point give one
point. Every sign and every comparison is exact: no tolerance anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.errors import NetworkError
from reluc.exact import IntLayer, int_array, step
from reluc.net import Layer, Net


def homogeneous(net: Net, along=None) -> list[IntLayer] | None:
    """The network as bias-free integer layers on ``(P, Q)``, or None when the line's
    first layer is not exactly a float64 layer (then use :func:`reluc.pieces.pieces`)."""
    first = net.layers[0]
    if along is None:
        g = first.weight.toarray()[:, 0]
        c = np.asarray(first.bias, dtype=np.float64)
    else:
        p, d = along
        w = first.weight.toarray()
        gq = [sum((Fraction(float(x)) * v for x, v in zip(row, d)), Fraction(0)) for row in w]
        cq = [sum((Fraction(float(x)) * v for x, v in zip(row, p)), Fraction(float(b)))
              for row, b in zip(w, first.bias)]
        g, c = np.array([float(v) for v in gq]), np.array([float(v) for v in cq])
        if any(Fraction(float(a)) != b for a, b in zip(g, gq)) or \
                any(Fraction(float(a)) != b for a, b in zip(c, cq)):
            return None
    layers = [_aug(sp.csr_array(np.c_[g, c]))]
    for layer in net.layers[1:]:
        layers.append(_aug(sp.csr_array(sp.hstack([layer.weight,
                                                   sp.csr_array(np.asarray(layer.bias)[:, None])]))))
    return [IntLayer(layer) for layer in layers]


def _aug(w: sp.csr_array) -> Layer:
    """A bias-free layer with one more row carrying its last input on."""
    carry = sp.csr_array(([1.0], ([0], [w.shape[1] - 1])), shape=(1, w.shape[1]))
    w = sp.csr_array(sp.vstack([w, carry]))
    return Layer(w, np.zeros(w.shape[0]))


def run(layers: list[IntLayer], p: np.ndarray, q: np.ndarray, upto: int):
    """The numerators of layer ``upto``'s pre-activations (carrier last) at t = p / q."""
    num, den = int_array(np.stack([p, q], axis=1)), 1
    for i, il in enumerate(layers[:upto + 1]):
        num, den = step(il, num, den, relu=i > 0)
    return num


def _ratio_order(num, den, edge, approx) -> np.ndarray:
    """The order of cuts by (edge, exact value): by floats, and exactly within runs of
    cuts whose floats are too close to tell apart."""
    order = np.lexsort((approx, edge))
    e, a = edge[order], approx[order]
    close = (e[1:] == e[:-1]) & (np.abs(a[1:] - a[:-1]) <= 1e-12 * (np.abs(a[1:]) + np.abs(a[:-1])))
    if close.any():
        order = order.copy()
        i, n = 0, len(close)
        while i < n:
            if not close[i]:
                i += 1
                continue
            t = i
            while t < n and close[t]:
                t += 1
            order[i:t + 1] = sorted(order[i:t + 1].tolist(),
                                    key=lambda r: Fraction(int(num[r]), int(den[r])))
            i = t
    return order


def _cat(a, b):
    if a.dtype != object and b.dtype != object:
        return np.concatenate([a, b])
    return np.concatenate([a.astype(object), b.astype(object)])


@dataclass
class LinePieces:
    p: np.ndarray  # the points, t = p / q, in order
    q: np.ndarray
    layers: list[IntLayer]
    widths: list[int]


def cut(net: Net, lo: Fraction, hi: Fraction, along=None,
        max_pieces: int = 1 << 20) -> LinePieces | None:
    """Every point where some neuron changes sign, in ``[lo, hi]`` (with the ends)."""
    layers = homogeneous(net, along)
    if layers is None:
        return None
    lo, hi = Fraction(lo), Fraction(hi)
    den = lo.denominator * hi.denominator
    p = int_array([lo.numerator * hi.denominator, hi.numerator * lo.denominator])
    q = int_array([den, den])
    widths = [layer.n_out for layer in net.layers[:-1]]
    for k, w in enumerate(widths):
        z = run(layers, p, q, k)[:, :w]
        sz = np.sign(z).astype(np.int8) if z.dtype != object else \
            np.array([[(x > 0) - (x < 0) for x in row] for row in z], np.int8).reshape(z.shape)
        e, j = np.nonzero(sz[:-1] * sz[1:] < 0)
        if not e.size:
            continue
        na, nb = z[e, j], z[e + 1, j]
        pa, qa, pb, qb = p[e], q[e], p[e + 1], q[e + 1]
        num, dd = _products(pb, na, pa, nb), _products(na, qb, nb, qa)
        flip = np.asarray(dd < 0, dtype=bool)
        num, dd = np.where(flip, -num, num), np.where(flip, -dd, dd)
        g = np.gcd(num, dd)
        num, dd = int_array(num // g), int_array(dd // g)
        approx = np.array([float(Fraction(int(a), int(b))) for a, b in zip(num, dd)]) \
            if num.dtype == object or dd.dtype == object else num / dd
        order = _ratio_order(num, dd, e, approx)
        num, dd, e = num[order], dd[order], e[order]
        same = (e[1:] == e[:-1]) & (num[1:] * dd[:-1] == num[:-1] * dd[1:]) \
            if num.dtype != object else np.array(
                [int(e[i + 1]) == int(e[i]) and num[i + 1] * dd[i] == num[i] * dd[i + 1]
                 for i in range(len(e) - 1)], dtype=bool)
        keep = np.r_[True, ~np.asarray(same, dtype=bool)]
        num, dd, e = num[keep], dd[keep], e[keep]
        # merge: old point i sorts before the cuts of edge i
        key_edge = np.r_[np.arange(len(p)), e]
        key_kind = np.r_[np.zeros(len(p), np.int64), np.arange(1, len(e) + 1)]
        order = np.lexsort((key_kind, key_edge))
        p, q = int_array(_cat(p, num)[order]), int_array(_cat(q, dd)[order])
        if len(p) - 1 > max_pieces:
            from reluc.pieces import TooManyPieces
            raise TooManyPieces(max_pieces)
    return LinePieces(p, q, layers, widths)


def _products(a, b, c, d):
    """a b - c d, exactly (Python integers where int64 could overflow)."""
    def big(x):
        return float(np.max(np.abs(x.astype(np.float64)))) if x.size else 0.0
    if a.dtype != object and b.dtype != object and c.dtype != object and d.dtype != object \
            and big(a) * big(b) + big(c) * big(d) < 2.0 ** 62:
        return a * b - c * d
    return a.astype(object) * b.astype(object) - c.astype(object) * d.astype(object)


def _reduced(n, d):
    """n / d in lowest terms, with d > 0 (d != 0)."""
    flip = np.asarray(d < 0, dtype=bool)
    n, d = np.where(flip, -n, n), np.where(flip, -d, d)
    g = np.gcd(n, d)
    g = np.where(g == 0, 1, g)
    return int_array(n // g), int_array(d // g)


@dataclass
class Analysis:
    piece_patterns: list[bytes]
    point_patterns: list[bytes]
    slopes: np.ndarray  # pieces x outputs x (numerator, denominator), in lowest terms,
    intercepts: np.ndarray  # each g times the true one
    g: Fraction


def analyse(lp: LinePieces) -> Analysis:
    """Patterns at the points and inside the pieces, and each piece's exact affine map;
    checked at each piece's midpoint (its pattern, and the mean of its ends' values) in
    one more pass."""
    rows, y, c = _evaluate(lp.layers, lp.widths, lp.p, lp.q)
    p, q = lp.p, lp.q
    inside = rows[:-1] | rows[1:]  # no neuron changes sign inside a piece
    pa, qa, pb, qb = p[:-1], q[:-1], p[1:], q[1:]
    span = _products(pb, qa, pa, qb)  # (tb - ta) qa qb
    slopes, intercepts = [], []
    for o in range(y.shape[1]):
        ya, yb = y[:-1, o], y[1:, o]  # the values are y / c, and c = g q
        sn, sd = _reduced(_products(yb, qa, ya, qb), span)  # g times the slope
        cn, cd = _reduced(_products(ya, sd, sn, pa), _products(qa, sd, qa, qa * 0))
        slopes.append(np.stack([sn, sd], axis=-1))
        intercepts.append(np.stack([cn, cd], axis=-1))
    mp, mq = _reduced(_products(pa, qb, -pb, qa), _products(qa, 2 * qb, qa, qb * 0))
    mrows, my, mc = _evaluate(lp.layers, lp.widths, mp, mq)
    if not np.array_equal(mrows, inside):
        raise NetworkError("a piece's midpoint does not have the piece's pattern")
    ya, yb, ca, cb, cm = y[:-1], y[1:], c[:-1, None], c[1:, None], mc[:, None]
    small = all(x.dtype != object for x in (y, my, c, mc)) and \
        4 * max(_top(my) * _top(c) ** 2, _top(mc) * _top(y) * _top(c), 1.0) < 2.0 ** 62
    if small:  # every product below fits in int64
        same = np.all(2 * my * ca * cb == cm * (ya * cb + yb * ca))
    else:
        same = _same_mean(ya, yb, my, ca, cb, cm)
    if not same:
        raise NetworkError("a piece's midpoint does not have the mean of its ends' values")
    return Analysis(_keys(inside), _keys(rows), np.stack(slopes, axis=1),
                    np.stack(intercepts, axis=1), Fraction(int(c[0]), int(q[0])))


def _top(x) -> float:
    return float(np.max(np.abs(x.astype(np.float64)))) if x.size else 0.0


def _same_mean(ya, yb, ym, ca, cb, cm) -> bool:
    """2 ym / cm == ya / ca + yb / cb for every row, in Python integers."""
    ya, yb, ym, ca, cb, cm = (x.astype(object) for x in (ya, yb, ym, ca, cb, cm))
    return bool(np.all(2 * ym * ca * cb == cm * (ya * cb + yb * ca)))


def _keys(rows: np.ndarray) -> list[bytes]:
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.shape[1]))).ravel().tolist()


def _evaluate(layers, widths, p, q):
    """Packed patterns (a row per point), output numerators and the carrier, at p / q."""
    num, den = int_array(np.stack([p, q], axis=1)), 1
    packed = []
    for i, il in enumerate(layers):
        num, den = step(il, num, den, relu=i > 0)
        if i < len(widths):
            packed.append(np.packbits(np.asarray(num[:, :widths[i]] > 0, dtype=bool), axis=1))
    rows = np.concatenate(packed, axis=1) if packed else np.zeros((len(num), 1), np.uint8)
    return rows, num[:, :-1], num[:, -1]
