"""Writers and readers: ``.onnx`` (:mod:`.onnxfile`) and ``.npz`` (:mod:`.npzfile`).

``write`` takes a compiled network to a path (atomically) or a binary stream; ``read``
returns ``(Net, FileInfo)`` from a path, ``-`` (stdin) or bytes, detecting the format
from the content (a zip archive is ``.npz``, anything else is tried as ONNX).
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from typing import BinaryIO

from reluc.errors import NetworkFileError, RelucError
from reluc.formats.atomic import atomic_output
from reluc.formats.metadata import FileInfo
from reluc.formats.npzfile import npz_bytes, read_npz
from reluc.formats.onnxfile import read_onnx, write_onnx
from reluc.net import Net

FORMATS = ("onnx", "npz")
DTYPES = ("float32", "float64")


def format_for(path: str, explicit: str | None) -> str:
    """The output format: ``explicit`` if given, else from the file extension."""
    if explicit:
        return explicit
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if path == "-":
        return "onnx"
    if ext not in FORMATS:
        raise RelucError(
            f"cannot tell the format of '{path}' from its extension; use .onnx or .npz, "
            "or pass --format"
        )
    return ext


@dataclass(frozen=True)
class Written:
    info: FileInfo
    size: int


def write(compiled, target: str | BinaryIO, fmt: str) -> Written:
    """Write a compiled network (in its dtype); ``target`` is a path (written atomically)
    or a binary stream."""
    if fmt not in FORMATS:
        raise RelucError(f"unknown format '{fmt}'; choose from {', '.join(FORMATS)}")
    dtype = compiled.dtype
    if dtype not in DTYPES:
        raise RelucError(f"unknown dtype '{dtype}'; choose from {', '.join(DTYPES)}")
    info = FileInfo.for_build(compiled)

    def emit(out: BinaryIO) -> int:
        if fmt == "onnx":
            return write_onnx(compiled.net, info, out, dtype)
        data = npz_bytes(compiled.net, info, dtype)
        out.write(data)
        return len(data)

    if isinstance(target, (str, os.PathLike)):
        with atomic_output(target) as f:
            size = emit(f)
    else:
        size = emit(target)
        target.flush()
    return Written(info, size)


def read(source: str | bytes) -> tuple[Net, FileInfo]:
    """Read a network from a path, ``-`` (standard input) or the bytes of a file."""
    if isinstance(source, str) and source == "-":
        source = sys.stdin.buffer.read()
    if isinstance(source, bytes):
        if not source:
            raise NetworkFileError("empty input: expected an .onnx or .npz network")
        if source[:4] == b"PK\x03\x04":
            return read_npz(io.BytesIO(source))
        return read_onnx(source)
    if os.path.isdir(source):
        raise NetworkFileError(f"'{source}' is a directory, not a network file")
    if not os.path.exists(source):
        raise NetworkFileError(f"no such file: {source}")
    try:
        with open(source, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise NetworkFileError(f"cannot read '{source}': {e.strerror}") from None
    if not magic:
        raise NetworkFileError(f"'{source}' is empty: expected an .onnx or .npz network")
    if magic == b"PK\x03\x04":
        return read_npz(source)
    return read_onnx(source)
