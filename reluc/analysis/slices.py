"""A 2-D slice of an input space, and the float64 bookkeeping of the planar
subdivision: the unit roundoff and the error terms of the filter (a layer's values and
their bound; values interpolated along an edge and theirs), rows that grow, and signs
that the float values decide (or not)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.errors import NetworkError

U = 2.0 ** -53  # unit roundoff of float64
TINY = 2.0 ** -1000  # covers underflow (absolute errors of at most 2^-1074 per operation)

Point = tuple[Fraction, Fraction]


def gamma(k: int) -> float:
    return k * U / (1 - k * U)


@dataclass(frozen=True)
class Slice:
    """The plane ``p + u a + v b`` of the input space, ``(u, v)`` in ``box``."""

    origin: tuple[Fraction, ...]
    axes: tuple[tuple[Fraction, ...], tuple[Fraction, ...]]
    box: tuple[Fraction, Fraction, Fraction, Fraction]  # u0, u1, v0, v1

    def __post_init__(self):  # exact, whatever numbers it was given
        object.__setattr__(self, "origin", tuple(Fraction(v) for v in self.origin))
        object.__setattr__(self, "axes", tuple(tuple(Fraction(v) for v in a) for a in self.axes))
        object.__setattr__(self, "box", tuple(Fraction(v) for v in self.box))

    def point(self, u: Fraction, v: Fraction) -> list[Fraction]:
        a, b = self.axes
        return [p + u * x + v * y for p, x, y in zip(self.origin, a, b)]

    @property
    def area(self) -> Fraction:
        u0, u1, v0, v1 = self.box
        return (u1 - u0) * (v1 - v0)


class TooManyRegions(NetworkError):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit} regions")
        self.limit = limit


class Rows:
    """A float matrix that grows by rows (amortised doubling)."""

    def __init__(self, cols: int, dtype=np.float64):
        self.a = np.zeros((64, cols), dtype)
        self.n = 0

    def add(self, row) -> int:
        self.extend(1)
        self.a[self.n - 1] = row
        return self.n - 1

    def extend(self, m: int) -> int:
        """Room for ``m`` more rows (zero until written); the first one's index."""
        if self.n + m > len(self.a):
            grown = np.zeros((max(self.n + m, 2 * len(self.a)), self.a.shape[1]), self.a.dtype)
            grown[:self.n] = self.a[:self.n]  # (only the rows in use are copied)
            self.a = grown
        self.n += m
        return self.n - m

    @property
    def view(self) -> np.ndarray:
        return self.a[:self.n]


def unsure(z: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Where a float value ``z`` with error at most ``e`` does not decide the sign:
    ``|z| <= e``, but for exact zeros (``z = e = 0``)."""
    return (np.abs(z) <= e) & (e > 0)


def signs(z: np.ndarray, e: np.ndarray) -> np.ndarray:
    """+1 / -1 where the float value decides the sign, 0 where it is exactly 0 (no
    error), 2 where it does not decide."""
    s = np.where(z > e, 1, np.where(z < -e, -1, 2)).astype(np.int8)
    s[(z == 0) & (e == 0)] = 0
    return s


class Store:
    """Float values and error bounds by increasing integer keys, added in key order."""

    def __init__(self):
        self.keys, self.z, self.e = (Rows(1, np.int64), Rows(1), Rows(1))

    def add(self, keys: np.ndarray, z: np.ndarray, e: np.ndarray) -> None:
        for r, x in ((self.keys, keys), (self.z, z), (self.e, e)):
            start = r.extend(len(x))
            r.a[start:r.n, 0] = x

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.searchsorted(self.keys.view[:, 0], keys)
        if not np.array_equal(self.keys.a[np.minimum(at, len(self.keys.a) - 1), 0], keys):
            raise RuntimeError("a vertex value was read that was never computed")
        return self.z.a[at, 0], self.e.a[at, 0]


def interpolate(za, zb, ea, eb, t, dt) -> tuple[np.ndarray, np.ndarray]:
    """Values ``za + t (zb - za)`` between two points with values ``za``, ``zb`` (errors
    at most ``ea``, ``eb``), where ``t`` is the float of an exact ``t*`` with
    ``|t - t*| <= dt``, and a bound on their error:
    Z - Z* = (1-t)(Za - Za*) + t(Zb - Zb*) + (t - t*)(Zb* - Za*), |Zb* - Za*| <= |Zb - Za|
    + Ea + Eb; then the rounding of it all (exact zeros at both ends stay exact)."""
    d = zb - za
    z = za + t * d
    err = (ea + t * (eb - ea)) * (1 + 8 * U)
    err += dt * (np.abs(d) + ea + eb)
    size = np.abs(za) + np.abs(zb)
    err += 4 * U * size
    size += err
    err += TINY * np.sign(size)
    return z, err


def forward(layer, h: np.ndarray, eh: np.ndarray, coarse: bool = False):
    """``W h + b`` for rows ``h`` (errors at most ``eh``), and a bound on its error:
    the inputs' error through |W|, plus the rounding of a sum of k terms,
    gamma_{k+1} (|W| |h| + |b|). ``coarse``: |W| (eh + gamma |h|) bounded by the
    rows' sums of |W| times the largest entry (one product instead of two)."""
    w = layer.weight
    k = int(np.diff(w.indptr).max()) if w.nnz else 0
    absw = sp.csr_array((np.abs(w.data), w.indices, w.indptr), shape=w.shape)
    if w.nnz > 0.25 * w.shape[0] * w.shape[1] and w.shape[0] * w.shape[1] <= 1 << 22:
        w, absw = w.toarray(), absw.toarray()  # dense enough for BLAS
    z = np.asarray(h @ w.T) + layer.bias
    if coarse:
        rowsum = np.asarray(absw.sum(axis=1)).ravel()
        big = (eh + gamma(k + 1) * np.abs(h)).max(axis=1, keepdims=True)
        size = np.abs(layer.bias) + np.zeros_like(z)
        e = big * rowsum + gamma(k + 1) * size
        return z, e * (1 + 2 * gamma(k + 2)) + (k + 2) * TINY
    size = np.asarray(h @ absw.T) + np.abs(layer.bias)
    e = np.asarray(eh @ absw.T) + gamma(k + 1) * size
    # where every term is exactly 0 so is the result: no underflow term there
    return z, e * (1 + 2 * gamma(k + 2)) + np.where(size + e > 0, (k + 2) * TINY, 0.0)
