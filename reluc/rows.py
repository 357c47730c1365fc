"""Input and output data for ``reluc eval``: text rows or ``.npy`` arrays.

Text rows hold one input vector per line, decimal numbers (``3``, ``-0.5``, ``1e-3``)
separated by whitespace and/or commas; blank lines and lines starting with ``#`` are
skipped; the last line needs no newline. Errors name the line.
"""

from __future__ import annotations

import math
import re
from typing import BinaryIO, TextIO

import numpy as np

from reluc.errors import InputError

_SEP = re.compile(r"[,\s]+")
# a decimal number as C, numpy and JSON write it: no digit separators, ASCII digits only
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(inf|infinity|nan)", re.IGNORECASE)


def parse_text_rows(text: str, width: int) -> np.ndarray:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        tokens = [t for t in _SEP.split(s) if t]
        values = []
        for tok in tokens:
            if _NUMBER.fullmatch(tok):
                v = float(tok)
            elif _NON_FINITE.fullmatch(tok):
                raise InputError(f"row {lineno}: '{tok}' is not a finite number")
            else:  # float() would also take 1_000, other scripts' digits, ...
                raise InputError(f"row {lineno}: '{tok}' is not a number")
            if not math.isfinite(v):
                raise InputError(f"row {lineno}: '{tok}' is not a finite number")
            values.append(v)
        if len(values) != width:
            raise InputError(f"row {lineno} has {len(values)} values, expected {width}")
        rows.append(values)
    return np.array(rows, dtype=np.float64).reshape(len(rows), width)


def read_npy(f: BinaryIO | str, width: int) -> np.ndarray:
    try:
        a = np.load(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"cannot read .npy input: {e}") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf":
        raise InputError("the .npy input must hold a numeric array")
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != width:
        raise InputError(f"the .npy input has shape {a.shape}, expected (rows, {width})")
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(a), axis=1))[0])
        raise InputError(f"row {bad + 1} of the .npy input holds a non-finite value")
    return a.astype(np.float64)


def format_value(v) -> str:
    """Shortest text that reads back as the same value in the array's dtype; integral
    values print without a decimal point (``echo "3 1 2" | reluc eval`` prints ``1 2 3``)."""
    if float(v).is_integer() and abs(float(v)) < 2**53:
        return str(int(v))
    return str(v)


def write_text_rows(y: np.ndarray, out: TextIO) -> None:
    for row in y:
        out.write(" ".join(format_value(v) for v in row) + "\n")
