"""The spec language: ``NAME key=value key=value ...``.

A spec names a constructor and its parameters. The same spec can be written three ways,
all of which give the same :class:`Spec` and therefore byte-identical files::

    reluc build sort --n 64              # constructor name + options
    reluc build "sort n=64"              # spec text
    reluc build specs/sort64.spec        # a file holding one spec ('#' starts a comment)

Values are typed (:class:`ParamType`): integers, exact rational numbers (``0.5``,
``1/3``, ``1e-3``), intervals ``lo,hi``, point lists ``x:y,x:y,...`` and choices. Each
type has one canonical text form, so ``n=064`` and ``n=64`` are the same spec.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from reluc.errors import SpecError
from reluc.numbers import OutOfRange, clip_text, format_number, parse_number

# -- value types --------------------------------------------------------------------------


class ParamType:
    """A parameter's type: parses text, checks ranges, gives the canonical form."""

    name = "value"

    def parse(self, text: str) -> Any:  # raises ValueError with a short reason
        raise NotImplementedError

    def format(self, value: Any) -> str:
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        return self.format(value)

    def describe(self) -> str:
        return self.name


class Int(ParamType):
    name = "integer"

    def __init__(self, min: int | None = None, max: int | None = None):
        self.min, self.max = min, max

    def parse(self, text: str) -> int:
        t = text.strip()
        if len(t) > 40 or not re.fullmatch(r"[+-]?[0-9]+", t):
            raise ValueError(f"must be an integer, got '{clip_text(text)}'")
        return self.check(int(t))

    def check(self, v: int) -> int:
        if self.min is not None and v < self.min:
            raise ValueError(f"must be >= {self.min}, got {v}")
        if self.max is not None and v > self.max:
            raise ValueError(f"must be <= {self.max}, got {v}")
        return v

    def format(self, value: int) -> str:
        return str(value)

    def to_json(self, value: int) -> int:
        return value

    def describe(self) -> str:
        lo = "" if self.min is None else f"{self.min} <= "
        hi = "" if self.max is None else f" <= {self.max}"
        return f"integer ({lo}value{hi})" if (lo or hi) else "integer"


class Number(ParamType):
    """An exact rational number."""

    name = "number"

    def __init__(self, min: Fraction | int | None = None, max: Fraction | int | None = None):
        self.min, self.max = min, max

    def parse(self, text: str) -> Fraction:
        try:
            v = parse_number(text)
        except OutOfRange:
            raise
        except ValueError:
            raise ValueError(f"must be a number (like 2, 0.5, 1e-3 or 1/3), got '{clip_text(text)}'")
        if self.min is not None and v < self.min:
            raise ValueError(f"must be >= {format_number(self.min)}, got {format_number(v)}")
        if self.max is not None and v > self.max:
            raise ValueError(f"must be <= {format_number(self.max)}, got {format_number(v)}")
        return v

    def format(self, value: Fraction) -> str:
        return format_number(value)


class Interval(ParamType):
    """A closed interval ``lo,hi`` with ``lo < hi``; with ``infinite=True`` an end may be
    ``-inf`` / ``inf`` (stored as None)."""

    name = "interval lo,hi"

    def __init__(self, infinite: bool = False):
        self.infinite = infinite

    def parse(self, text: str):
        parts = text.split(",")
        if len(parts) != 2:
            raise ValueError(f"must be an interval lo,hi like -1,1, got '{clip_text(text)}'")
        ends = []
        for part, inf in zip(parts, ("-inf", "inf")):
            if self.infinite and part.strip() in (inf, inf.replace("inf", "infinity")):
                ends.append(None)
                continue
            try:
                ends.append(parse_number(part))
            except OutOfRange:
                raise
            except ValueError:
                extra = " (or -inf / inf)" if self.infinite else ""
                raise ValueError(f"must be an interval of two numbers{extra} lo,hi, got '{clip_text(text)}'")
        lo, hi = ends
        if lo is not None and hi is not None and not lo < hi:
            raise ValueError(f"must have lo < hi, got '{clip_text(text)}'")
        return (lo, hi)

    def format(self, value) -> str:
        lo, hi = value
        return ",".join(["-inf" if lo is None else format_number(lo),
                         "inf" if hi is None else format_number(hi)])

    def to_json(self, value) -> list[str | None]:
        return [None if v is None else format_number(v) for v in value]


