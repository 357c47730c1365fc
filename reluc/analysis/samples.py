"""The inputs ``reluc verify`` tries: batches of rows in the domain at several scales
(exact :class:`~reluc.exact.Scaled` batches made with numpy), points of interest of
one-input networks, and the reference's outputs on them, exactly where it is exact."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from reluc import exact
from reluc.analysis.report import as_exact
from reluc.domain import Box


def _ints_at(values, den: int) -> np.ndarray:
    """``values * den`` as integers (each must be one), computed once per distinct value
    (:func:`_distinct`)."""
    return _spread(*_distinct(values), den)


def _spread(kinds: list[Fraction], at: np.ndarray, den: int) -> np.ndarray:
    """``kinds[at[i]] * den`` for each ``i``, as integers (each must be one)."""
    return exact.int_array(np.array([int(v * den) for v in kinds], dtype=object)[at])


def _distinct(values, key=id) -> tuple[list, np.ndarray]:
    """The distinct entries of ``values`` by ``key`` (identity: a box's bounds are mostly
    one object repeated, and hashing a Fraction costs as much as arithmetic on it), and
    where each entry is among them: per-coordinate arithmetic done once per distinct
    bound, not n times."""
    first: dict = {}
    at = np.fromiter((first.setdefault(key(v), len(first)) for v in values), dtype=np.intp,
                     count=len(values))
    kinds = [None] * len(first)
    for v, j in zip(values, at.tolist()):
        if kinds[j] is None:
            kinds[j] = v
    return kinds, at


def _corners(lo: list[Fraction], hi: list[Fraction], at: np.ndarray) -> exact.Scaled:
    """The rows lo, hi and their midpoint, each coordinate ``i`` from distinct bounds
    ``at[i]``: what ``Scaled.of([lo, hi, mid])`` gives for the whole rows."""
    rows = exact.Scaled.of([lo, hi, [(a + b) / 2 for a, b in zip(lo, hi)]])
    return exact.Scaled(rows.num[:, at], rows.den)


def clip(batch: exact.Scaled, box: Box) -> exact.Scaled:
    """The rows clipped to the box, exactly (over a denominator the bounds share)."""
    bounds = [v for v in box.lo + box.hi if v is not None]
    if not bounds:
        return batch
    den = math.lcm(batch.den, *{v.denominator for v in bounds})
    num = batch.rescaled(den).num
    for vals, pick in ((box.lo, np.maximum), (box.hi, np.minimum)):
        has = np.array([v is not None for v in vals])
        if has.any():
            zero = Fraction(0)  # (one object: _ints_at computes once per object)
            limit = _ints_at([zero if v is None else v for v in vals], den)
            if num.dtype != limit.dtype:
                num, limit = num.astype(object), limit.astype(object)
            num = np.where(has, pick(num, limit), num)
    return exact.Scaled(num, den)


def sample_batches(box: Box, count: int, rng: np.random.Generator,
                   near: list[Fraction] | None = None) -> list[tuple[str, exact.Scaled]]:
    """Input rows in the domain, grouped into batches of similar scale (so exact integer
    arithmetic stays in int64), each an exact :class:`~reluc.exact.Scaled` batch made
    with numpy. ``near``: points of interest for one-input networks."""
    n = box.dim
    per = max(2, count // 8)
    # the bounds' arithmetic once per distinct pair (lo_i, hi_i), spread by ``at``
    pairs, at = _distinct(list(zip(box.lo, box.hi)), key=lambda p: (id(p[0]), id(p[1])))
    # an open end 2^10 out, or 2^11 past the other end where that lies beyond 2^10
    lo = [a if a is not None else b - 2**11 if b is not None and b <= -(2**10) else
          Fraction(-(2**10)) for a, b in pairs]
    hi = [b if b is not None else a + 2**11 if a is not None and a >= 2**10 else
          Fraction(2**10) for a, b in pairs]
    unbounded = any(v is None for pair in pairs for v in pair)
    ints = rng.integers

    # random binary fractions lo + (hi - lo) k / 2^20 on a grid of 2^20 steps
    step = [(b - a) / 2**20 for a, b in zip(lo, hi)]
    den = math.lcm(*{v.denominator for v in lo + step})
    lo_at, step_at = _spread(lo, at, den), _spread(step, at, den)
    k = ints(0, 2**20 + 1, (2 * per, n))
    if object in (lo_at.dtype, step_at.dtype) or float(np.abs(step_at).max()) * 2**20 + \
            float(np.abs(lo_at).max()) >= exact._INT64_SAFE:
        lo_at, step_at = lo_at.astype(object), step_at.astype(object)  # (int64 would wrap)
    grid = lo_at + step_at * k
    i = np.arange(n)
    structured = np.array([np.zeros(n, np.int64), np.full(n, 7), np.full(n, -3), i, n - i]) * 420
    structured = np.vstack([structured, (-1) ** i * i * (420 // (3 + i % 5))])
    batches = [
        ("random binary fractions", exact.Scaled(grid, den)),
        ("integers", exact.Scaled(ints(-1000, 1001, (per, n)))),
        ("ties", exact.Scaled(ints(-2, 3, (per, n)))),
        ("near ties", exact.Scaled(ints(-2, 3, (per, n)) * 2**20 + ints(-1, 2, (per, n)),
                                   2**20)),
        ("structured", exact.Scaled(structured, 420)),
        ("domain corners", _corners(lo, hi, at)),
    ]  # fmt: skip
    if unbounded:
        extreme = np.arange(min(n, per))[:, None] - i[None, :]
        extreme[np.arange(extreme.shape[0]), np.arange(extreme.shape[0])] = 2**50
        batches += [
            ("large magnitudes", exact.Scaled(ints(-(2**20), 2**20 + 1, (per, n)) * 2**30)),
            ("tiny magnitudes", exact.Scaled(ints(-(2**20), 2**20 + 1, (per, n)), 2**60)),
            ("one extreme value", exact.Scaled(extreme)),
        ]
    if near:
        eps = [Fraction(1, 2**30), Fraction(1, 2**12)]
        pts = sorted({p + s * e for p in near for e in eps for s in (-1, 0, 1)})
        pts = [p for p in pts if (box.lo[0] is None or p >= box.lo[0])
               and (box.hi[0] is None or p <= box.hi[0])]  # fmt: skip
        if len(pts) > 4 * per:
            pts = sorted(rng.choice(np.array(pts, dtype=object), 4 * per, replace=False))
        if pts:
            batches.append(("on and next to breakpoints", exact.Scaled.of([[p] for p in pts])))
    return [(name, clip(b, box)) for name, b in batches if len(b)]


def reference_batch(ctor, values, batch: exact.Scaled) -> tuple[exact.Scaled, bool]:
    """The reference on a batch, exactly; and whether it is exact (a reference that
    returns floats is an approximation of the true function)."""
    if ctor.batch_reference is not None:
        num, den = ctor.batch_reference(values, batch.num, batch.den)
        return exact.Scaled(num, den), True
    outs = [ctor.reference(values, r) for r in batch.rows()]
    is_exact = all(isinstance(v, (Fraction, int)) for out in outs for v in out)
    return exact.Scaled.of([[as_exact(v) for v in out] for out in outs]), is_exact


def near_points(ctor, values, box, first, rng, budget: int) -> list[Fraction]:
    """Points of interest of a one-input network: the domain's ends, the reference's
    breakpoints (at most ``budget`` of them, drawn at random from a lazy sequence, so the
    cost follows the samples, not the count) and the first layer's kinks."""
    bps = ctor.breakpoints(values) if ctor.breakpoints else ()
    if len(bps) > budget:
        bps = [bps[int(i)] for i in np.unique(rng.integers(0, len(bps), budget))]
    return [box.lo[0], box.hi[0], *bps, *_first_layer_kinks(first)]


def _first_layer_kinks(layer) -> list[Fraction]:
    w = layer.weight.toarray().ravel()
    return [-Fraction(float(b)) / Fraction(float(a)) for a, b in zip(w, layer.bias) if a != 0]
