"""Input and output data for ``reluc eval``: text rows or ``.npy`` arrays.

Text rows hold one input vector per line, decimal numbers (``3``, ``-0.5``, ``1e-3``)
separated by ASCII whitespace and/or commas; blank lines and lines starting with ``#``
are skipped; the last line needs no newline; a UTF-8 byte order mark is ignored. Errors
name the line and quote at most a few dozen characters of a bad token.

Reading is streamed with bounded memory: a line longer than a row of ``width`` numbers
can be (:func:`max_line_bytes`) is refused as soon as that many bytes are read, and a
``.npy`` header is checked against the file's size before any data is read.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterator
from typing import BinaryIO, TextIO

import numpy as np

from reluc.errors import InputError
from reluc.formats.npzfile import read_npy_header

_SEP = re.compile(rb"[,\s]+")  # bytes: \s is ASCII whitespace only (no NBSP)
# a decimal number as C, numpy and JSON write it: no digit separators, ASCII digits only
_NUMBER = re.compile(rb"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(rb"[+-]?(inf|infinity|nan)", re.IGNORECASE)
MAX_TOKEN = 100  # characters of one number (a float64 needs at most 24)
_CHUNK_ROWS = 1 << 16
_CHUNK_BYTES = 4 << 20  # .npy input checked and converted this much at a time


def max_line_bytes(width: int) -> int:
    """The longest line a row of ``width`` numbers may take."""
    return width * (MAX_TOKEN + 8) + 4096


def _quote(tok: bytes, limit: int = 32) -> str:
    text = tok.decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line) with at most ``limit`` bytes per line; comment lines of any
    length are skipped a block at a time."""
    lineno = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        lineno += 1
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if len(line) > limit and not line.endswith(b"\n"):
            if line.lstrip().startswith(b"#"):
                while line and not line.endswith(b"\n"):  # the rest of a long comment
                    line = stream.readline(1 << 20)
                continue
            raise InputError(f"row {lineno} is longer than {limit} bytes: too long for a "
                             "row of numbers")
        yield lineno, line


def iter_text_rows(stream: BinaryIO, width: int) -> Iterator[np.ndarray]:
    """Arrays of up to 65536 rows of ``width`` float64 values each, from text rows."""
    rows: list[list[float]] = []
    for lineno, line in _lines(stream, max_line_bytes(width)):
        s = line.strip()
        if not s or s.startswith(b"#"):
            continue
        try:
            s.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"row {lineno} is not UTF-8 text") from None
        values = []
        for tok in _SEP.split(s):
            if not tok:
                continue
            if len(tok) > MAX_TOKEN:
                raise InputError(f"row {lineno}: '{_quote(tok)}' is too long for a number "
                                 f"(at most {MAX_TOKEN} characters)")
            if _NUMBER.fullmatch(tok):
                v = float(tok)
            elif _NON_FINITE.fullmatch(tok):
                raise InputError(f"row {lineno}: '{_quote(tok)}' is not a finite number")
            else:  # float() would also take 1_000, other scripts' digits, ...
                raise InputError(f"row {lineno}: '{_quote(tok)}' is not a number")
            if not math.isfinite(v):
                raise InputError(f"row {lineno}: '{_quote(tok)}' is not a finite number "
                                 "(past float64's range)")
            values.append(v)
            if len(values) > width:
                break
        if len(values) != width:
            count = f"more than {width}" if len(values) > width else str(len(values))
            raise InputError(f"row {lineno} has {count} values, expected {width}")
        rows.append(values)
        if len(rows) == _CHUNK_ROWS:
            yield np.array(rows, dtype=np.float64)
            rows = []
    if rows:
        yield np.array(rows, dtype=np.float64)


def read_text_rows(stream: BinaryIO, width: int) -> np.ndarray:
    chunks = list(iter_text_rows(stream, width))
    return np.concatenate(chunks) if chunks else np.zeros((0, width))


def parse_text_rows(text: str, width: int) -> np.ndarray:
    return read_text_rows(io.BytesIO(text.encode("utf-8", "surrogateescape")), width)