class Points(ParamType):
    """Points ``x0:y0,x1:y1,...`` of a function of one variable, x strictly increasing."""

    name = "points x:y,x:y,..."

    def __init__(self, min_count: int = 1):
        self.min_count = min_count

    def parse(self, text: str):
        pts = []
        for item in text.split(","):
            xy = item.split(":")
            if len(xy) != 2:
                raise ValueError(f"must be a list of x:y pairs like 0:0,1:1,2:0; bad item '{clip_text(item)}'")
            try:
                pts.append((parse_number(xy[0]), parse_number(xy[1])))
            except OutOfRange:
                raise
            except ValueError:
                raise ValueError(f"must be a list of x:y pairs of numbers; bad item '{clip_text(item)}'")
        if len(pts) < self.min_count:
            raise ValueError(f"needs at least {self.min_count} points, got {len(pts)}")
        for (x0, _), (x1, _) in zip(pts, pts[1:]):
            if not x0 < x1:
                raise ValueError(
                    f"x values must be strictly increasing, but {format_number(x1)} "
                    f"follows {format_number(x0)}"
                )
        return tuple(pts)

    def format(self, value) -> str:
        return ",".join(f"{format_number(x)}:{format_number(y)}" for x, y in value)

    def to_json(self, value) -> list[list[str]]:
        return [[format_number(x), format_number(y)] for x, y in value]


class NumberList(ParamType):
    """Numbers separated by commas, ``0.25,0.5,1``; with ``rows=True`` several such lists
    separated by semicolons, ``1,2,0;3,-1,1`` (rows of equal length)."""

    def __init__(self, min_count: int = 1, rows: bool = False, increasing: bool = False,
                 equal_rows: bool = True):
        self.min_count, self.rows, self.increasing = min_count, rows, increasing
        self.equal_rows = equal_rows
        self.name = "rows a,b,..;c,d,.." if rows else "numbers a,b,.."

    def _one(self, text: str) -> tuple[Fraction, ...]:
        try:
            vals = tuple(parse_number(t) for t in text.split(","))
        except OutOfRange:
            raise
        except ValueError:
            raise ValueError(f"must be numbers separated by commas, got '{clip_text(text)}'")
        if len(vals) < self.min_count:
            raise ValueError(f"needs at least {self.min_count} numbers, got '{clip_text(text)}'")
        if self.increasing and any(not a < b for a, b in zip(vals, vals[1:])):
            raise ValueError(f"must be strictly increasing, got '{clip_text(text)}'")
        return vals

    def parse(self, text: str):
        if not self.rows:
            return self._one(text)
        rows = tuple(self._one(t) for t in text.split(";"))
        if self.equal_rows and len({len(r) for r in rows}) != 1:
            raise ValueError(f"rows must have equal lengths, got '{clip_text(text)}'")
        return rows

    def format(self, value) -> str:
        one = lambda r: ",".join(format_number(v) for v in r)  # noqa: E731
        return ";".join(one(r) for r in value) if self.rows else one(value)

    def to_json(self, value):
        one = lambda r: [format_number(v) for v in r]  # noqa: E731
        return [one(r) for r in value] if self.rows else one(value)


class Choice(ParamType):
    def __init__(self, *choices: str):
        self.choices = choices
        self.name = "|".join(choices)

    def parse(self, text: str) -> str:
        if text not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}; got '{clip_text(text)}'")
        return text

    def format(self, value: str) -> str:
        return value


@dataclass(frozen=True)
class Param:
    """A constructor parameter. ``default=None`` means the parameter is required.
    ``implicit=True``: the canonical spec leaves the parameter out while it has its
    default (for neutral defaults such as an unbounded domain)."""

    name: str
    type: ParamType
    default: Any = None
    help: str = ""
    implicit: bool = False


