"""Exact (rational) evaluation of a :class:`~reluc.net.Net`.

Every float64 weight is a dyadic rational ``M / 2^a``, so a layer is an integer matrix
times a power of two. A batch of rational inputs is held as integer numerators over one
common denominator ``D``; each layer is then integer arithmetic::

    W = Wi / 2^a,  b = bi / 2^c,  x = N / D,  s = max(a, c)
    W x + b = (Wi N 2^(s-a) + bi D 2^(s-c)) / (D 2^s)

ReLU acts on numerators (``D > 0``), and common powers of two are cancelled after each
layer. Integers stay in int64 (scipy sparse products) while a bound proves they cannot
overflow, and switch to Python integers (numpy object arrays) otherwise, so the result is
exact for any network and any rational input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.errors import NetworkError
from reluc.net import Layer, Net

_INT64_SAFE = 1 << 62


def to_fraction(v) -> Fraction:
    """Exact rational value of an int, float, Fraction or numeric string."""
    if isinstance(v, Fraction):
        return v
    if isinstance(v, (int, np.integer)):
        return Fraction(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            raise ValueError(f"non-finite value {v}")
        return Fraction(float(v))
    return Fraction(str(v))


def is_double(v: Fraction) -> bool:
    """Whether the rational ``v`` is a float64 number (so a weight ``v`` is stored exactly)."""
    return representable([v], "float64")


def held_by(a: np.ndarray, dtype: str) -> np.ndarray:
    """Elementwise: which float64 values of ``a`` are numbers of ``dtype`` too (the
    round trip through ``dtype`` gives them back; beyond its range, inf: not held)."""
    with np.errstate(over="ignore"):
        return a.astype(dtype).astype(np.float64) == a


def representable(values, dtype: str) -> bool:
    """Whether every exact value (int, Fraction, or a float standing for itself) is a
    finite number of ``dtype``: decided in rational arithmetic, never by a float
    conversion that could round the question away."""
    t = np.dtype(dtype).type
    with np.errstate(over="ignore"):
        for v in values:
            try:
                f = t(float(v))
            except OverflowError:
                return False
            if not np.isfinite(f) or Fraction(float(f)) != Fraction(v):
                return False
    return True


def dyadic_exponent(values: np.ndarray) -> int:
    """Smallest ``a >= 0`` with ``values * 2^a`` all integers (values finite float64)."""
    v = values[values != 0]
    if v.size == 0:
        return 0
    mant, expo = np.frexp(np.abs(v))  # |v| = mant * 2^expo, mant in [0.5, 1)
    m = (mant * 2.0**53).astype(np.int64)  # exact 53-bit integer mantissa
    tz = np.log2((m & -m).astype(np.float64)).astype(np.int64)  # trailing zero bits
    return int(max(0, np.max(53 - expo - tz)))


def _to_integers(values: np.ndarray, a: int) -> np.ndarray:
    """``values * 2^a`` as exact integers: int64 when they fit, else Python ints."""
    scaled = np.ldexp(values, a)
    if scaled.size == 0 or np.max(np.abs(scaled)) < float(_INT64_SAFE):
        return scaled.astype(np.int64)
    if np.all(np.isfinite(scaled)):  # ldexp is exact unless it overflows, and int() of
        return np.array([int(x) for x in scaled.tolist()], dtype=object)  # a whole float too
    return np.array([int(Fraction(float(x)) * (1 << a)) for x in values], dtype=object)


class IntLayer:
    """A layer as integers: ``W = Wi / 2^a`` (CSR parts), ``b = bi / 2^c``."""

    def __init__(self, layer: Layer):
        w = layer.weight
        self.shape = w.shape
        self.a = dyadic_exponent(w.data)
        self.c = dyadic_exponent(layer.bias)
        self.data = _to_integers(w.data, self.a)
        self.bias = _to_integers(layer.bias, self.c)
        self.indices = w.indices
        self.indptr = w.indptr
        if self.data.dtype == object or self.bias.dtype == object:
            self.max_rowsum = self.max_bias = math.inf  # always take the Python-int path
        else:
            absw = sp.csr_array((np.abs(self.data).astype(np.float64), self.indices, self.indptr),
                                shape=self.shape)
            self.max_rowsum = float(absw.sum(axis=1).max()) if absw.nnz else 0.0
            self.max_bias = float(np.max(np.abs(self.bias))) if self.bias.size else 0.0

    def apply(self, num: np.ndarray, den: int, nonneg: bool = False
              ) -> tuple[np.ndarray, int]:
        """The layer on ``num / den``; ``nonneg``: no numerator is negative (after a ReLU),
        so that the largest is the largest in size."""
        s = max(self.a, self.c)
        fw, fb = 1 << (s - self.a), den << (s - self.c)
        if num.dtype != object:  # |num|'s largest, without making |num|
            max_num = float(num.max() if nonneg else max(num.max(), -num.min())) \
                if num.size else 0.0
        else:
            max_num = _as_float(max((abs(int(x)) for x in num.flat), default=0))
        # A float upper bound on every |numerator| of the result; the factor 2 absorbs
        # the rounding of the float arithmetic itself.
        bound = 2 * (max_num * self.max_rowsum * _as_float(fw) + self.max_bias * _as_float(fb))
        if bound < _INT64_SAFE and num.dtype != object:
            w = sp.csr_array((self.data, self.indices, self.indptr), shape=self.shape)
            out = np.asarray((w @ num.T).T, dtype=np.int64)
            if fw != 1 and self.max_rowsum and max_num:  # (the bound does not cover fw
                out *= fw  # when every numerator is 0, and then the product is 0 anyway)
            if self.max_bias:
                out += self.bias * fb
        else:
            out = self._apply_object(num.astype(object)) * fw + self.bias.astype(object) * fb
            if bound < _INT64_SAFE:
                out = out.astype(np.int64)
        return out, den << s

    def _apply_object(self, num: np.ndarray) -> np.ndarray:
        rows = self.shape[0]
        out = np.zeros((num.shape[0], rows), dtype=object)
        starts, ends = self.indptr[:-1], self.indptr[1:]
        nonempty = starts < ends
        if self.indices.size:
            prods = num[:, self.indices] * self.data.astype(object)[None, :]
            out[:, nonempty] = np.add.reduceat(prods, starts[nonempty], axis=1)
        return out


def _as_float(x: int | Fraction) -> float:
    """``x`` rounded to float64, +-inf past its range."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _cancel_twos(num: np.ndarray, den: int) -> tuple[np.ndarray, int]:
    """Divide numerators and denominator by their largest common power of two."""
    t = (den & -den).bit_length() - 1
    if t == 0:
        return num, den
    if num.dtype == object:
        acc = 0
        for x in num.flat:
            acc |= int(x)
    else:
        # (the lowest set bit of -x is that of x: no |num| needed)
        acc = int(np.bitwise_or.reduce(num, axis=None)) if num.size else 0
    if acc:
        t = min(t, (acc & -acc).bit_length() - 1)
    if t == 0:
        return num, den
    return (num >> t if num.dtype != object else num // (1 << t)), den >> t


def int_array(values) -> np.ndarray:
    """Integers as int64 when every one is safely inside int64, else as Python ints."""
    a = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if a.dtype != object:
        return a.astype(np.int64)
    if a.size == 0 or max(abs(int(x)) for x in a.flat) < _INT64_SAFE:
        return a.astype(np.int64)
    return a


class Scaled:
    """A batch of rational rows held as integer numerators over one positive common
    denominator: ``rows = num / den`` (``num`` int64, or Python ints where int64 could
    overflow). The vectorised form of exact inputs and outputs: millions of values
    cost numpy arrays, not Fraction objects."""

    __slots__ = ("num", "den")

    def __init__(self, num: np.ndarray, den: int = 1):
        if den <= 0:
            raise ValueError("the denominator must be positive")
        self.num, self.den = int_array(np.atleast_2d(num)), int(den)

    @classmethod
    def of(cls, rows: Sequence[Sequence]) -> Scaled:
        """From rows of exact values (Fractions, ints, floats)."""
        rows = [[to_fraction(v) for v in row] for row in rows]
        den = 1
        for row in rows:
            for v in row:
                den = math.lcm(den, v.denominator)
        return cls(np.array([[v.numerator * (den // v.denominator) for v in row]
                             for row in rows], dtype=object).reshape(len(rows), -1), den)

    def rescaled(self, den: int) -> Scaled:
        """The same rows over ``den`` (a multiple of the current denominator)."""
        f, r = divmod(den, self.den)
        if r:
            raise ValueError("the new denominator must be a multiple of the old one")
        if f == 1:
            return self
        if self.num.dtype == object:
            num = self.num * f
        else:
            top = float(np.abs(self.num).max()) if self.num.size else 0.0
            if top == 0:
                num = self.num  # zeros stay zeros
            elif top * _as_float(f) >= _INT64_SAFE:
                num = self.num.astype(object) * f
            else:
                num = self.num * f
        return Scaled(num, den)

    def rows(self, index=slice(None)) -> list[list[Fraction]]:
        return [[Fraction(int(x), self.den) for x in row] for row in self.num[index]]

    def __len__(self) -> int:
        return self.num.shape[0]

    def approx(self) -> np.ndarray:
        """The rows as float64 (rounded)."""
        if self.num.dtype == object:  # (past float64's range: +-inf)
            return np.array([[_as_float(Fraction(int(v), self.den)) for v in row]
                             for row in self.num]).reshape(self.num.shape)
        return self.num / self.den

    def floats(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """Which rows are exactly representable in ``dtype``, and their values as float64
        (exact; the values of the other rows are meaningless)."""
        den, num = self.den, self.num
        k = (den & -den).bit_length() - 1
        q = den >> k  # den = q 2^k, q odd: a value is a binary fraction iff q divides num
        if num.dtype == object:
            rows = self.rows()
            ok = np.array([representable(row, dtype) for row in rows], dtype=bool)
            x = np.array([[float(v) if held else 0.0 for v in row]
                          for row, held in zip(rows, ok)]).reshape(num.shape)
            return x, ok
        m, rem = np.divmod(num, q) if q > 1 else (num, np.zeros_like(num))
        mf = m.astype(np.float64)  # |m| < 2^62, so the round trip cannot overflow
        x = np.ldexp(mf, -k)
        # exact: m fits a float64 significand, and scaling by 2^-k did not round (underflow)
        held = (rem == 0) & (mf.astype(np.int64) == m) & (np.ldexp(x, k) == mf)
        ok = held & held_by(x, dtype)
        return x, ok.all(axis=1)


def max_abs_difference(a: Scaled, b: Scaled) -> tuple[Fraction, int]:
    """max over all entries of |a - b| (exact) and the row where it occurs."""
    den = math.lcm(a.den, b.den)
    a, b = a.rescaled(den), b.rescaled(den)
    if a.num.dtype == object or b.num.dtype == object:
        d = np.abs(a.num.astype(object) - b.num.astype(object))
    else:
        d = np.abs(a.num - b.num)  # |a|, |b| < 2^62: no overflow
    if d.size == 0:
        return Fraction(0), 0
    per_row = d.max(axis=1)
    row = int(np.argmax(per_row))
    return Fraction(int(per_row[row]), den), row


def step(layer: IntLayer, num: np.ndarray, den: int, relu: bool) -> tuple[np.ndarray, int]:
    """One layer on a batch ``num / den``: ReLU first when ``relu`` (every layer but the
    first: the previous layer's output is then known not to be the network's), then the
    affine map; common powers of two are cancelled."""
    if relu:
        num = np.maximum(num, 0) if num.dtype != object else np.where(num > 0, num, 0)
    return _cancel_twos(*layer.apply(num, den, nonneg=relu))


class Evaluator:
    """Exact evaluation of one network on many batches (the integer layers are built once)."""

    def __init__(self, net: Net):
        self.net = net
        self._layers = [IntLayer(layer) for layer in net.layers]

    def scaled(self, batch: Scaled) -> Scaled:
        """Exact outputs of a batch (keep its rows of similar scale: int64 arithmetic is
        used while it provably cannot overflow)."""
        if batch.num.shape[1] != self.net.n_in:
            raise NetworkError(f"inputs have length {batch.num.shape[1]}, expected "
                               f"{self.net.n_in}")
        num, den = batch.num, batch.den
        for i, layer in enumerate(self._layers):
            num, den = step(layer, num, den, relu=i > 0)
        return Scaled(num, den)

    def __call__(self, inputs: Sequence[Sequence]) -> list[list[Fraction]]:
        """Evaluate exactly on rational inputs; returns one list of Fractions per row.

        Rows share one denominator, so keep the rows of one call of similar scale
        (int64 arithmetic is used while it provably cannot overflow)."""
        rows = [[to_fraction(v) for v in row] for row in inputs]
        for i, row in enumerate(rows):
            if len(row) != self.net.n_in:
                raise NetworkError(f"input row {i} has length {len(row)}, expected "
                                   f"{self.net.n_in}")
        if not rows:
            return []
        return self.scaled(Scaled.of(rows)).rows()


def evaluate(net: Net, inputs: Sequence[Sequence]) -> list[list[Fraction]]:
    """Evaluate ``net`` exactly on rational inputs; returns one list of Fractions per row."""
    return Evaluator(net)(inputs)
