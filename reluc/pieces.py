"""Exact linear pieces of a network with one input, in rational arithmetic.

Along the input ``x`` every pre-activation is piecewise linear. Starting from one
interval on which ``h(x) = x``, each layer maps the affine functions on every interval
through ``W h + b``; ReLU then splits an interval where a pre-activation changes sign
inside it and zeroes the inactive neurons on each part. The result is a partition of
``[lo, hi]`` into intervals on which the network's output is affine: exact
``(t0, t1, slope, intercept)`` per output, with no sampling. ReLU at most doubles the
pieces of each neuron (Arora et al., Lemma D.5), so this is tractable for the deep, narrow
1-D networks of the seed papers (sawtooth k=12: 4096 pieces).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence
from fractions import Fraction

from reluc.errors import NetworkError
from reluc.net import Net


@dataclass(frozen=True)
class Piece:
    t0: Fraction | None  # None: unbounded (-inf)
    t1: Fraction | None  # None: unbounded (+inf)
    slope: tuple[Fraction, ...]  # one per output
    intercept: tuple[Fraction, ...]
    pattern: int = 0  # bit i set: hidden neuron i (counted layer by layer) is active inside

    def value(self, t: Fraction) -> tuple[Fraction, ...]:
        return tuple(a * t + b for a, b in zip(self.slope, self.intercept))


def sparse_fractions(layer):
    """Per row, the (column, weight) pairs of its nonzeros, weights as Fractions."""
    w = layer.weight
    rows = [[(int(j), Fraction(float(v))) for j, v in
             zip(w.indices[w.indptr[r]:w.indptr[r + 1]], w.data[w.indptr[r]:w.indptr[r + 1]])]
            for r in range(w.shape[0])]
    return rows, [Fraction(float(v)) for v in layer.bias]


def _inside(r: Fraction, t0, t1) -> bool:
    return (t0 is None or t0 < r) and (t1 is None or r < t1)


def interior_point(t0, t1) -> Fraction:
    """A point strictly inside the (possibly unbounded) interval."""
    if t0 is None and t1 is None:
        return Fraction(0)
    if t0 is None:
        return t1 - 1
    if t1 is None:
        return t0 + 1
    return (t0 + t1) / 2


def pieces(net: Net, lo: Fraction | None, hi: Fraction | None,
           max_pieces: int = 1 << 20, max_work: int | None = None,
           along: tuple[Sequence[Fraction], Sequence[Fraction]] | None = None) -> list[Piece]:
    """The affine pieces of ``net`` on ``[lo, hi]`` (None: unbounded), in order; adjacent
    pieces with the same affine function are not merged (see :func:`merge`), so each
    piece is one activation pattern (:attr:`Piece.pattern`). With ``along = (p, d)`` the
    network is read on the line ``x = p + t d`` of its input space, ``t`` in ``[lo, hi]``.
    The work is about (pieces x nonzero weights) exact operations; ``max_work`` bounds it
    (raising :class:`TooManyPieces` past it, as past ``max_pieces``)."""
    if along is None and net.n_in != 1:
        raise NetworkError("exact piece enumeration needs a network with one input")
    origin, direction = ([Fraction(0)], [Fraction(1)]) if along is None else along
    if len(origin) != net.n_in or len(direction) != net.n_in:
        raise NetworkError(f"a line in R^{len(origin)} for a network with {net.n_in} inputs")
    if lo is not None and hi is not None and not lo < hi:
        raise NetworkError("piece enumeration needs an interval lo < hi")
    lo = None if lo is None else Fraction(lo)
    hi = None if hi is None else Fraction(hi)
    # Each interval carries the affine functions a*x + b of the current layer's values.
    zero = Fraction(0)
    cur = [(lo, hi, [Fraction(v) for v in direction], [Fraction(v) for v in origin], 0)]
    last = net.depth - 1
    work, offset = 0, 0
    for k, layer in enumerate(net.layers):
        w, bias = sparse_fractions(layer)
        nxt = []
        work += len(cur) * (layer.weight.nnz + layer.n_out)
        if max_work is not None and work > max_work:
            raise TooManyPieces(max_pieces)
        for t0, t1, a, b, bits in cur:
            za, zb = [], []
            for row, c in zip(w, bias):
                sa, sb = zero, c
                for j, wj in row:
                    if a[j]:
                        sa += wj * a[j]
                    if b[j]:
                        sb += wj * b[j]
                za.append(sa)
                zb.append(sb)
            if k == last:
                nxt.append((t0, t1, za, zb, bits))
                continue
            cuts = sorted({-q / p for p, q in zip(za, zb) if p and _inside(-q / p, t0, t1)})
            bounds = [t0, *cuts, t1]
            for s0, s1 in zip(bounds, bounds[1:]):
                mid = interior_point(s0, s1)
                on = [p * mid + q > 0 for p, q in zip(za, zb)]
                nxt.append((s0, s1, [p if o else zero for p, o in zip(za, on)],
                            [q if o else zero for q, o in zip(zb, on)],
                            bits | sum(1 << (offset + j) for j, o in enumerate(on) if o)))
            if len(nxt) > max_pieces:  # checked as they come: a layer may triple them
                raise TooManyPieces(max_pieces)
        offset += layer.n_out
        cur = nxt
    return [Piece(t0, t1, tuple(a), tuple(b), bits) for t0, t1, a, b, bits in cur]


class TooManyPieces(NetworkError):
    """The enumeration passed its limit of pieces (and stopped there)."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} linear pieces")
        self.limit = limit


def merge(ps: list[Piece]) -> list[Piece]:
    """Merge adjacent pieces on which the network has the same affine function."""
    out: list[Piece] = []
    for p in ps:
        if out and out[-1].slope == p.slope and out[-1].intercept == p.intercept:
            out[-1] = Piece(out[-1].t0, p.t1, p.slope, p.intercept)
        else:
            out.append(p)
    return out


def marks_inside(marks: list[Fraction], t0, t1) -> list[Fraction]:
    """The sorted ``marks`` strictly inside (t0, t1) (None: unbounded), by bisection."""
    i = 0 if t0 is None else bisect.bisect_right(marks, t0)
    j = len(marks) if t1 is None else bisect.bisect_left(marks, t1)
    return marks[i:j]


def describe_interval(lo, hi) -> str:
    from reluc.numbers import format_number

    def show(v):
        t = format_number(v)
        return t if len(t) <= 16 else f"~{float(v):.9g}"

    a = "(-inf" if lo is None else f"[{show(lo)}"
    b = "inf)" if hi is None else f"{show(hi)}]"
    return f"{a}, {b}"


def worst_error(net: Net, reference, breakpoints, lo, hi,
                max_pieces: int = 1 << 20, max_work: int | None = None) -> Fraction:
    """Exact max |net - reference| on [lo, hi] (finite) for a continuous piecewise-linear
    reference with the given breakpoints: both are affine between consecutive points of
    (piece ends, breakpoints), so the maximum is attained at one of those points.
    :class:`TooManyPieces` when the network or the reference has more than ``max_pieces``
    pieces (the reference's breakpoints are counted before any is made)."""
    if len(breakpoints) > max_pieces + 1:
        raise TooManyPieces(max_pieces)
    ps = pieces(net, lo, hi, max_pieces, max_work)
    worst = Fraction(0)
    marks = sorted({Fraction(b) for b in breakpoints})
    for p in ps:
        for t in [p.t0, *marks_inside(marks, p.t0, p.t1), p.t1]:
            worst = max(worst, max(abs(g - Fraction(w)) for g, w in zip(p.value(t), reference(t))))
    return worst
