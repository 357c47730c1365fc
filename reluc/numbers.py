"""Numbers as reluc reads and writes them in specs and file metadata: exact rationals
(``0.5``, ``1/3``, ``1e-3``) with one canonical text form, and limits on their size
decided from the text before any :class:`~fractions.Fraction` is made (a spec or a file
cannot make reluc compute with 10^100000000)."""

from __future__ import annotations

import re
import sys
from fractions import Fraction

def format_number(v: Fraction | int) -> str:
    """Canonical text of a rational: an integer, a terminating decimal or ``p/q``."""
    v = Fraction(v)
    if v.denominator == 1:
        return str(v.numerator)
    q, twos, fives = v.denominator, 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    ratio = f"{v.numerator}/{v.denominator}"
    if q != 1:
        return ratio
    k = max(twos, fives)
    digits = str(abs(v.numerator) * 10**k // v.denominator).rjust(k + 1, "0")
    dec = ("-" if v < 0 else "") + digits[:-k] + "." + digits[-k:]
    return dec if len(dec) <= len(ratio) + 4 else ratio


# spec and metadata numbers: at most this many characters, and (unless zero) of a size a
# float64 file can hold, so that no number can make reluc build a Fraction of 10^(10^8)
MAX_NUMBER_CHARS = 400
MAX_MAGNITUDE = Fraction(sys.float_info.max)  # 1.8e308
MIN_MAGNITUDE = Fraction(sys.float_info.min)  # 2.2e-308: float64's smallest normal number
_NUMBER_TEXT = re.compile(r"([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?(?:/([0-9]+))?")


def parse_number(text: str) -> Fraction:
    """Parse ``3``, ``-0.25``, ``1e-3`` or ``1/3`` exactly (ASCII digits only); ValueError
    otherwise, also for numbers that no float64 file could hold (above about 9e307, or
    nonzero below 2e-308) and texts longer than :data:`MAX_NUMBER_CHARS`."""
    t = text.strip()
    if len(t) > MAX_NUMBER_CHARS:
        raise OutOfRange(f"'{clip_text(t)}' is too long: numbers have at most {MAX_NUMBER_CHARS} "
                         "characters")
    m = _NUMBER_TEXT.fullmatch(t)
    if not m:
        raise ValueError(text)
    sign, mantissa, exponent, den = m.groups()
    if den is not None and int(den) == 0:
        raise ValueError(text)
    whole, _, frac = mantissa.partition(".")
    if (whole + frac).strip("0"):  # decide the size from the text before building a Fraction
        lead = len(whole.lstrip("0")) or len(frac.lstrip("0")) - len(frac)
        size = lead + int(exponent or 0) - len(den or "1") + 1
        if not -330 <= size <= 330:
            raise OutOfRange(_range_reason(text))
    v = Fraction(sign + mantissa + (f"e{exponent}" if exponent else ""))
    if den is not None:
        v /= int(den)
    if v and not MIN_MAGNITUDE <= abs(v) <= MAX_MAGNITUDE:
        raise OutOfRange(_range_reason(text))
    return v


class OutOfRange(ValueError):
    """A number too large, too small or too long for reluc (its message says which)."""


def _range_reason(text: str) -> str:
    return (f"'{clip_text(text)}' is out of range: numbers are 0 or between 2.2e-308 and 1.8e308 in "
            "size (what a float64 file can hold)")


def clip_text(text: str, limit: int = 40) -> str:
    """At most ``limit`` characters of a bad token, for messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
