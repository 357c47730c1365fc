"""Worst-case errors of an affine map against a smooth function over a convex polygon,
exactly or in certified enclosures: the 2-D rules behind ``verify --complete``.

The complete check on two inputs cuts the domain into the network's exact faces (convex
polygons with rational vertices, in order round the face); on each the network is an
affine map ``f(x) = a . x + c`` with rational ``a``, ``c``. A constructor's
``plane_error`` rule returns the worst ``|f - g|`` over the face for its reference ``g``
as an :class:`Enclosure` ``lo <= worst <= hi`` with a rational point where the error
is at least ``lo``:

- ``g = x y`` (:func:`product_error`): ``f - g`` has the Hessian ((0, -1), (-1, 0)),
  which is indefinite, so it has no extremum inside a face: its extremes are on the
  edges, where it is a quadratic in the edge's parameter (ends and stationary point).
  Rational throughout, so ``lo = hi``.
- ``g = ||x||`` (:func:`norm_error`): ``g - f`` is convex, largest at a vertex;
  ``f - g`` is concave: its largest value is found among the vertices, the stationary
  points of the edges and the origin, and bounded above by weak duality: for any
  ``|u| <= 1``, ``u . x <= ||x||``, so ``f - g <= (a - u) . x + c``, a linear function
  whose maximum is at a vertex (tight for ``u`` the direction of the maximiser).
- ``g = relu(r - ||x||)`` (:func:`disk_error`): ``g - f = max(-f, r - ||x|| - f)`` is
  handled as above; ``f - g = f - relu(r - ||x||)`` is largest at a vertex, where an
  edge crosses the circle, or at the point ``r a / |a|`` of the circle (where ``f`` is
  largest on it) when it lies in the face: every other point has a direction in which
  ``f - g`` grows.

Square roots are enclosed in rationals ``SQRT_BITS`` bits apart (integer square root),
and every membership question about an irrational point is decided exactly, so the
enclosures are sound; their width is reported with the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

Point = tuple[Fraction, Fraction]
SQRT_BITS = 96


@dataclass(frozen=True)
class Enclosure:
    """``lo <= worst <= hi``; the error at ``where`` (a point of the face) is at least
    ``lo``."""

    lo: Fraction
    hi: Fraction
    where: Point

    @staticmethod
    def worst(parts: Sequence[Enclosure]) -> Enclosure:
        best = max(parts, key=lambda e: e.lo)
        return Enclosure(best.lo, max(e.hi for e in parts), best.where)


def sqrt_bounds(q: Fraction) -> tuple[Fraction, Fraction]:
    """Rationals ``lo <= sqrt(q) <= hi`` with ``hi - lo <= 2^-SQRT_BITS`` (``q >= 0``)."""
    q = Fraction(q)
    if q < 0:
        raise ValueError("square root of a negative number")
    scale = 1 << SQRT_BITS
    r = math.isqrt(q.numerator * q.denominator * scale * scale)
    den = q.denominator * scale
    lo = Fraction(r, den)
    return lo, lo if r * r == q.numerator * q.denominator * scale * scale else \
        Fraction(r + 1, den)


def _dot(a, p) -> Fraction:
    return a[0] * p[0] + a[1] * p[1]


def _sq(p) -> Fraction:
    return p[0] * p[0] + p[1] * p[1]


def _edges(verts: Sequence[Point]):
    n = len(verts)
    for i in range(n):
        p, q = verts[i], verts[(i + 1) % n]
        yield p, (q[0] - p[0], q[1] - p[1])


def _at(p: Point, d: Point, t: Fraction) -> Point:
    return (p[0] + t * d[0], p[1] + t * d[1])


# -- x y ------------------------------------------------------------------------------------
def product_error(verts: Sequence[Point], a: Point, c: Fraction) -> Enclosure:
    """The exact worst ``|a . x + c - x y|`` over the polygon."""
    best, where = Fraction(-1), verts[0]
    for p, d in _edges(verts):
        h0 = _dot(a, p) + c - p[0] * p[1]
        quad = -d[0] * d[1]  # h(t) = h0 + lin t + quad t^2 along the edge
        lin = _dot(a, d) - p[1] * d[0] - p[0] * d[1]
        ts = [Fraction(0), Fraction(1)]
        if quad:
            t = -lin / (2 * quad)
            if 0 < t < 1:
                ts.append(t)
        for t in ts:
            v = abs(h0 + t * (lin + quad * t))
            if v > best:
                best, where = v, _at(p, d, t)
    return Enclosure(best, best, where)


# -- ||x|| ----------------------------------------------------------------------------------
def _norm_lo(p) -> Fraction:
    return sqrt_bounds(_sq(p))[0]


def _norm_hi(p) -> Fraction:
    return sqrt_bounds(_sq(p))[1]


def _inside(verts: Sequence[Point], p: Point) -> bool:
    """Whether the rational point ``p`` is in the convex polygon (boundary included)."""
    signs = {(d[0] * (p[1] - v[1]) - d[1] * (p[0] - v[0])) > 0 for v, d in _edges(verts)
             if d[0] * (p[1] - v[1]) - d[1] * (p[0] - v[0]) != 0}
    return len(signs) <= 1


def _rational(x: float) -> Fraction:
    return Fraction(x).limit_denominator(1 << 62)


def _unit(x: Point) -> Point:
    """A rational vector of length at most 1 (and within 2^-40 of 1) along ``x``."""
    n = math.hypot(float(x[0]), float(x[1]))
    u = (_rational(float(x[0]) / n), _rational(float(x[1]) / n))
    while _sq(u) > 1:
        u = (u[0] * (1 - Fraction(1, 1 << 40)), u[1] * (1 - Fraction(1, 1 << 40)))
    return u


def concave_max(verts: Sequence[Point], a: Point, c: Fraction) -> Enclosure:
    """An enclosure of the largest ``a . x + c - ||x||`` over the polygon (may be
    negative; ``where`` attains at least ``lo``)."""
    cands: list[Point] = list(verts)
    if _inside(verts, (Fraction(0), Fraction(0))):
        cands.append((Fraction(0), Fraction(0)))
    fa = (float(a[0]), float(a[1]))
    for p, d in _edges(verts):  # stationary points along the edge, found in floats
        pf, df = (float(p[0]), float(p[1])), (float(d[0]), float(d[1]))
        k, pd, dd, pp = fa[0] * df[0] + fa[1] * df[1], pf[0] * df[0] + pf[1] * df[1], \
            df[0] ** 2 + df[1] ** 2, pf[0] ** 2 + pf[1] ** 2
        # (pd + t dd)^2 = k^2 (pp + 2 t pd + t^2 dd), then keep roots of the right sign
        qa, qb, qc = dd * dd - k * k * dd, 2 * pd * dd - 2 * k * k * pd, pd * pd - k * k * pp
        roots = [-qc / qb] if qa == 0 and qb else []
        disc = qb * qb - 4 * qa * qc
        if qa and disc >= 0:
            roots = [(-qb + s * math.sqrt(disc)) / (2 * qa) for s in (1, -1)]
        for t in roots:
            if 0 < t < 1:
                cands.append(_at(p, d, _rational(t)))
    values = [(_dot(a, x) + c - _norm_hi(x), x) for x in cands]
    lo, where = max(values, key=lambda v: v[0])
    # u: the direction of the maximiser (of a when it is the origin, or a itself if short)
    u = a if not any(where) and _sq(a) <= 1 else _unit(where if any(where) else a)
    hi = max(_dot((a[0] - u[0], a[1] - u[1]), v) for v in verts) + c
    return Enclosure(lo, max(hi, lo), where)


def convex_max(verts: Sequence[Point], a: Point, c: Fraction) -> Enclosure:
    """The largest ``||x|| - a . x - c`` over the polygon: at a vertex (convex)."""
    values = [(_norm_lo(v) - _dot(a, v) - c, _norm_hi(v) - _dot(a, v) - c, v) for v in verts]
    lo, _, where = max(values, key=lambda v: v[0])
    return Enclosure(lo, max(v[1] for v in values), where)


def norm_error(verts: Sequence[Point], a: Point, c: Fraction) -> Enclosure:
    """The worst ``|a . x + c - ||x|| |`` over the polygon, enclosed."""
    return Enclosure.worst([concave_max(verts, a, c), convex_max(verts, a, c)])


# -- relu(r - ||x||) ------------------------------------------------------------------------
def _circle_points(verts, r: Fraction):
    """Rational points on the edges within ``2^-SQRT_BITS`` of where they cross the circle
    ``||x|| = r``, with the exact crossing's parameter enclosed: (point, t_lo, t_hi, p, d)."""
    for p, d in _edges(verts):
        A, B, C = _sq(d), _dot(p, d), _sq(p) - r * r
        disc = B * B - A * C
        if A == 0 or disc < 0:
            continue
        s_lo, s_hi = sqrt_bounds(disc)
        for sign in (1, -1):
            t_lo, t_hi = sorted([(-B + sign * s_lo) / A, (-B + sign * s_hi) / A])
            if t_hi < 0 or t_lo > 1:
                continue
            yield min(max(t_lo, Fraction(0)), Fraction(1)), t_lo, t_hi, p, d


