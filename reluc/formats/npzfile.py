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
indptr), shape)``; ReLU follows every layer but the last. The file is built in memory and
written in one piece, so the zip has no data descriptors and equal networks give equal bytes.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import scipy.sparse as sp

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


_BAD_NPZ = (zipfile.BadZipFile, ValueError, KeyError, TypeError, OSError, EOFError)


def _bad(e: Exception) -> NetworkFileError:
    reason = str(e).strip("'\"") or type(e).__name__
    return NetworkFileError(f"not a valid reluc .npz file ({reason})")


def read_npz_layers(source) -> tuple[Iterator[Layer], FileInfo]:
    """The file's metadata, and its layers one at a time (each member is read when its
    layer is reached); the iterator raises :class:`NetworkFileError` for a damaged file."""
    try:
        z = np.load(source, allow_pickle=False)
    except FileNotFoundError:
        raise NetworkFileError(f"no such file: {source}") from None
    except _BAD_NPZ as e:
        raise _bad(e) from None
    try:
        meta = json.loads(str(z["meta"][()]))
        m = int(meta["layers"])
        dtype = str(meta.get("dtype", "float64"))
        info = FileInfo.from_props(meta.get("metadata", {}), dtype=dtype)
    except _BAD_NPZ as e:
        z.close()
        raise _bad(e) from None

    def layers() -> Iterator[Layer]:
        with z:
            n_in = None
            for i in range(m):
                try:
                    shape = tuple(int(v) for v in z[f"w{i}_shape"])
                    w = sp.csr_array((z[f"w{i}_data"].astype(np.float64), z[f"w{i}_indices"],
                                      z[f"w{i}_indptr"]), shape=shape)
                    w.check_format(full_check=True)
                    layer = Layer(w, z[f"b{i}"].astype(np.float64))
                except NetworkError as e:
                    raise NetworkFileError(f"inconsistent network in .npz: {e}") from None
                except _BAD_NPZ as e:
                    raise _bad(e) from None
                if n_in is not None and layer.n_in != n_in:
                    raise NetworkFileError(f"inconsistent network in .npz: layer {i} takes "
                                           f"{layer.n_in} inputs, layer {i - 1} gives {n_in}")
                n_in = layer.n_out
                yield layer

    return layers(), info