# -- specs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawSpec:
    """A spec as written: a constructor name and unparsed ``(key, text)`` pairs."""

    name: str
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Spec:
    """A resolved spec: constructor name and every parameter value, in declared order."""

    name: str
    params: tuple[tuple[str, Any], ...]
    types: tuple[ParamType, ...]
    implicit: tuple[Any, ...] = ()  # per parameter: its default if implicit, else _SHOWN

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.params)

    def canonical(self) -> str:
        """The one text form of this spec, e.g. ``sort n=64 method=best``."""
        hide = self.implicit or (_SHOWN,) * len(self.params)
        parts = [self.name] + [f"{k}={t.format(v)}" for (k, v), t, h in
                               zip(self.params, self.types, hide) if h is _SHOWN or v != h]
        return " ".join(parts)

    @classmethod
    def of(cls, name: str, values: dict[str, Any], params: Sequence[Param]) -> Spec:
        """The spec of ``values`` for parameters ``params`` (implicit ones left out of the
        canonical text while at their default)."""
        return cls(name, tuple(values.items()), tuple(p.type for p in params),
                   tuple(p.default if p.implicit else _SHOWN for p in params))

    def params_json(self) -> dict[str, Any]:
        return {k: t.to_json(v) for (k, v), t in zip(self.params, self.types)}

    def __str__(self) -> str:
        return self.canonical()


_SHOWN = object()
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def parse_text(text: str) -> RawSpec:
    """Parse spec text (``#`` comments and newlines allowed) into a :class:`RawSpec`."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    tokens = " ".join(lines).split()
    if not tokens:
        raise SpecError("empty spec: expected a constructor name such as 'sort n=8'")
    name, rest = tokens[0], tokens[1:]
    if "=" in name or not _NAME.fullmatch(name):
        raise SpecError(f"a spec starts with a constructor name, got '{name}'")
    items = []
    for tok in rest:
        key, eq, value = tok.partition("=")
        if not eq or not key or not value:
            raise SpecError(f"expected key=value in the spec, got '{tok}'")
        items.append((key, value))
    return RawSpec(name, tuple(items))


def parse_option_args(args: list[str]) -> list[tuple[str, str]]:
    """Parameters given as command-line words: ``--n 64``, ``--n=64`` or ``n=64``."""
    items, i = [], 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and len(a) > 2:
            key, eq, value = a[2:].partition("=")
            if not eq:
                if i + 1 >= len(args):
                    raise SpecError(f"option --{key} needs a value")
                value = args[i + 1]
                i += 1
            items.append((key, value))
        elif "=" in a and not a.startswith("-"):
            key, _, value = a.partition("=")
            items.append((key, value))
        else:
            raise SpecError(f"unexpected argument '{a}': give parameters as --key value or key=value")
        i += 1
    return items


def read_spec_argument(arg: str, extra: list[str] | tuple[str, ...] = (),
                       is_name: Callable[[str], bool] | None = None) -> RawSpec:
    """The spec a user means by a command-line argument plus extra parameter words.

    ``arg`` is spec text when ``is_name(arg)`` (a constructor's name: ``sort`` is the
    constructor even beside a file named ``sort``; ``./sort`` is the file, and
    :func:`spec_argument_note` says so), else a spec file if such a file exists or it
    ends in ``.spec``, otherwise spec text.
    """
    if _is_file_argument(arg, is_name):
        try:
            with open(arg, encoding="utf-8-sig") as f:  # a BOM is not part of the spec
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else "unreadable"
            raise SpecError(f"cannot read spec file '{arg}': {reason}") from None
        try:
            raw = parse_text(text)
        except SpecError as e:
            raise SpecError(f"{arg}: {e}") from None
    else:
        raw = parse_text(arg)
    return RawSpec(raw.name, raw.items + tuple(parse_option_args(list(extra))))


def _is_file_argument(arg: str, is_name: Callable[[str], bool] | None) -> bool:
    if is_name is not None and is_name(arg):
        return False
    return os.path.isfile(arg) or arg.endswith(".spec")


def spec_argument_note(arg: str, is_name: Callable[[str], bool]) -> str | None:
    """A note for the user when ``arg`` names both a constructor and a file here."""
    if is_name(arg) and os.path.exists(arg):
        return (f"note: '{arg}' is a constructor and a file here; building the constructor "
                f"(write ./{arg} for the file)")
    return None