def disk_error(verts: Sequence[Point], a: Point, c: Fraction, r: Fraction) -> Enclosure:
    """The worst ``|a . x + c - relu(r - ||x||)|`` over the polygon, enclosed."""
    parts = [concave_max(verts, (-a[0], -a[1]), r - c)]  # g - f = r - ||x|| - f
    neg = min(verts, key=lambda v: _dot(a, v))  # g - f >= -f
    parts.append(Enclosure(-(_dot(a, neg) + c), -(_dot(a, neg) + c), neg))

    def psi(x):  # f - g at a rational point, enclosed
        f = _dot(a, x) + c
        lo, hi = sqrt_bounds(_sq(x))
        return f - max(Fraction(0), r - lo), f - max(Fraction(0), r - hi)

    for v in verts:
        lo, hi = psi(v)
        parts.append(Enclosure(lo, hi, v))
    for t, t_lo, t_hi, p, d in _circle_points(verts, r):
        x = _at(p, d, t)
        lo, _ = psi(x)
        ad = _dot(a, d)  # on the circle f - g = f, linear in t
        hi = _dot(a, p) + c + max(ad * max(t_lo, Fraction(0)), ad * min(t_hi, Fraction(1)))
        parts.append(Enclosure(lo, max(lo, hi), x))
    if a != (0, 0):  # r a / |a|, where f is largest on the circle, if it is in the face
        n_lo, n_hi = sqrt_bounds(_sq(a))
        x = (r * a[0] / n_hi, r * a[1] / n_hi)  # just inside the circle, along a
        lo, _ = psi(x)
        hi = r * n_hi + c  # f at r a / |a| is r |a| + c
        if _tangent_inside(verts, a, r):
            parts.append(Enclosure(lo if _inside(verts, x) else Fraction(-1), hi, x))
    return Enclosure.worst(parts)


def _tangent_inside(verts, a: Point, r: Fraction) -> bool:
    """Whether ``r a / |a|`` lies in the polygon, decided exactly: each edge's side test
    ``e x (P - v)`` with ``P = r a / s``, ``s = |a|``, has the sign of
    ``r (e x a) - s (e x v)``, a comparison of a rational with a rational times sqrt."""
    s2 = _sq(a)
    signs = set()
    for v, e in _edges(verts):
        x, y = r * (e[0] * a[1] - e[1] * a[0]), e[0] * v[1] - e[1] * v[0]
        sign = _sign_minus_sqrt(x, y, s2)  # sign of x - y sqrt(s2)
        if sign:
            signs.add(sign)
    return len(signs) <= 1


def _sign_minus_sqrt(x: Fraction, y: Fraction, s2: Fraction) -> int:
    """The sign of ``x - y sqrt(s2)``, exactly."""
    if y == 0:
        return (x > 0) - (x < 0)
    if x >= 0 >= y:
        return 1 if x or y else 0
    if x <= 0 <= y:
        return -1
    d = x * x - y * y * s2  # same signs: compare squares
    return ((d > 0) - (d < 0)) * (1 if x > 0 else -1)
