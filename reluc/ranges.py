"""Floating-point range: the inputs on which evaluating a network cannot overflow.

The scaled interval bound. For inputs ``x`` in ``[-r, r]^n`` every neuron's computed
value lies in ``[r l0_i - C_i, r h0_i + C_i]``, where ``[l0, h0]`` are the interval bounds
of the network *without biases* on ``[-1, 1]^n`` and ``C`` is what the biases can add:

    l0^0 = -1, h0^0 = 1, C^0 = 0
    size0 = |W| max(|l0|, |h0|),   sizec = |W| C + |b|
    [l0, h0] <- relu([W+ l0 - W- h0 - gamma size0,  W+ h0 - W- l0 + gamma size0])
    C <- g sizec

(``W+``, ``W-`` the positive and negative parts of ``W``; ReLU keeps both forms because
``C >= 0``; the proof is one line of interval arithmetic per layer). Every partial sum of a
layer's dot products is then at most ``g (r size0_i + sizec_i)`` in size, ``g = 1 + gamma``
covering the rounding of a dot product of ``K + 1`` terms in the dtype (``gamma = (K + 1) u
/ (1 - (K + 1) u)``, ``K`` the most nonzeros in a row of ``W``, ``u`` the unit roundoff),
whatever the summation order. So no overflow for ``|x|_inf <= R`` with

    R = min_i (max / g - sizec_i) / size0_i

over every neuron of every layer: a closed form, one sparse product per layer with a few
vectors of the layer's width, at every radius at once. Intervals see cancellations that
magnitudes do not (``min(x, y) = y - relu(y - x)`` stays near ``|x|``, though its sizes
double). For narrow layers (at most 65536 neurons) plain interval bounds *with* biases run
too, at candidate radii ``2^(8j)`` (float32) or ``2^(32j)`` (float64): where the biases keep
values small (the sawtooth's [0, 1]) they can be larger; the limit is the larger of the
two. Until the first nonzero bias those bounds at radius ``2^e`` are radius 1's times
``2^e``, exactly (a power of two commutes with every rounding; a value it would take past
the largest number fails that radius either way), so they are kept as one column and the
radii part ways at the first bias (sort n=16384, all of whose biases are zero: reading
its file and bounding it 1.6 -> 0.6 s of CPU). The result is rounded down to three significant digits (:func:`input_limit`), with a
relative margin per layer so that the float64 arithmetic of the bound is itself on the
safe side. ``R = 0`` means the bound cannot rule out overflow even at ``x = 0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from reluc.net import Layer
from reluc.pairs import interleave

# scipy.sparse is imported where a matrix is made (reluc.net's note)
if TYPE_CHECKING:
    import scipy.sparse as sp

_MARGIN = 1 + 2.0**-40  # covers the float64 rounding of the bound's own arithmetic
# the interval bounds at candidate radii hold (width x radii) numbers a few times over:
# past this many cells per layer (65536 neurons at 16 radii) only the scaled bound is kept
_MAX_CELLS = 1 << 20


def dot_gamma(layer: Layer | int, unit: float) -> float:
    """gamma_{K+1} of the layer's dot products for unit roundoff ``unit`` (``K`` the most
    nonzeros in a row; ``layer`` a layer or that K), with the margin for the float64
    arithmetic that uses it: every computed partial sum is within a relative ``gamma``
    of ``|W| |h| + |b|``."""
    k = (layer if isinstance(layer, int) else
         int(np.diff(layer.weight.indptr).max(initial=0))) + 1
    gamma = k * unit / (1 - k * unit) if k * unit < 0.5 else math.inf
    return gamma * _MARGIN + 2.0**-40


class RangeBound:
    """Accumulates the bound a layer at a time (memory: a few vectors of a layer's
    width, and a few per candidate radius for layers narrow enough)."""

    def __init__(self, dtype: str):
        info = np.finfo(dtype)
        self.max = float(info.max)
        self.unit = float(info.eps) / 2
        # the scaled interval bound (module docstring): bias-free intervals [l0, h0] at
        # radius 1, and C, what the biases (and the rounding of their part) add
        self.l0: np.ndarray | None = None
        self.h0: np.ndarray | None = None
        self.c: np.ndarray | None = None
        self.r = self.max  # its R; the input itself must fit the dtype
        # plain interval bounds at candidate radii 2^e (columns), for networks whose
        # biases matter at small radii (sawtooth): lower and upper ends of each neuron
        step = 8 if info.bits == 32 else 32
        self.radii = np.array([2.0**e for e in range(0, info.maxexp, step)])
        self.lo = self.hi = None
        self.layers = 0
        self.safe = np.ones(len(self.radii), dtype=bool)

    def add(self, layer: Layer) -> None:
        self.layers += 1
        gamma = dot_gamma(layer, self.unit)
        with np.errstate(over="ignore", invalid="ignore"):
            parts = _Parts(layer)
            self._scaled(parts, layer.bias, gamma)
            self._intervals(parts, layer.bias, gamma)

    def _scaled(self, parts: _Parts, bias, gamma) -> None:
        g = 1 + gamma
        if self.l0 is None:  # inputs in [-r, r]: l0 = -1, h0 = 1, C = 0
            size0 = parts.row_sums()
            sizec = np.abs(bias)
            zlo = -size0 - gamma * size0
            zhi = size0 + gamma * size0
        else:
            # the products in pairs, each matrix read once for two vectors (a column's
            # sums are the same as one vector's, in the same order)
            mag0 = np.maximum(np.abs(self.l0), np.abs(self.h0))
            sizes = parts.sizes(np.column_stack([mag0, self.c]))
            lo, hi = parts.ends(self.l0, self.h0)
            size0 = sizes[:, 0]
            sizec = sizes[:, 1] + np.abs(bias)
            zlo = lo - gamma * size0
            zhi = hi + gamma * size0
        # every partial sum is at most g (r size0 + sizec): below the dtype's largest
        # number for r < (max / g - sizec) / size0 (margins for the float64 arithmetic)
        room = self.max / (g * _MARGIN) - sizec * _MARGIN
        grows = size0 > 0
        if np.any(~(room > 0)):  # overflow possible at x = 0 (or an inf in the bound)
            self.r = 0.0
        elif grows.any():
            self.r = min(self.r, float(np.min(room[grows] / size0[grows])) / _MARGIN)
        if not math.isfinite(self.r) or self.r < 0:
            self.r = 0.0
        # ReLU follows (the last layer's clamp is harmless: its sizes were checked above);
        # the ends move outwards by the margin, for the float64 rounding of their sums
        self.l0 = np.maximum(zlo, 0) / _MARGIN
        self.h0 = np.maximum(zhi, 0) * _MARGIN
        self.c = sizec * g * _MARGIN

    def _intervals(self, parts: _Parts, bias, gamma) -> None:
        if parts.rows * len(self.radii) > _MAX_CELLS:  # too wide: the scaled bound only
            self.safe[:] = False
            self.lo = self.hi = None
            self.wide = True
        if getattr(self, "wide", False):
            return
        if self.lo is None:  # inputs in [-r, r] at every radius: radius 1, scaled
            self.lo, self.hi = -np.ones(parts.cols), np.ones(parts.cols)
        if self.lo.ndim == 1 and np.any(bias):  # the radii part ways: a column each
            self.lo, self.hi = self.lo[:, None] * self.radii, self.hi[:, None] * self.radii
        lo, hi = self.lo, self.hi
        mag = np.maximum(np.abs(lo), np.abs(hi))
        size = parts.sizes(mag) + _column(np.abs(bias), lo)  # every partial sum is at most this
        slack = gamma * size  # rounding of the dot products
        zlo, zhi = parts.ends(lo, hi)
        zlo = zlo + _column(bias, lo) - slack
        zhi = zhi + _column(bias, lo) + slack
        if lo.ndim == 1:  # no bias yet: each radius's bounds are radius 1's times it, exactly
            top = np.max(size * (1 + gamma), initial=0.0)
            far = np.max(np.maximum(np.abs(zlo), np.abs(zhi)), initial=0.0)
            self.safe &= (self.radii * top < self.max) & np.isfinite(self.radii * far)
        else:
            self.safe &= np.all(size * (1 + gamma) < self.max, axis=0)
            self.safe &= np.all(np.isfinite(zlo) & np.isfinite(zhi), axis=0)
        # ReLU follows (the last layer's clamp is harmless: its sizes were checked above)
        self.lo, self.hi = np.maximum(zlo, 0), np.maximum(zhi, 0)

    def limit(self) -> float:
        """R, rounded down to three significant digits."""
        safe = self.radii[self.safe & (self.radii <= self.max)]
        return round_down(max(self.r, float(safe.max()) if safe.size else 0.0))


class _Parts:
    """A layer's ``|W|``, ``W+`` and ``W-`` (its pattern, other values), of its even rows
    alone where its rows are in negated pairs (:attr:`Layer.even_rows`): an odd row's
    ``W+`` is the even row's ``W-``, so each product is made once a pair, and each odd
    row's sums are the even row's, bit for bit, in the same order as its own would be."""

    def __init__(self, layer: Layer):
        import scipy.sparse as sp
        w = layer.weight if layer.even_rows is None else layer.even_rows
        self.paired, self.rows, self.cols = layer.even_rows is not None, *layer.weight.shape

        def part(values):  # W's pattern with other values (zeros kept: no copy of it)
            return sp.csr_array((values, w.indices, w.indptr), shape=w.shape)

        self.aw, self.pos = part(np.abs(w.data)), part(np.maximum(w.data, 0))
        self.neg = part(np.maximum(-w.data, 0))

    def row_sums(self) -> np.ndarray:
        sums = np.asarray(self.aw.sum(axis=1)).ravel()
        return np.repeat(sums, 2) if self.paired else sums

    def sizes(self, v: np.ndarray) -> np.ndarray:
        """``|W| v``."""
        s = self.aw @ v
        return np.repeat(s, 2, axis=0) if self.paired else s

    def ends(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``W+ lo - W- hi`` and ``W+ hi - W- lo``: for vectors two products of two
        columns, for the candidate radii's columns four products."""
        if lo.ndim == 1:
            ups, downs = self.pos @ np.column_stack([lo, hi]), self.neg @ np.column_stack([hi, lo])
            up_lo, up_hi, down_hi, down_lo = ups[:, 0], ups[:, 1], downs[:, 0], downs[:, 1]
        else:
            up_lo, up_hi, down_hi, down_lo = (self.pos @ lo, self.pos @ hi, self.neg @ hi,
                                              self.neg @ lo)
        if not self.paired:
            return up_lo - down_hi, up_hi - down_lo
        # the odd rows: W+ is the even rows' W-, W- their W+
        return interleave(up_lo - down_hi, down_lo - up_hi), \
            interleave(up_hi - down_lo, down_hi - up_lo)


def _column(v: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``v`` as a column beside the radii's columns of ``like``, or as it is."""
    return v if like.ndim == 1 else v[:, None]


def round_down(r: float, digits: int = 3) -> float:
    """``r`` rounded down to ``digits`` significant decimal digits (0 stays 0)."""
    if r <= 0:
        return 0.0
    text = f"{r:.{digits - 1}e}"
    v = float(text)
    while v > r:  # the decimal text rounded up: step one unit of the last digit down
        mant, exp = text.split("e")
        m = round(float(mant) * 10 ** (digits - 1)) - 1
        text = f"{m / 10 ** (digits - 1):.{digits - 1}f}e{exp}"
        v = float(text)
    return v


def input_limit(layers: Iterable[Layer], dtype: str) -> float:
    """The largest ``R`` (three significant digits) such that evaluating the network in
    ``dtype`` on any input with ``|x|_inf <= R`` cannot overflow."""
    bound = RangeBound(dtype)
    for layer in layers:
        bound.add(layer)
    return bound.limit()


def format_limit(r: float) -> str:
    """The limit as reluc prints and records it: ``3.4e+37`` style, 3 digits."""
    return f"{r:.2e}" if r else "0"