def read_npy(path: str, width: int, float32: bool = False) -> np.ndarray:
    """A ``.npy`` array of shape (rows, width) or (width,), checked before it is read:
    a header declaring more data than the file holds is refused, never allocated.
    float64, or with ``float32`` the file's own float32 values (float64's too, exactly:
    a float32 network runs them without a float64 copy in between)."""
    try:
        with open(path, "rb") as f:
            shape, fortran, dtype = read_npy_header(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise InputError(f"cannot read .npy input: {str(e)[:120]}") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise InputError(f"the .npy input must hold a numeric array of real numbers, not {dtype}")
    if len(shape) == 1:
        shape = (1,) + tuple(shape)
    if len(shape) != 2 or shape[1] != width:
        raise InputError(f"the .npy input has shape {tuple(shape)}, expected (rows, {width})")
    need = int(np.prod(shape)) * dtype.itemsize
    have = os.path.getsize(path) - offset
    if need > have:
        raise InputError(f"the .npy input declares {shape[0]} rows ({need} bytes) but holds "
                         f"{have} bytes of data")
    keep = dtype == np.float64 or (float32 and dtype == np.float32)  # native order
    if keep:  # read into memory as it is: not a map, which the whole run would use (and
        # fault on, were the file cut short meanwhile)
        out = np.load(path, allow_pickle=False) if need else np.zeros(shape, dtype)
        out = np.ascontiguousarray(out.reshape(shape))
    else:  # converted from a map a few MiB at a time, without a float64 copy of it all
        a = np.load(path, mmap_mode="r", allow_pickle=False) if need else np.zeros(shape, dtype)
        a = np.asarray(a).reshape(shape)
        out = np.empty(shape, dtype=np.float64)
    step = max(1, _CHUNK_BYTES // (8 * max(1, width)))
    for start in range(0, shape[0], step):
        part = out[start:start + step]
        if not keep:
            np.copyto(part, a[start:start + step], casting="unsafe")
        bad = ~np.isfinite(part).all(axis=1)
        if bad.any():
            raise InputError(f"row {start + int(np.flatnonzero(bad)[0]) + 1} of the .npy "
                             "input holds a non-finite value")
    return out


def format_value(v) -> str:
    """Shortest text that reads back as the same value in the array's dtype; integral
    values print without a decimal point (``echo "3 1 2" | reluc eval`` prints ``1 2 3``)."""
    if float(v).is_integer() and abs(float(v)) < 2**53:
        return str(int(v))
    return str(v)


def write_text_rows(y: np.ndarray, out: TextIO) -> None:
    for row in y:
        out.write(" ".join(format_value(v) for v in row) + "\n")


def read_rows(source: str, width: int, stdin: BinaryIO, float32: bool = False) -> np.ndarray:
    """Input rows from ``source``: ``-`` (``stdin``), a ``.npy`` file, or a text file;
    float64 (``float32``: a .npy file's float32 array stays float32, :func:`read_npy`)."""
    if source == "-":
        return read_text_rows(stdin, width)
    if source.endswith(".npy"):
        return read_npy(source, width, float32)
    with open(source, "rb") as f:
        return read_text_rows(f, width)


def write_rows(y: np.ndarray, target: str, stdout: TextIO) -> None:
    """Output rows to ``target``: ``-`` (``stdout``, text), a ``.npy`` file (an array in
    the network's dtype), or a text file; files are written atomically."""
    from reluc.formats.atomic import atomic_output

    if target == "-":
        write_text_rows(y, stdout)
        return
    with atomic_output(target) as f:
        if target.endswith(".npy"):
            np.save(f, y)
        else:
            buf = io.StringIO()
            write_text_rows(y, buf)
            f.write(buf.getvalue().encode())


def read_table(source: str, max_columns: int = 1024) -> tuple[list[str] | None, np.ndarray]:
    """A table of numbers (``reluc fit``'s data): a ``.npy`` array (rows, columns), or
    text rows as for :func:`read_text_rows` whose first row may be a header of column
    names (a row that is not all numbers). The width is that of the first row."""
    if source.endswith(".npy"):
        try:
            with open(source, "rb") as f:
                shape, _, _ = read_npy_header(f)
        except (ValueError, OSError, EOFError, SyntaxError) as e:
            raise InputError(f"cannot read .npy data: {str(e)[:120]}") from None
        if len(shape) != 2:
            raise InputError(f"the .npy data has shape {tuple(shape)}, expected (rows, "
                             "columns)")
        return None, read_npy(source, int(shape[1]))
    with open(source, "rb") as f:
        head = b""
        for _, line in _lines(f, max_line_bytes(max_columns)):
            if line.strip() and not line.strip().startswith(b"#"):
                head = line
                break
        rest = f.read()
    tokens = [t for t in _SEP.split(head.strip()) if t]
    if not tokens:
        return None, np.zeros((0, 0))
    names = None
    if not all(_NUMBER.fullmatch(t) for t in tokens):  # a header
        names = [_quote(t, 64) for t in tokens]
        body = b"#\n" + rest  # (a comment in its place keeps the rows' line numbers)
    else:
        body = head + rest
    return names, read_text_rows(io.BytesIO(body), len(tokens))
