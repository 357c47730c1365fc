"""What ``reluc verify`` reports: a :class:`Check` per check and the :class:`Report` of a
file (its JSON form is schema :data:`SCHEMA`), and how numbers and counterexamples are
shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
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
    """A value for a message: exact when short, else a 6-digit approximation (in
    decimal for exact values, which may pass a float's range: an error of 2^1100)."""
    text = fmt(v)
    if len(text) <= 24:
        return text
    if isinstance(v, (Fraction, int)):
        v = Decimal(v.numerator) / Decimal(v.denominator)
    return f"~{v:.6g}"


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


# -- as text ------------------------------------------------------------------------------


def _short(values: list[str], limit: int = 12) -> str:
    def one(v: str) -> str:
        return f"{v} (~{float(Fraction(v)):.9g})" if "/" in v else v

    head = " ".join(one(v) for v in values[:limit])
    return head + (f" ... ({len(values)} values)" if len(values) > limit else "")


def verdict_line(r: Report) -> str:
    """The report of one file in one line."""
    if r.verdict == "error":
        return f"{r.file}: ERROR: {r.error}"
    checks = {c.name: c for c in r.checks}
    if r.verdict == "failed":
        failed = next(c for c in r.checks if c.status == "fail")
        return f"{r.file}: FAILED ({r.spec}): {failed.name} check: {failed.detail}"
    parts = [checks[k].detail for k in ("complete", "exact", "float") if k in checks
             and checks[k].status != "skip"]
    if "float" in checks and checks["float"].status == "skip":
        parts.append(f"float check skipped: {checks['float'].detail}")
    if "complete" in checks and checks["complete"].status == "skip":
        parts.append(f"no proof: {checks['complete'].detail}")
    return f"{r.file}: {r.verdict} ({r.spec}): " + "; ".join(parts)


def text(r: Report) -> str:
    """The verdict line, and the counterexample below it when there is one."""
    lines = [verdict_line(r)]
    cex = r.counterexample
    if cex:
        lines += [f"  input:    {_short(cex['input'])}",
                  f"  expected: {_short(cex['expected'])}",
                  f"  actual:   {_short(cex['actual'])}",
                  f"  (output {cex['output_index']} is off by {_short([cex['error']])})"]
    return "\n".join(lines)


def summary(reports: list[Report]) -> dict[str, int]:
    """How many files were proved, tested, failed, or could not be read."""
    return {k: sum(r.verdict == k for r in reports) for k in ("proved", "tested", "failed",
                                                              "error")}


def summary_line(counts: dict[str, int]) -> str:
    words = {"proved": "proved", "tested": "tested", "failed": "failed", "error": "unreadable"}
    return f"{sum(counts.values())} files: " + ", ".join(f"{v} {words[k]}"
                                                         for k, v in counts.items())


def many_to_json(reports: list[Report]) -> dict[str, Any]:
    return {"schema": 1, "files": [r.to_json() for r in reports], "summary": summary(reports)}
