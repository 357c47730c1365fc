"""What ``reluc verify`` reports: a :class:`Check` per check and the :class:`Report` of a
file (its JSON form is schema :data:`SCHEMA`), and how numbers and counterexamples are
shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from reluc.numbers import format_number

SCHEMA = 3  # 2: float check reports the error where it is largest, promise_from;
# 3: the limit check


@dataclass
class Check:
    name: str  # "structure", "exact", "float", "limit", "complete"
    status: str  # "pass", "fail", "skip"
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    file: str
    spec: str | None = None
    verdict: str = "error"  # "proved", "tested", "failed", "error"
    checks: list[Check] = field(default_factory=list)
    counterexample: dict[str, Any] | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict in ("proved", "tested")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "file": self.file,
            "spec": self.spec,
            "verdict": self.verdict,
            "passed": self.passed,
            "error": self.error,
            "checks": {c.name: {"status": c.status, "detail": c.detail, **c.data}
                       for c in self.checks},
            "counterexample": self.counterexample,
        }  # fmt: skip


def fmt(v) -> str:
    return format_number(v) if isinstance(v, (Fraction, int)) else repr(v)


def show(v) -> str:
    """A value for a message: exact when short, else a 6-digit approximation."""
    text = fmt(v)
    return text if len(text) <= 24 else f"~{float(v):.6g}"


def counterexample(x, want, got) -> dict[str, Any]:
    errs = [abs(g - w) for g, w in zip(got, want)]
    worst = max(range(len(errs)), key=lambda i: errs[i])
    return {
        "input": [fmt(v) for v in x],
        "expected": [fmt(v) for v in want],
        "actual": [fmt(v) for v in got],
        "output_index": worst,
        "error": fmt(errs[worst]),
    }


def as_exact(v) -> Fraction | float:
    return v if isinstance(v, Fraction) else Fraction(v) if isinstance(v, int) else float(v)
