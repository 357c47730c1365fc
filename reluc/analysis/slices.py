"""A 2-D slice of an input space, and the float64 bookkeeping of the planar
subdivision: the unit roundoff and the error terms of the filter, rows that grow, and
signs that the float values decide (or not)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

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
        if self.n == len(self.a):
            self.a = np.concatenate([self.a, np.zeros_like(self.a)])
        self.a[self.n] = row
        self.n += 1
        return self.n - 1

    @property
    def view(self) -> np.ndarray:
        return self.a[:self.n]


def signs(z: np.ndarray, e: np.ndarray) -> np.ndarray:
    """+1 / -1 where the float value decides the sign, 0 where it is exactly 0 (no
    error), 2 where it does not decide."""
    s = np.where(z > e, 1, np.where(z < -e, -1, 2)).astype(np.int8)
    s[(z == 0) & (e == 0)] = 0
    return s
