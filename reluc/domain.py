"""The domain of a construction: a box of intervals, possibly unbounded."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from reluc.numbers import format_number


@dataclass(frozen=True)
class Box:
    """A box domain ``[lo_i, hi_i]``; ``None`` bounds are infinite."""

    lo: tuple[Fraction | None, ...]
    hi: tuple[Fraction | None, ...]

    @classmethod
    def real(cls, dim: int) -> Box:
        return cls((None,) * dim, (None,) * dim)

    @classmethod
    def uniform(cls, dim: int, lo, hi) -> Box:
        lo = None if lo is None else Fraction(lo)
        hi = None if hi is None else Fraction(hi)
        return cls((lo,) * dim, (hi,) * dim)

    @property
    def dim(self) -> int:
        return len(self.lo)

    def is_uniform(self) -> bool:
        return len(set(self.lo)) <= 1 and len(set(self.hi)) <= 1

    def to_json(self) -> dict[str, Any]:
        def f(v):
            return None if v is None else format_number(v)

        if self.is_uniform():
            return {"dim": self.dim, "lo": f(self.lo[0]), "hi": f(self.hi[0])}
        return {"dim": self.dim, "lo": [f(v) for v in self.lo], "hi": [f(v) for v in self.hi]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Box:
        dim = int(obj["dim"])

        def g(v):
            return None if v is None else Fraction(v)

        lo, hi = obj["lo"], obj["hi"]
        lo = [g(v) for v in lo] if isinstance(lo, list) else [g(lo)] * dim
        hi = [g(v) for v in hi] if isinstance(hi, list) else [g(hi)] * dim
        return cls(tuple(lo), tuple(hi))

    def describe(self) -> str:
        if not self.is_uniform():
            return " x ".join(_interval(a, b) for a, b in zip(self.lo, self.hi))
        base = _interval(self.lo[0], self.hi[0])
        return base if self.dim == 1 else f"{base}^{self.dim}"


def _interval(lo, hi) -> str:
    if lo is None and hi is None:
        return "R"
    a = "(-inf" if lo is None else f"[{format_number(lo)}"
    b = "inf)" if hi is None else f"{format_number(hi)}]"
    return f"{a},{b}"
