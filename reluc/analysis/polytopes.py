"""Full-dimensional activation regions of a network with any number of inputs, in a box,
by linear programming (scipy's HiGHS).

The box is cut a layer at a time, as in the plane: on a region (a polytope on which
every earlier neuron keeps its sign) each neuron of the next layer is affine, and it cuts
the region when it takes both signs inside it, which two linear programs decide (its
least and greatest value over the region). Each side of a cut is kept when it has
interior (a positive Chebyshev radius). The regions of one first-layer region are
independent of the others', so they are enumerated on all local cores.

Linear programming is in floating point; what is reported is checked exactly: the
centre of each region is a rational point whose exact activation pattern is the
region's, with no pre-activation exactly 0 there (so the region is full-dimensional),
and no two regions share a pattern. The affine map of each region is computed exactly,
in integers, from the network with the region's pattern fixed.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

from reluc.errors import NetworkError
from reluc.exact import IntLayer, Scaled
from reluc.net import Net

TOL = 1e-9  # a cut or a region thinner than this (relative) is taken as none


@dataclass
class Region:
    a: np.ndarray  # constraints a x <= b
    b: np.ndarray
    centre: np.ndarray
    radius: float
    bits: list  # per finished layer, which neurons are on
    h: np.ndarray  # the next layer's input on the region: h x + h0
    h0: np.ndarray


def chebyshev(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The centre and radius of the largest ball in ``a x <= b`` (None when empty)."""
    n = a.shape[1]
    norms = np.linalg.norm(a, axis=1)
    res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.c_[a, norms], b_ub=b,
                  bounds=[(None, None)] * n + [(0, None)], method="highs")
    if res.status != 0:
        return None
    return res.x[:n], float(res.x[n])


def _extreme(a, b, g, sign) -> float:
    """min (sign = 1) or -max (sign = -1) of g x over a x <= b."""
    res = linprog(sign * g, A_ub=a, b_ub=b, bounds=[(None, None)] * len(g), method="highs")
    return float(res.fun) if res.status == 0 else 0.0


def _cut(r: Region, g: np.ndarray, c: float, scale: float) -> list[Region] | None:
    """The two sides of region ``r`` cut by ``g x + c = 0``, or None when it does not
    cut it (keeps one sign inside)."""
    tol = TOL * scale
    at = float(g @ r.centre + c)
    low = _extreme(r.a, r.b, g, 1) + c if at > -tol else at
    high = -_extreme(r.a, r.b, g, -1) + c if at < tol else at
    if not (low < -tol and high > tol):
        return None
    out = []
    for s in (1.0, -1.0):  # s = 1: the side g x + c >= 0, written -g x <= c
        a, b = np.vstack([r.a, -s * g]), np.r_[r.b, s * c]
        cb = chebyshev(a, b)
        if cb is not None and cb[1] > TOL * max(1.0, float(np.abs(r.centre).max())):
            out.append(Region(a, b, cb[0], cb[1], r.bits, r.h, r.h0))
    return out


def _refine(regions: list[Region], layers, start: int, stop: int, limit: int) -> list[Region]:
    """Cut ``regions`` by the hidden layers ``start`` to ``stop - 1``."""
    for w, bias in layers[start:stop]:
        out = []
        for region in regions:
            g_all, c_all = w @ region.h, w @ region.h0 + bias
            pieces = [region]
            for j in range(len(bias)):
                g, c = g_all[j], float(c_all[j])
                scale = max(1.0, float(np.abs(g).sum() + abs(c)))
                nxt = []
                for p in pieces:
                    sides = _cut(p, g, c, scale) if np.any(g) else None
                    nxt.extend([p] if sides is None else sides)
                pieces = nxt
            for p in pieces:
                on = (g_all @ p.centre + c_all) > 0
                out.append(Region(p.a, p.b, p.centre, p.radius, p.bits + [on],
                                  g_all * on[:, None], c_all * on))
            if len(out) > limit:
                return out
        regions = out
    return regions


def _work(args) -> list[tuple[list, np.ndarray]]:
    regions, layers, start, limit = args
    return [(r.bits, r.centre) for r in _refine(regions, layers, start, len(layers) - 1, limit)]


@dataclass
class Enumeration:
    patterns: list[bytes]
    centres: list[tuple[Fraction, ...]]
    complete: bool  # False: stopped at the limit


def enumerate_regions(net: Net, lo, hi, limit: int, workers: int | None = None) -> Enumeration:
    """The full-dimensional activation regions of ``net`` in the box [lo, hi]."""
    n = net.n_in
    layers = [(layer.weight.toarray(), layer.bias.copy()) for layer in net.layers]
    lo, hi = np.array([float(v) for v in lo]), np.array([float(v) for v in hi])
    a = np.vstack([np.eye(n), -np.eye(n)])
    b = np.r_[hi, -lo]
    centre, radius = chebyshev(a, b)
    box = Region(a, b, centre, radius, [], np.eye(n), np.zeros(n))
    first = _refine([box], layers, 0, 1, limit)  # the first hidden layer (if any)
    if len(layers) > 2 and len(first) <= limit:
        workers = workers or os.cpu_count() or 1
        chunks = [first[i::workers * 4] for i in range(workers * 4)]
        with ProcessPoolExecutor(workers) as pool:
            parts = pool.map(_work, [(c, layers, 1, limit) for c in chunks if c])
            found = [x for part in parts for x in part]
    else:
        found = [(r.bits, r.centre) for r in first]
    complete = len(found) <= limit
    pats = [b"".join(np.packbits(on).tobytes() for on in bits) or b"\0" for bits, _ in found]
    centres = [tuple(Fraction(float(x)) for x in c) for _, c in found]
    return Enumeration(pats, centres, complete)


def certify_region(net: Net, on: list[np.ndarray], centre) -> tuple[tuple[Fraction, ...], ...]:
    """Check exactly that ``centre`` is inside the region of the pattern ``on`` (per
    hidden layer, which neurons are on) and that the region is full-dimensional: with
    the pattern fixed every neuron is affine; at the centre each one on must be
    positive, each one off negative or 0 everywhere (an affine function that is 0).
    Returns the region's exact affine map: per output, the gradient, then the value at
    0. Raises :class:`NetworkError` when the check fails."""
    n = net.n_in
    pts = Scaled.of([[0] * n] + [[int(i == k) for i in range(n)] for k in range(n)]
                    + [list(centre)])
    num, den = pts.num, pts.den
    for k, layer in enumerate(net.layers):
        if k:
            num = np.where(on[k - 1], num, 0).astype(num.dtype)
        num, den = IntLayer(layer).apply(num, den)
        if k < len(net.layers) - 1:
            at = num[-1]
            flat = np.all(num[:-1] == num[0], axis=0) & (num[0] == 0)  # 0 everywhere
            good = np.where(on[k], at > 0, (at < 0) | ((at == 0) & flat))
            if not np.all(good):
                raise NetworkError(f"the centre is not strictly inside the region (layer "
                                   f"{k + 1}, neuron {int(np.flatnonzero(~good)[0])})")
    y = [[Fraction(int(x), den) for x in row] for row in num[:-1]]
    return tuple(tuple(v - col[0] for v in col[1:]) + (col[0],) for col in zip(*y))
