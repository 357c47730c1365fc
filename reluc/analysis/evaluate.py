"""Run a network file on a batch of inputs in the file's own dtype.

``.onnx`` runs through onnxruntime (CPU provider); ``.npz`` through numpy/scipy. Both
read the same weights, so exact constructions agree exactly on exactly representable
inputs (integers, dyadic rationals) and to rounding elsewhere.
"""

from __future__ import annotations

import os

import numpy as np

from reluc import formats
from reluc.analysis.cores import cores, pool
from reluc.errors import InputError, NetworkFileError


# rows per onnxruntime call: the largest intermediate tensor stays near this many bytes
CHUNK_BYTES = 256 << 20


class Runner:
    """A loaded network ready to evaluate batches: ``Runner(path)(x)``. Large batches
    run a chunk of rows at a time, so that a network 131072 neurons wide does not need
    gigabytes of intermediate tensors for a 1024-row batch."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            magic = f.read(4)
        self.path = path
        if magic == b"PK\x03\x04":
            self.net, self.info = formats.read(path)
            self.n_in, self.dtype = self.net.n_in, self.info.dtype or "float64"
            self._session = None
        else:
            self._session = _ort_session(path)
            inp = self._session.get_inputs()[0]
            self.dtype = {"tensor(float)": "float32", "tensor(double)": "float64"}.get(inp.type)
            if self.dtype is None or len(inp.shape) != 2 or not isinstance(inp.shape[1], int):
                raise NetworkFileError("the ONNX input must be a float matrix [batch, n]")
            self.n_in, self._input_name = inp.shape[1], inp.name
            per_row = max(self.n_in, _widest(path)) * np.dtype(self.dtype).itemsize
            self.chunk = max(1, CHUNK_BYTES // per_row)

    def __call__(self, x: np.ndarray, progress=None) -> np.ndarray:
        """Outputs for the rows of ``x``; ``progress(done, total)`` after each chunk."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise InputError(f"inputs must have {self.n_in} columns, got shape {x.shape}")
        xt = x.astype(self.dtype)
        if self._session is None:  # numpy/scipy: rows split over the cores (16 at least each)
            parts = np.array_split(xt, cores(len(xt) // 16))
            with pool() as workers:
                outs = list(workers.map(lambda p: self.net.evaluate(p, dtype=self.dtype), parts))
            if progress:
                progress(len(xt), len(xt))
            return np.concatenate(outs)
        out = []
        for start in range(0, max(1, len(xt)), self.chunk):
            try:
                out.append(self._session.run(None, {self._input_name:
                                                    xt[start:start + self.chunk]})[0])
            except _ort_errors() as e:  # the file is wrong in a way found while running it
                raise NetworkFileError(f"onnxruntime cannot run '{self.path}': "
                                       f"{_ort_reason(e)}") from None
            if progress:
                progress(min(len(xt), start + self.chunk), len(xt))
        return np.concatenate(out)


def _widest(path: str) -> int:
    """Values per input row of the largest intermediate tensor, estimated from the
    initializers' shapes (no weights are read): a weight of shape (..., n) feeds a
    tensor of prod(...) values per row (Gemm (out, in); reluc's sparse (out, K, 1))."""
    from reluc.formats.onnxfile import scan_model

    try:
        with open(path, "rb") as f:
            _, tensors = scan_model(f, os.path.dirname(os.path.abspath(path)))
    except NetworkFileError:
        return 1
    dims = [list(t.proto.dims) for t in tensors.values()]
    return max([int(np.prod(d[:-1])) for d in dims if len(d) >= 2] or [1])


def _ort_session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    except (*_ort_errors(), ValueError, OSError) as e:
        raise NetworkFileError(f"onnxruntime cannot load '{path}': {_ort_reason(e)}") from None


def _ort_errors() -> tuple[type, ...]:
    """The exception classes onnxruntime raises for models it cannot load or run (its
    own module's; a bug of reluc's raises something else and stays an internal error)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return tuple(v for v in vars(state).values() if isinstance(v, type)
                 and issubclass(v, Exception) and v.__module__ == state.__name__)


def _ort_reason(e: Exception, limit: int = 240) -> str:
    """onnxruntime's message on one line, without its error-code prefix and the
    source location and C++ signature it names."""
    import re

    msg = " ".join(str(e).split()) or type(e).__name__
    msg = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", msg)
    msg = re.sub(r"/onnxruntime_src/\S+ .*?\)\s+", "", msg)
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."
