"""``reluc convert``: a network file reluc reads (an exported MLP, or a reluc file) written
as a reluc file, ONNX in either layout or ``.npz``, and the conversion checked.

The reader folds the exporter's graph (normalisation by Sub, Div and Mul, Flatten and
Reshape, Gemm's alpha and beta) into a chain of affine layers; the writer stores them in
the chosen dtype with reluc's metadata, and the file's origin (its name and SHA-256).
Then both files run on the same rows, the original through onnxruntime as it was
exported and the new one as reluc runs it; they must agree to within the sum of the two
evaluations' rounding bounds (:mod:`reluc.analysis.rounding`: each file's is taken as
twice that of the folded network in the file's dtype) and the effect of rounding the
folded weights into the new dtype.
If they do not, the new file is removed and the conversion fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from reluc import __version__, formats
from reluc.errors import RelucError
from reluc.formats.metadata import FORMAT_VERSION


@dataclass
class Converted:
    written: formats.Written
    dtype: str
    rows: int
    max_difference: float
    tolerance: float  # the largest allowed difference, over the rows

    def summary(self, source: str, output: str) -> str:
        return (f"wrote {output}: {self.dtype}, {self.written.nonzeros} nonzero params, "
                f"{self.written.size} bytes; checked on {self.rows} rows against {source}: "
                f"largest difference {self.max_difference:.3g}, within the rounding bound "
                f"({self.tolerance:.3g} where largest)")


def convert(source: str, output: str, fmt: str, layout: str = "auto",
            dtype: str | None = None, rows: int = 512, seed: int = 0) -> Converted:
    from reluc.analysis.evaluate import Runner
    from reluc.analysis.rounding import UNIT_ROUNDOFF, rounding_bound
    from reluc.compiler import cast

    if output == "-":
        raise RelucError("reluc convert writes a file (it runs it to check it): give -o FILE")
    net, info = formats.read(source)
    dtype = dtype or info.dtype or "float32"
    if dtype not in UNIT_ROUNDOFF:
        raise RelucError(f"unknown dtype '{dtype}'; choose from float32, float64")
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    same = dtype == info.dtype  # claims about the weights hold only in the same dtype
    meta = dataclasses.replace(
        info, dtype=dtype, version=__version__, format=FORMAT_VERSION, input_limit=None,
        exact=info.exact if same else None, error_bound=info.error_bound if same else None,
        origin=f"{os.path.basename(source)} sha256:{digest}")
    written = formats.write(SimpleNamespace(dtype=dtype, source=net), output, fmt, layout,
                            info=meta)
    try:
        original, converted = Runner(source, runtime="own"), Runner(output, runtime="own")
        x = _rows(net.n_in, info, min(original.limit, converted.limit), rows, seed)
        old = info.dtype or dtype
        if "float32" in (old, dtype):  # rows both files take as they are
            x = x.astype(np.float32).astype(np.float64)
        got, want = converted(x).astype(np.float64), original(x).astype(np.float64)
        stored = cast(net, dtype)  # the weights as the new file holds them
        # each file's rounding (the original's as that of its folded network, doubled
        # for the operations folding removed), and the folded weights' own rounding
        bound = 2 * (rounding_bound(stored, x, dtype) + rounding_bound(cast(net, old), x, old))
        moved = _weights_moved(net, stored, x)
        u = max(UNIT_ROUNDOFF[dtype], UNIT_ROUNDOFF[old])
        tol = bound[:, None] + moved + 4 * u * np.abs(want)
        diff = np.abs(got - want)
        if not np.all(diff <= tol):
            i = int(np.argmax((diff - tol).max(axis=1)))
            raise RelucError(f"the converted file disagrees with {source} on row {i + 1}: "
                             f"difference {diff[i].max():.3g}, more than the rounding bound "
                             f"{tol[i].min():.3g}; nothing written")
    except BaseException:
        for path in [output] + ([written.external] if written.external else []):
            if os.path.exists(path):
                os.unlink(path)
        raise
    worst = int(np.argmax(diff.max(axis=1))) if len(diff) else 0
    return Converted(written, dtype, len(x), float(diff.max(initial=0.0)),
                     float(tol[worst].max()) if len(tol) else 0.0)


def _rows(n: int, info, limit: float, count: int, seed: int) -> np.ndarray:
    """Rows to compare on: inside the file's domain when it is bounded, else standard
    normal rows at a few scales, never past the input limit."""
    rng = np.random.default_rng(seed)
    d = info.domain
    if d is not None and d.dim == n and all(v is not None for v in (*d.lo, *d.hi)):
        lo = np.array([float(v) for v in d.lo])
        hi = np.array([float(v) for v in d.hi])
        return lo + rng.random((count, n)) * (hi - lo)
    scale = np.repeat([0.1, 1.0, 10.0, 100.0], -(-count // 4))[:count, None]
    x = rng.normal(size=(count, n)) * scale
    return np.clip(x, -limit / 2, limit / 2)


def _weights_moved(net, stored, x) -> np.ndarray:
    """A bound, per row and output, on how far the stored (rounded) weights move the
    outputs from the folded float64 ones: the weights' changes through |W| of the later
    layers (ReLU is 1-Lipschitz), on the folded network's own activations."""
    h = np.asarray(x, float).T
    e = np.zeros_like(h)
    for i, (a, b) in enumerate(zip(net.layers, stored.layers)):
        if i:
            h = np.maximum(h, 0)
        dw = abs(a.weight - b.weight)
        e = abs(b.weight) @ e + dw @ np.abs(h) + np.abs(a.bias - b.bias)[:, None]
        h = a.weight @ h + a.bias[:, None]
    return (e * 1.01).T
