"""Writers and readers: ``.onnx`` (:mod:`.onnxwrite`, :mod:`.onnxread`) and ``.npz`` (:mod:`.npzfile`).

``write`` takes a compiled network to a path (atomically) or a binary stream; ``read``
returns ``(Net, FileInfo)`` from a path, ``-`` (stdin) or bytes, detecting the format
from the content (a zip archive is ``.npz``, anything else is tried as ONNX).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from reluc import budget
from reluc.errors import NetworkError, NetworkFileError, RelucError
from reluc.formats.atomic import TempFile, atomic_output, spooled, target_directory
from reluc.formats.metadata import FileInfo
from reluc.formats.npzfile import read_npz_layers, write_npz
from reluc.formats.onnxread import read_onnx_layers
# (the writer, which needs onnx itself, is imported by the functions that write: a
# reader needs only onnx's messages, :mod:`.onnxproto`)
from reluc.net import Layer, Net, Sizes

from reluc.choices import DTYPES, FORMATS, LAYOUTS  # noqa: E402  (re-exported)
# --layout auto: dense while the dense weights take at most this many bytes
AUTO_DENSE_LIMIT = 64 << 20
PROTO_LIMIT = (1 << 31) - (1 << 20)  # protobuf's 2 GiB, less room for the graph


def choose_layout(net, dtype: str, layout: str) -> tuple[str, str]:
    """The ONNX layout to write and why (for ``--layout auto``); ``net`` is a Net or a
    stream (only its declared shape is used)."""
    if layout != "auto":
        return layout, f"--layout {layout}"
    from reluc.formats.onnxwrite import dense_bytes
    size = dense_bytes(net, dtype)
    if size <= AUTO_DENSE_LIMIT:
        return "dense", f"dense weights {size / 2**20:.1f} MiB <= {AUTO_DENSE_LIMIT >> 20} MiB"
    return "sparse", (f"dense weights would take {size / 2**20:.0f} MiB > "
                      f"{AUTO_DENSE_LIMIT >> 20} MiB; --layout dense to force the Gemm chain")


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
    layout: str = "dense"
    why: str = ""
    external: str | None = None  # path of the external data file, if any
    nonzeros: int = 0  # nonzero weights and biases, counted as they were written


def write(compiled, target: str | BinaryIO, fmt: str, layout: str = "dense",
          external_data: bool | None = None, progress=None, max_size: int | None = None,
          announce=None, info: FileInfo | None = None) -> Written:
    """:func:`_write`; a failed write (a full disk) names the file it was writing.
    ``compiled``: anything with a ``dtype`` and a ``source`` network; ``info``: the
    metadata (default: that of a build, from ``compiled``)."""
    try:
        return _write(compiled, target, fmt, layout, external_data, progress, max_size,
                      announce, info)
    except OSError as e:
        if e.filename is not None:
            raise
        name = os.fspath(target) if isinstance(target, (str, os.PathLike)) else "-"
        raise RelucError(f"cannot write '{name}': {e.strerror or e}") from None


def _write(compiled, target: str | BinaryIO, fmt: str, layout: str = "dense",
           external_data: bool | None = None, progress=None, max_size: int | None = None,
           announce=None, info: FileInfo | None = None) -> Written:
    """Write a compiled network (in its dtype) a layer at a time; ``target`` is a path
    (written atomically) or a binary stream. ONNX: ``layout`` dense, sparse or auto;
    ``external_data`` True forces the tensors into ``<file>.data`` beside the model, None
    uses it only when the model would pass protobuf's 2 GiB limit (never possible on a
    stream): known in advance for dense weights; for sparse ones the writer finds out as
    it goes and, writing to a path, starts again with external data."""
    from reluc.formats.onnxwrite import (MAX_PROTO, ExternalData, ModelTooLarge, dense_bytes,
                                         external_names, write_onnx)
    if fmt not in FORMATS:
        raise RelucError(f"unknown format '{fmt}'; choose from {', '.join(FORMATS)}")
    if layout not in LAYOUTS:
        raise RelucError(f"unknown layout '{layout}'; choose from {', '.join(LAYOUTS)}")
    dtype = compiled.dtype
    if dtype not in DTYPES:
        raise RelucError(f"unknown dtype '{dtype}'; choose from {', '.join(DTYPES)}")
    info = FileInfo.for_build(compiled) if info is None else info
    source = compiled.source
    chosen, why = choose_layout(source, dtype, layout) if fmt == "onnx" else ("csr", "")
    is_path = isinstance(target, (str, os.PathLike))
    if is_path and (os.path.isdir(target) or not os.path.exists(target)):
        target_directory(os.fspath(target))  # a directory, or in a missing one: say so first
    # the size before a byte is written: refused past --max-size or the free space
    size = budget.check_output(source, dtype, fmt, chosen if fmt == "onnx" else "csr",
                               os.fspath(target) if is_path else None, max_size)
    if announce is not None and size > budget.LARGE_WRITE:
        exact = fmt == "onnx" and chosen == "dense"
        announce(f"writing {'' if exact else 'at least '}{budget.show(size)}")
    needs_external = ("the model needs external data (it passes protobuf's 2 GiB limit), "
                      "which a stream cannot carry: write to a file, or use .npz")
    if fmt == "onnx" and external_data is None and chosen == "dense" \
            and dense_bytes(source, dtype) > PROTO_LIMIT:
        if not is_path:
            raise RelucError(f"{needs_external} or --layout sparse")
        external_data = True
    if fmt == "onnx" and external_data and not is_path:
        raise RelucError("external data needs a file to go beside the model; -o - cannot "
                         "carry it")

    def emit(out: BinaryIO, ext: ExternalData | None = None) -> tuple[int, int, FileInfo]:
        if max_size is not None:  # the estimate is a lower bound: held to it while written
            out = budget.Capped(out, max_size)
        if fmt == "onnx":
            return write_onnx(source, info, out, dtype, chosen, ext, progress,
                              limit=MAX_PROTO if ext is not None else PROTO_LIMIT)
        return write_npz(source, info, out, dtype, progress)

    if not is_path:  # through a temporary file: nothing reaches the stream on failure
        try:
            with spooled(lambda: contextlib.nullcontext(target)) as tmp:
                size, nnz, info = emit(tmp)
        except ModelTooLarge:
            raise RelucError(needs_external) from None
        target.flush()
        return Written(info, size, chosen, why, None, nnz)
    if not (fmt == "onnx" and external_data):
        try:
            with atomic_output(target) as f:
                size, nnz, info = emit(f)
            return Written(info, size, chosen, why, None, nnz)
        except ModelTooLarge:
            if external_data is not None:  # told not to use external data
                raise
            # start again, the data beside the model
    path = os.fspath(target)
    directory = target_directory(path)
    # the data under a name carrying its digest, then the model naming it, then data
    # files of earlier builds: a reader sees the old pair or the new pair, never a mix
    data = TempFile(directory)
    try:
        with atomic_output(path) as f:
            ext = ExternalData(path, data.file)
            size, nnz, info = emit(f, ext)
            ext_path = os.path.join(directory, ext.location)
            data.commit(ext_path)
    finally:
        data.discard()
    for old in external_names(path):
        if os.path.abspath(old) != os.path.abspath(ext_path):
            with contextlib.suppress(OSError):
                os.unlink(old)
    return Written(info, size, chosen, why, ext_path, nnz)


def read(source: str | bytes) -> tuple[Net, FileInfo]:
    """Read a network from a path, ``-`` (standard input) or the bytes of a file."""
    layers, info = read_layers(source)
    try:
        return Net(layers), info
    except NetworkError as e:  # an empty chain; layers check each other as they come
        raise NetworkFileError(f"inconsistent network: {e}") from None


def load_source(source: str | bytes) -> bytes | None:
    """The bytes of a network that cannot be read twice by name (``-`` for stdin, a pipe
    such as ``<(reluc build ...)``), read once so that every reader can take them; None
    for a regular file (or a missing one, which the reader reports)."""
    if isinstance(source, bytes):
        return source
    if source == "-":
        return sys.stdin.buffer.read()
    if os.path.isfile(source) or not os.path.exists(source) or os.path.isdir(source):
        return None
    try:
        with open(source, "rb") as f:
            return f.read()
    except OSError as e:
        raise NetworkFileError(f"cannot read '{source}': {e.strerror}") from None


def kind_of(source: str | bytes) -> str:
    """``npz`` or ``onnx``: what a network file (path or bytes) is, from its first bytes
    (a zip is an .npz; anything else is read as ONNX, whose reader says if it is not)."""
    if isinstance(source, bytes):
        if not source:
            raise NetworkFileError("empty input: expected an .onnx or .npz network")
        return "npz" if source[:4] == b"PK\x03\x04" else "onnx"
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
    return "npz" if magic == b"PK\x03\x04" else "onnx"


def read_layers(source: str | bytes, counting: bool = False
                ) -> tuple[Iterator[Layer] | Iterator[Sizes], FileInfo]:
    """The metadata of a network file (path, ``-`` or bytes) and its layers one at a
    time, for passes that need a few layers of memory, not the whole network.
    ``counting``: the layers' sizes (inputs, outputs, nonzeros) instead, counted from the
    file's tables where that needs no matrix (reluc's sparse layout, a lone Gemm)."""
    if isinstance(source, str) and source == "-":
        source = sys.stdin.buffer.read()
    if kind_of(source) == "npz":
        layers, info = read_npz_layers(io.BytesIO(source) if isinstance(source, bytes)
                                       else source)
        return (map(Sizes.of, layers) if counting else layers), info
    return read_onnx_layers(source, counting)

