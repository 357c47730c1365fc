"""Run a network file on a batch of inputs in the file's own dtype.

Engines (``reluc eval --runtime``):

- ``scipy`` (the default, ``auto``): reluc's reader, then per layer one scipy CSR product
  in the file's dtype, the bias added after it, each row's terms summed in column order
  whatever the layout (``.npz`` and both ONNX layouts give the same bits). onnxruntime
  sums a sparse layout's row of up to 4 nonzeros in that order too (the same bits), more
  in blocks of 4, and dense ``Gemm`` layers in its BLAS's order: the engines agree to
  the file's rounding bound (``tests/test_engines.py``).
- ``ort``: onnxruntime (CPU provider), for ``.onnx`` files: what runs the file elsewhere,
  and what ``verify``'s float check runs (the file's own runtime, ``own``).
- ``auto`` is scipy, but takes onnxruntime for a large dense ONNX graph (a quarter of
  its 2^20 or more weights nonzero: Gemm's BLAS beats CSR products, and the results are
  the file's own), and for an ONNX graph reluc's reader cannot follow (an operator it
  does not know, a branch: :class:`~reluc.errors.UnreadableGraph`), with a note, and
  without the input limit; a damaged file is refused by every engine.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from reluc import formats
from reluc.analysis.cores import cores, pool, rows_per_piece
from reluc.budget import blocks_mapped
from reluc.errors import InputError, NetworkFileError, UnreadableGraph
from reluc.net import forward
from reluc.ranges import RangeBound, dot_gamma, format_limit


# rows at a time: the largest intermediate tensor stays near this many bytes
CHUNK_BYTES = 256 << 20
# auto runs a network through onnxruntime when it is this dense and this large: BLAS
# (onnxruntime's Gemm) beats CSR products there (2.5x on a dense 784-1024-1024-1024-10 MLP)
DENSE_SHARE, DENSE_WORK = 0.25, 1 << 20
# rows per onnxruntime call: 64 (measured: bench/encodings.py, and eval of sort n=1024 /
# 4096, 1024 rows, one session: 64 rows a call 0.31-0.33 / 1.94-2.05 s of CPU, 128 rows
# 0.30-0.32 / 1.82-1.98, 256 rows 0.32-0.34 / 1.76-2.50, 512 rows - / 2.11-3.12; but the
# whole command, three rounds alternating: n=4096 3.00-3.07 s with 64, 3.04-3.05 with 128,
# whose larger tensors cost more system time), doubled up to ORT_MAX_ROWS while a call's
# largest intermediate tensor (a layer's gathered features) stays within ORT_CALL_BYTES:
# then two calls at once keep theirs in the cache. `eval --runtime ort` of sort n=256 /
# 512 / 1024 / 2048 (12 / 24 / 48 / 96 KiB a row), CPU s, three rounds
# alternating (two at n <= 512): 64 rows a call 0.84-1.05 / 1.23-1.41 / 0.90-1.05 /
# 1.60-1.62, 128 rows 0.74-0.88 / 0.95-1.17 / 0.78-0.82 / 1.85-2.09, 256 rows 0.71-0.72
# / 1.00-1.12; the dense sort n=1024 file 8.8 with 64, 7.8-8.2 with 128 (the same outputs)
ORT_ROWS = 64
ORT_MAX_ROWS = 256
ORT_CALL_BYTES = 8 << 20


def ort_rows(row_bytes: int | None) -> int:
    """Rows per onnxruntime call for a network whose largest intermediate tensor takes
    ``row_bytes`` a row (None: not known, a file reluc did not read)."""
    rows = ORT_ROWS
    while row_bytes and rows < ORT_MAX_ROWS and 2 * rows * row_bytes <= ORT_CALL_BYTES:
        rows *= 2
    return rows


class Runner:
    """A loaded network ready to evaluate batches: ``Runner(source)(x)``; ``source`` is a
    path, ``-`` (stdin) or a pipe such as ``<(reluc build ...)``; ``runtime`` one of
    ``auto``, ``scipy``, ``ort`` (module docstring) or ``own``, the file's own runtime
    (onnxruntime for ``.onnx``, scipy for ``.npz``).

    Every network is first read by reluc's own reader, as ``stats`` and ``verify`` read
    it (NaN weights, a damaged sparse layout are refused here, not run), which also
    gives its input limit (:mod:`reluc.ranges`); except where a caller that reads the
    file in its own way (``verify``'s pass over the layers) gives its ``known`` (inputs,
    dtype): onnxruntime then opens it without that read, and without an input limit.
    Large batches run a chunk of rows at a time, so that a network 131072 neurons wide
    does not need gigabytes of intermediate tensors for a 1024-row batch; a model
    exported with a fixed batch size gets its rows in batches of that size."""

    def __init__(self, source: str | bytes, name: str | None = None, runtime: str = "auto",
                 known: tuple[int, str] | None = None):
        data = formats.load_source(source)
        self.path = name or (source if isinstance(source, str) else "-")
        self._source = data if data is not None else source
        onnx_file = formats.kind_of(self._source) == "onnx"
        if runtime == "own":
            runtime = "ort" if onnx_file else "scipy"
        if runtime == "ort" and not onnx_file:
            raise InputError(f"--runtime ort runs .onnx files; '{self.path}' is .npz "
                             "(scipy runs it)")
        self.runtime = "ort" if runtime == "ort" else "scipy"
        self.note = None  # a line for the user: the engine was not the one asked for
        self._either = ""  # the reason reluc's reader gave up, for onnxruntime's errors
        # rows past the limit are evaluated with their sizes checked (see checked); off,
        # they go to the runtime as they are (verify, which looks for overflows)
        self.guard = True
        self.batch = None  # a fixed batch size the model insists on
        self.chunk = ORT_ROWS  # rows a call; fewer when rows are large (_read)
        self._row_bytes = None  # the largest intermediate tensor's bytes a row (_read)
        if known is not None and self.runtime == "ort":  # the caller reads the file
            (self.n_in, self.dtype), self.limit, self.guard, self.depth = \
                known, math.inf, False, None
        else:
            self._read_or_not(runtime, onnx_file)
        if self.runtime == "ort":
            self._open_session()

    def _read_or_not(self, runtime: str, onnx_file: bool) -> None:
        """reluc's read (:meth:`_read`); onnxruntime alone for a graph reluc cannot read,
        or for a large dense one under ``auto``."""
        try:
            self._read()
        except UnreadableGraph as e:
            if runtime == "scipy" or not onnx_file:
                raise
            reason = str(e).split(";")[0]
            self.note = (f"note: reluc cannot read the graph of '{self.path}' ({reason}); "
                         "it runs through onnxruntime, without reluc's input limit")
            self._either = f" (reluc cannot read it either: {reason})"  # in run errors
            self.runtime, self.limit, self.guard, self.n_in = "ort", math.inf, False, None
        else:  # a large dense graph (Gemm layers): its own runtime's BLAS is faster
            if runtime == "auto" and onnx_file and self.params >= DENSE_WORK and \
                    self.nonzeros >= DENSE_SHARE * self.params:
                self.runtime, self._layers = "ort", []

    def _read(self) -> None:
        layers, self.info = formats.read_layers(self._source)
        self.dtype = self.info.dtype or "float64"
        bound, n_in, per_row, widest = RangeBound(self.dtype), None, 1, 1
        self.nonzeros, self.params, self._layers = 0, 0, []
        for layer in layers:
            n_in = layer.n_in if n_in is None else n_in
            bound.add(layer)
            self.nonzeros += layer.weight.nnz
            self.params += layer.n_out * layer.n_in
            k = int(np.diff(layer.weight.indptr).max(initial=0))
            per_row = max(per_row, layer.n_in, layer.n_out * max(k, 1))
            widest = max(widest, layer.n_in, layer.n_out)
            if self.runtime == "scipy":
                self._layers.append(_engine_layer(layer, self.dtype, k))
        if n_in is None:
            raise NetworkFileError("the file holds no layers")
        self.n_in, self.limit, self.depth = n_in, bound.limit(), bound.layers
        self._row_bytes = per_row * np.dtype(self.dtype).itemsize
        self.chunk = max(1, CHUNK_BYTES // self._row_bytes)
        self._check_rows = rows_per_piece(widest)  # rows past the limit: float64

    def _open_session(self) -> None:
        self._session = _ort_session(self._source, self.path)
        inp = self._session.get_inputs()[0]
        dtype = {"tensor(float)": "float32", "tensor(double)": "float64"}.get(inp.type)
        if self.n_in is None:  # not read by reluc: the width from the graph's input
            self.dtype, self.depth = dtype or "float64", None
            dims = inp.shape[1:]
            if not dims or not all(isinstance(d, int) and d > 0 for d in dims):
                raise NetworkFileError(f"'{self.path}' has an input of shape {inp.shape}; "
                                       "eval needs its width")
            self.n_in = int(np.prod(dims))
        self._rest = _row_shape(inp.shape, self.n_in)  # a row's shape ([1, n], ...)
        if dtype != self.dtype or self._rest is None:
            raise NetworkFileError(f"onnxruntime sees the input of '{self.path}' as "
                                   f"{inp.type} {inp.shape}, not a {self.dtype} batch of "
                                   f"rows of {self.n_in}")
        self._input_name = inp.name
        self.chunk = min(self.chunk, ort_rows(self._row_bytes))  # and CHUNK_BYTES
        if inp.shape and isinstance(inp.shape[0], int) and inp.shape[0] > 0:
            self.batch = self.chunk = inp.shape[0]

    def check(self, x: np.ndarray) -> str | None:
        """Refuse rows holding values the file's dtype cannot hold (:class:`InputError`
        naming the first); a warning line when values round on the way into the dtype."""
        big = float(np.finfo(self.dtype).max)
        mag = _max_abs(x)
        over = np.flatnonzero(mag > big)
        if over.size:
            i = int(over[0])
            raise InputError(f"input row {i + 1}: {mag[i]:.3g} is beyond the range of "
                             f"{self.dtype}, the dtype of '{self.path}'")
        if self.dtype == "float64" or x.dtype == self.dtype:
            return None
        moved, first = 0, None
        step = rows_per_piece(x.shape[1])  # a piece at a time, not a copy of all rows
        for start in range(0, len(x), step):
            part = x[start:start + step]
            change = part.astype(self.dtype) != part
            count = int(np.count_nonzero(change))
            if count and first is None:
                r, c = np.argwhere(change)[0]
                first = start + int(r), int(c)
            moved += count
        if not moved:
            return None
        r, c = first
        return (f"warning: {moved} input value{'s' if moved > 1 else ''} rounded "
                f"to {self.dtype} (first: input row {r + 1}, {float(x[r, c])!r} -> "
                f"{float(x[r, c].astype(self.dtype))!r})")

    def checked(self, x: np.ndarray, first_row: np.ndarray) -> np.ndarray:
        """Rows past the input limit, evaluated by reluc in the file's dtype with the size
        of every partial sum checked against the dtype's range (``|W| |h| + |b|``,
        inflated for rounding, from the values this very computation holds): the outputs
        of a computation that provably did not overflow, or :class:`InputError` naming
        the first row that could. ``first_row``: each row's number, for the message.
        A chunk of rows at a time, as other rows go (the weights read once), the chunks
        over the cores; the first chunk that could overflow is the one named."""
        layers = self._layers or [_engine_layer(layer, self.dtype)
                                  for layer in formats.read_layers(self._source)[0]]
        rows = min(self.chunk, self._check_rows)

        def chunk(r: int) -> np.ndarray:
            return self._checked(layers, x[r:r + rows], first_row[r:r + rows])

        with pool() as workers:  # results (and the first error) in the chunks' order
            return np.concatenate(list(workers.map(chunk, range(0, len(x), rows))))

    def _checked(self, layers, x: np.ndarray, first_row: np.ndarray) -> np.ndarray:
        dtype, big, unit = self.dtype, float(np.finfo(self.dtype).max), float(np.finfo(self.dtype).eps) / 2
        h = np.ascontiguousarray(x.astype(dtype).T)
        bad = np.zeros(len(x), dtype=bool)
        for i, (w, b, gamma) in enumerate((w, b, dot_gamma(k, unit)) for w, b, k in layers):
            with np.errstate(over="ignore", invalid="ignore"):
                size = abs(w).astype(np.float64) @ np.abs(h.astype(np.float64)) \
                    + np.abs(b.astype(np.float64))[:, None]
                bad |= ~np.all(size * (1 + gamma) < big, axis=0)
                h = w @ h + b[:, None]
            if i < self.depth - 1:
                np.maximum(h, 0, out=h)
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                raise InputError(
                    f"input row {first_row[j] + 1}: |x| reaches {np.abs(x[j]).max():.3g}, past "
                    f"the input limit {format_limit(self.limit)} of '{self.path}', and "
                    f"evaluation in {dtype} would overflow in layer {i + 1} (reluc stats "
                    "shows the limit)")
        return np.ascontiguousarray(h.T)

    def __call__(self, x: np.ndarray, progress=None) -> np.ndarray:
        """Outputs for the rows of ``x``; ``progress(done, total)`` after each chunk."""
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise InputError(f"inputs must have {self.n_in} columns, got shape {x.shape}")
        far = np.flatnonzero(_max_abs(x) > self.limit) if self.guard else []
        if len(far):  # past the sound limit: each such row checked as it is computed
            y_far = self.checked(x[far], far)
            near = np.setdiff1d(np.arange(len(x)), far)
            y = np.empty((len(x), y_far.shape[1]), dtype=self.dtype)
            y[far] = y_far
            if len(near):
                y[near] = self(x[near], progress)
            return y
        out = []
        # calls of even sizes, none over self.chunk (a fixed batch: its size), so that the
        # calls over the cores end together: 256 rows at n=65536 in 85-row calls (4 of
        # them, the last of one row) took 22 s of wall time, in 64-row calls 17.5
        calls = max(1, -(-len(x) // self.chunk))
        step = self.chunk if self.batch is not None else max(1, -(-len(x) // calls))
        starts = range(0, max(1, len(x)), step)
        parts = (x[start:start + step] for start in starts)  # cast where they run
        with pool() as workers:
            if self.runtime == "scipy":  # each chunk's rows split over the cores (16 at least)
                done = (list(workers.map(self._forward, np.array_split(p, cores(len(p) // 16))))
                        for p in parts)
            else:  # the calls over the cores, one onnxruntime thread each (_ort_session)
                done = ([y] for y in workers.map(self._run_ort, parts))
            for start, ys in zip(starts, done):
                out += ys
                if progress:
                    progress(min(len(x), start + step), len(x))
        return np.concatenate(out)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """The scipy engine (:func:`reluc.net.forward`), the rows cast to the file's dtype
        and transposed in one pass."""
        h = np.empty(x.shape[::-1], dtype=self.dtype)
        h[...] = x.T
        return forward(((w, b) for w, b, _ in self._layers), h.T)

    def _run_ort(self, part: np.ndarray) -> np.ndarray:
        part, rows = part.astype(self.dtype, copy=False), len(part)
        if self.batch is not None and rows < self.batch:  # pad to the fixed batch
            part = np.vstack([part, np.zeros((self.batch - rows, self.n_in), part.dtype)])
        try:
            y = self._session.run(None, {self._input_name:
                                         part.reshape((len(part), *self._rest))})[0]
        except _ort_errors() as e:  # the file is wrong in a way found while running it
            raise NetworkFileError(f"onnxruntime cannot run '{self.path}'{self._either}: "
                                   f"{_ort_reason(e)}") from None
        if y.ndim < 1 or y.shape[0] != len(part):
            raise NetworkFileError(f"onnxruntime gives '{self.path}'{self._either} an output "
                                   f"of shape {list(y.shape)} for {len(part)} input rows; "
                                   "eval needs one output row per input row")
        return y.reshape(len(part), int(np.prod(y.shape[1:])))[:rows]


def _max_abs(x: np.ndarray) -> np.ndarray:
    """Each row's largest magnitude (NaN for a row holding one), without an array of
    magnitudes the size of ``x``."""
    if not x.size:
        return np.zeros(len(x))
    return np.maximum(x.max(axis=1), -x.min(axis=1))


def _engine_layer(layer, dtype: str, k: int | None = None) -> tuple:
    """A layer as the scipy engine holds it, in ``dtype``: (weights, bias, K), the weights
    CSR sharing the layer's index arrays (each output summed over its nonzeros in column
    order, as reluc's sparse layout has onnxruntime sum them), K the most nonzeros in a
    row (for the rounding bounds). (Rows in negated pairs gain nothing here: the even
    rows' product, copied out and negated, took 0.70 s of CPU where the whole product took
    0.62, sort n=4096, 512 rows.)"""
    w = layer.weight
    k = int(np.diff(w.indptr).max(initial=0)) if k is None else k
    csr = sp.csr_array((w.data.astype(dtype), w.indices, w.indptr), shape=w.shape)
    return csr, layer.bias.astype(dtype), k


def _row_shape(shape: list, n_in: int) -> tuple[int, ...] | None:
    """The shape one row of ``n_in`` values takes in an input of ``shape`` (batch first,
    as exporters write it: [batch, n], [batch, 1, n], [1, 1, 1, n], [1, n, 1]), one
    unnamed dimension at most filled in; None when no such shape holds ``n_in`` values."""
    rest = list(shape[1:])
    known = int(np.prod([d for d in rest if isinstance(d, int) and d > 0]))
    free = [i for i, d in enumerate(rest) if not (isinstance(d, int) and d > 0)]
    if len(shape) < 2 or len(free) > 1 or n_in % known:
        return None
    if free:
        rest[free[0]] = n_in // known
    return tuple(rest) if int(np.prod(rest)) == n_in else None


def _ort_session(model: str | bytes, name: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # fatal only: its errors come back as exceptions, in one line
    # one thread a call, the calls over reluc's threads (Runner.__call__): onnxruntime's
    # own two threads cost twice the CPU of one in some runs on a 2-core machine (sort
    # n=4096, 1024 rows: 3.6-3.8 s against 1.8, every run of one evening)
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    # (prepacking stays on, although it costs 1.4 s to open the dense sort n=1024 file:
    # without it onnxruntime's Gemm sums in another order, and the outputs would not be
    # what onnxruntime gives by default)
    try:
        with blocks_mapped():
            return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    except (*_ort_errors(), ValueError, OSError) as e:
        raise NetworkFileError(f"onnxruntime cannot load '{name}': {_ort_reason(e)}") from None


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
