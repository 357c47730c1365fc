"""``.npz`` files: the network as numpy arrays, each layer's weights in CSR form.

Arrays (all loadable with ``numpy.load(path, allow_pickle=False)``):

==================  ==================================================================
``meta``            0-d unicode string: JSON ``{"format": 1, "layers": m,
                    "dtype": "float32", "metadata": {reluc.* keys as in ONNX}}``
``w<i>_shape``      int64 ``[out, in]`` of layer ``i`` (``i = 0 .. m-1``)
``w<i>_indptr``     int64 CSR row pointers (length ``out + 1``)
``w<i>_indices``    int32 (int64 if needed) column indices, sorted within each row
``w<i>_data``       nonzero weights, float32 or float64
``b<i>``            bias, length ``out``, float32 or float64
==================  ==================================================================

Layer ``i`` computes ``W_i h + b_i`` with ``W_i = scipy.sparse.csr_array((data, indices,
indptr), shape)``; ReLU follows every layer but the last. The writer streams: each
layer's members are written as the layer comes (a seekable output, so the zip's sizes are
filled in without data descriptors), with a fixed member date, so equal networks give
equal bytes; ``meta`` goes last, with the input limit found on the way.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from reluc.errors import NetworkError, NetworkFileError
from reluc.formats.metadata import FileInfo
from reluc.net import Layer
from reluc.ranges import RangeBound

FORMAT = 1


_EPOCH = (1980, 1, 1, 0, 0, 0)  # a fixed member date: equal networks give equal bytes


def write_npz(source, info: FileInfo, out: BinaryIO, dtype: str = "float32",
              progress=None) -> tuple[int, int, FileInfo]:
    """Write a network (a :class:`Net` or a stream) as ``.npz`` to ``out``, one layer at
    a time, as ``numpy.savez`` lays it out (one uncompressed ``.npy`` member per array)
    but with a fixed member date; returns (bytes written, nonzero parameters, the metadata
    written). ``out``
    must be seekable."""
    start = out.tell()
    nnz, bound = 0, RangeBound(dtype)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        def put(name: str, array: np.ndarray) -> None:
            member = zipfile.ZipInfo(name + ".npy", date_time=_EPOCH)
            with zf.open(member, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)

        for i, layer in enumerate(source.iter_layers(ahead=2)):
            w = layer.weight
            idx_type = np.int32 if w.shape[1] < 2**31 else np.int64
            put(f"w{i}_shape", np.array(w.shape, dtype=np.int64))
            put(f"w{i}_indptr", w.indptr.astype(np.int64))
            put(f"w{i}_indices", w.indices.astype(idx_type))
            put(f"w{i}_data", w.data.astype(dtype))
            put(f"b{i}", layer.bias.astype(dtype))
            nnz += layer.nnz
            bound.add(layer)
            if progress:
                progress(i + 1, source.depth)
        info = dataclasses.replace(info, input_limit=bound.limit())  # metadata goes last
        meta = {"format": FORMAT, "layers": source.depth, "dtype": dtype,
                "metadata": info.to_props()}
        put("meta", np.array(json.dumps(meta, sort_keys=True, separators=(",", ":"))))
    return out.tell() - start, nnz, info


_BAD_NPZ = (zipfile.BadZipFile, ValueError, KeyError, TypeError, OSError, EOFError,
            OverflowError)
# a member that inflates to more than this, at more than this ratio, is refused
_BOMB_BYTES, _BOMB_RATIO = 64 << 20, 200


def _bad(e: Exception) -> NetworkFileError:
    reason = str(e).strip("'\"") or type(e).__name__
    return NetworkFileError(f"not a valid reluc .npz file ({reason[:160]})")


def read_npy_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from the header of the ``.npy`` data at ``f``'s
    position, leaving ``f`` at the data: what an array claims, before it is allocated."""
    version = np.lib.format.read_magic(f)
    read = {(1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"unsupported .npy version {version}")
    return read(f)


class _Members:
    """The arrays of an ``.npz``, each checked before it is read: its ``.npy`` header
    against the member's size and the size the network expects, its inflated size against
    its compressed size. Nothing is allocated for what a header merely claims."""

    def __init__(self, source):
        self.zf = zipfile.ZipFile(source)
        self.infos = {i.filename: i for i in self.zf.infolist()}

    def close(self) -> None:
        self.zf.close()

    def get(self, name: str, count: int | None = None, kinds: str = "f") -> np.ndarray:
        """Member ``name``.npy as an array with ``count`` elements (if given) of a kind
        in ``kinds`` (numpy kind letters)."""
        info = self.infos.get(name + ".npy")
        if info is None:
            raise KeyError(f"{name} is missing")
        if info.file_size > _BOMB_BYTES and info.file_size > _BOMB_RATIO * max(1, info.compress_size):
            raise NetworkFileError(f"member '{name}' inflates from {info.compress_size} to "
                                   f"{info.file_size} bytes: refusing a likely zip bomb")
        with self.zf.open(info) as f:
            shape, fortran, dtype = read_npy_header(f)
            size = int(np.prod(shape, dtype=object))
            if dtype.hasobject or dtype.kind not in kinds:
                raise NetworkFileError(f"member '{name}' holds {dtype} values")
            if count is not None and size != count:
                raise NetworkFileError(f"member '{name}' has {size} values, the network "
                                       f"needs {count}")
            if size * dtype.itemsize > info.file_size:
                raise NetworkFileError(f"member '{name}' declares more data than it holds")
            data = f.read(size * dtype.itemsize)
        if len(data) != size * dtype.itemsize:
            raise NetworkFileError(f"member '{name}' is truncated")
        a = np.frombuffer(data, dtype=dtype)
        return a.reshape(shape, order="F" if fortran else "C")


def read_npz_layers(source) -> tuple[Iterator[Layer], FileInfo]:
    """The file's metadata, and its layers one at a time (each member is read when its
    layer is reached, after its size is checked); the iterator raises
    :class:`NetworkFileError` for a damaged file."""
    try:
        z = _Members(source)
    except FileNotFoundError:
        raise NetworkFileError(f"no such file: {source}") from None
    except _BAD_NPZ as e:
        raise _bad(e) from None
    try:
        meta = json.loads(str(z.get("meta", 1, "U")[()]))
        if not isinstance(meta, dict):
            raise ValueError("meta is not a JSON object")
        m = meta["layers"]
        if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 1 << 24:
            raise ValueError("meta.layers must be a whole number of layers")
        dtype = meta.get("dtype", "float64")
        if dtype not in ("float32", "float64"):
            raise ValueError("meta.dtype must be float32 or float64")
        props = meta.get("metadata", {})
        if not isinstance(props, dict):
            raise ValueError("meta.metadata must be an object")
        info = FileInfo.from_props(props, dtype=dtype)
    except NetworkFileError:
        z.close()
        raise
    except _BAD_NPZ as e:
        z.close()
        raise _bad(e) from None

    def layers() -> Iterator[Layer]:
        import scipy.sparse as sp  # where a matrix is made (reluc.net's note)
        try:
            n_in = None
            for i in range(m):
                try:
                    shape = tuple(int(v) for v in z.get(f"w{i}_shape", 2, "iu"))
                    out, cols = shape
                    if out < 1 or cols < 1:
                        raise ValueError(f"layer {i} has shape {shape}")
                    indptr = z.get(f"w{i}_indptr", out + 1, "iu")
                    nnz = int(indptr[-1])
                    if not 0 <= nnz <= out * cols:
                        raise ValueError(f"layer {i} claims {nnz} nonzeros")
                    w = sp.csr_array((z.get(f"w{i}_data", nnz).astype(np.float64),
                                      z.get(f"w{i}_indices", nnz, "iu"), indptr), shape=shape)
                    w.check_format(full_check=True)
                    layer = Layer(w, z.get(f"b{i}", out).astype(np.float64))
                except NetworkError as e:
                    raise NetworkFileError(f"inconsistent network in .npz: {e}") from None
                except _BAD_NPZ as e:
                    raise _bad(e) from None
                if n_in is not None and layer.n_in != n_in:
                    raise NetworkFileError(f"inconsistent network in .npz: layer {i} takes "
                                           f"{layer.n_in} inputs, layer {i - 1} gives {n_in}")
                n_in = layer.n_out
                yield layer
        finally:
            z.close()

    return layers(), info
