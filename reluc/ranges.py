"""Floating-point range: the inputs on which evaluating a network cannot overflow.

For inputs with ``|x_j| <= R`` every value a layer computes, pre-activations and every
partial sum of them, is at most ``A_i R + C_i`` in size, with per-neuron vectors

    A^0 = 1,   A^k = g_k |W_k| A^(k-1),   C^0 = 0,   C^k = g_k (|W_k| C^(k-1) + |b_k|)

(ReLU only shrinks magnitudes). ``g_k = 1 + gamma`` covers the rounding of a dot product
of ``K + 1`` terms in the dtype (``gamma = (K + 1) u / (1 - (K + 1) u)``, ``K`` the most
nonzeros in a row of ``W_k``, ``u`` the unit roundoff), so the bound holds for the
computed values too, whatever the summation order. The network cannot overflow on
``|x|_inf <= R`` when every ``A_i R + C_i`` stays below the dtype's largest number:

    R = min_i (max - C_i) / A_i,

taken over every neuron of every layer, then rounded down to three significant digits
(:func:`input_limit`). One sparse matrix-vector product per layer, in float64 with an
extra relative margin per layer so that the float64 arithmetic of the bound is itself
on the safe side. ``R = 0`` means the bound cannot rule out overflow even at ``x = 0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from reluc.net import Layer

_MARGIN = 1 + 2.0**-40  # covers the float64 rounding of the bound's own arithmetic
# the interval bounds hold (width x candidate radii) numbers a few times over: past this
# many cells per layer (2^22 neurons at 16 radii) only the magnitude bound is kept
_MAX_CELLS = 1 << 26


def dot_gamma(layer: Layer, unit: float) -> float:
    """gamma_{K+1} of the layer's dot products for unit roundoff ``unit`` (``K`` the most
    nonzeros in a row), with the margin for the float64 arithmetic that uses it: every
    computed partial sum is within a relative ``gamma`` of ``|W| |h| + |b|``."""
    k = int(np.diff(layer.weight.indptr).max(initial=0)) + 1
    gamma = k * unit / (1 - k * unit) if k * unit < 0.5 else math.inf
    return gamma * _MARGIN + 2.0**-40


class RangeBound:
    """Accumulates the bound a layer at a time (memory: a few vectors per candidate
    radius, of a layer's width)."""

    def __init__(self, dtype: str):
        info = np.finfo(dtype)
        self.max = float(info.max)
        self.unit = float(info.eps) / 2
        self.a: np.ndarray | None = None  # magnitude bound A (see the module docstring)
        self.c: np.ndarray | None = None
        self.r = self.max  # the magnitude bound's R; the input itself must fit the dtype
        # signed interval bounds at candidate radii 2^e (columns), for networks whose
        # magnitudes cancel (sorting, sawtooth): lower and upper ends of each neuron
        step = 8 if info.bits == 32 else 32
        self.radii = np.array([2.0**e for e in range(0, info.maxexp, step)])
        self.lo = self.hi = None
        self.layers = 0
        self.safe = np.ones(len(self.radii), dtype=bool)

    def add(self, layer: Layer) -> None:
        self.layers += 1
        w = layer.weight
        aw = abs(w)
        gamma = dot_gamma(layer, self.unit)
        bias = layer.bias
        with np.errstate(over="ignore", invalid="ignore"):
            self._magnitude(aw, bias, gamma)
            self._intervals(w, aw, bias, gamma)

    def _magnitude(self, aw, bias, gamma) -> None:
        g = 1 + gamma
        if self.a is None:
            a, c = np.asarray(aw.sum(axis=1)).ravel(), np.abs(bias)
        else:
            a, c = aw @ self.a, aw @ self.c + np.abs(bias)
        self.a, self.c = a * g, c * g
        room = self.max - self.c
        pos = self.a > 0
        if np.any(~(room > 0)):  # overflow possible at x = 0 (or an inf in the bound)
            self.r = 0.0
        elif pos.any():
            self.r = min(self.r, float(np.min(room[pos] / self.a[pos])) / _MARGIN)
        if not math.isfinite(self.r) or self.r < 0:
            self.r = 0.0

    def _intervals(self, w, aw, bias, gamma) -> None:
        if w.shape[0] * len(self.radii) > _MAX_CELLS:  # too wide: the magnitude bound only
            self.safe[:] = False
            self.lo = self.hi = None
            self.wide = True
        if getattr(self, "wide", False):
            return
        if self.lo is None:
            lo = np.broadcast_to(-self.radii, (w.shape[1], len(self.radii)))
            hi = np.broadcast_to(self.radii, (w.shape[1], len(self.radii)))
        else:
            lo, hi = self.lo, self.hi
        mag = np.maximum(np.abs(lo), np.abs(hi))
        size = aw @ mag + np.abs(bias)[:, None]  # every partial sum is at most this
        slack = gamma * size  # rounding of the dot products
        self.safe &= np.all(size * (1 + gamma) < self.max, axis=0)
        pos, neg = w.maximum(0), (-w).maximum(0)
        zlo = pos @ lo - neg @ hi + bias[:, None] - slack
        zhi = pos @ hi - neg @ lo + bias[:, None] + slack
        self.safe &= np.all(np.isfinite(zlo) & np.isfinite(zhi), axis=0)
        # ReLU follows (the last layer's clamp is harmless: its sizes were checked above)
        self.lo, self.hi = np.maximum(zlo, 0), np.maximum(zhi, 0)

    def limit(self) -> float:
        """R, rounded down to three significant digits."""
        safe = self.radii[self.safe & (self.radii <= self.max)]
        return round_down(max(self.r, float(safe.max()) if safe.size else 0.0))


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
