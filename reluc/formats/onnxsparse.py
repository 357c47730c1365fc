"""Reading reluc's sparse layout in ONNX: per layer a ``Gather`` of the activations'
features by index, then each row's gathered features weighed by its values and summed,

- as this version writes it (:mod:`.onnxwrite`): on tables ``I`` ``[out, K]`` and ``W``
  ``[out, 1, K]``, ``MatMul(W, gathered)`` (a ``[1, K] x [K, batch]`` product a row), then
  ``Reshape`` to ``[out, batch]``;
- or a ``Mul`` by the values, then the sum over the slots: as the previous version wrote
  it, on tables ``[K, out]`` and ``[K, out, 1]`` (slot by slot), ``Reshape`` to ``[K, out *
  batch]``, ``MatMul`` by a ``[1, K]`` constant (ones), ``Reshape`` to ``[out, batch]``; as
  earlier versions did, on tables ``[out, K]`` and ``[out, K, 1]``, ``ReduceSum`` over the
  slots' axis.

The handlers take the walk's chain (:class:`reluc.formats.onnxread._Chain`) and are
registered by :mod:`.onnxread`: :func:`gather` opens the pattern (:class:`Gathered`) and
until its sum is complete only the handlers of :data:`SPARSE` read the next node, each
checking that the pattern is at its step.
"""

from __future__ import annotations

import numpy as np

from reluc.errors import NetworkFileError
from reluc.formats.ell import counted_nonzeros, ell_to_csr

PATTERN = ("reluc's sparse layout: Gather, then MatMul and Reshape, or Mul then ReduceSum, or "
           "Mul, Reshape, MatMul and Reshape")


class Gathered:
    """A sparse layer being read: its index table, then its values, then (this version's
    form) the slots' weights in the sum; ``step`` is the last node read."""

    def __init__(self, idx: np.ndarray):
        self.idx, self.val, self.step = idx, None, "Gather"
        self.slot_weights: np.ndarray | None = None


def gather(chain, node, attrs, where):
    if chain.width is None:
        raise NetworkFileError("cannot infer the input width before a Gather")
    if attrs.get("axis", 0) != (0 if chain.transposed else 1) or node.input[0] != chain.cur:
        raise NetworkFileError("Gather must pick the features of the activations")
    idx = chain.array(node.input[1], node, native=True)  # int32 or int64, as ONNX has it
    # as unsigned integers, negative indices are past every width: one pass, not two
    if idx.dtype.kind not in "iu" or idx.ndim != 2 or \
            (idx.size and idx.view(f"u{idx.itemsize}").max() >= chain.width):
        raise NetworkFileError(f"{where}: bad gather indices")
    chain.gathered = Gathered(idx)


def _at(chain, steps: tuple[str, ...], where: str) -> Gathered:
    """The layer being read, if its last node read is one of ``steps``."""
    g = chain.gathered
    if g.step not in steps:
        raise NetworkFileError(f"{where}: out of order ({PATTERN})")
    return g


def mul(chain, node, attrs, where):
    """The values, shaped as ONNX broadcasting lays them on the gathered activations: the
    index table's shape and a 1 on transposed activations (``[K, rows, 1]`` on
    ``[K, rows, batch]``), the index table's shape on ``[batch, ...]``; a leading 1
    allowed."""
    g = _at(chain, ("Gather",), where)
    val = chain.array(next(i for i in node.input if i != chain.cur), node, native=True)
    want = g.idx.shape + ((1,) if chain.transposed else ())
    lead = val.shape[:-len(want)]
    if val.dtype.kind not in "fiu" or val.shape[len(lead):] != want or \
            any(d != 1 for d in lead):
        raise NetworkFileError(f"{where}: values do not match the gather indices "
                               f"({list(val.shape)} for indices {list(g.idx.shape)})")
    g.val, g.step = val.reshape(g.idx.shape), "Mul"


def reduce_sum(chain, node, attrs, where):
    """Earlier versions' sum: over the slots' axis of ``[rows, slots, ...]`` tables."""
    g = _at(chain, ("Mul",), where)
    axes = chain.array(node.input[1], node) if len(node.input) > 1 else None
    want = [[1]] if chain.transposed else [[2], [-1]]
    if axes is None or axes.ndim != 1 or list(axes.astype(int)) not in want \
            or attrs.get("keepdims", 1) != 0:
        raise NetworkFileError(f"{where}: expected ReduceSum over the last axis without "
                               "keepdims")
    _finish(chain, g.idx.T, g.val.T, where)  # slot-major views of the row-major tables


def reshape(chain, node, attrs, where):
    """``[K, out, batch]`` to ``[K, out * batch]`` (after the Mul), or the sums
    ``[1, out * batch]`` (after the slots' MatMul) or ``[out, 1, batch]`` (after the
    product a row) to ``[out, batch]``."""
    g = _at(chain, ("Mul", "MatMul", "Product"), where)
    shape = chain.array(node.input[1], node)
    k, rows = g.idx.shape[::-1] if g.step == "Product" else g.idx.shape  # K slots, rows
    if g.step == "Mul" and chain.transposed and attrs.get("allowzero", 0) == 0 and \
            shape.ndim == 1 and list(shape) in ([0, -1], [k, -1]):
        g.step = "Reshape"
        return
    if g.step == "Product" and shape.ndim == 1 and list(shape) == [rows, -1]:
        _finish(chain, g.idx.T, g.val.T, where)  # slot-major views of the row-major tables
        return
    if g.step == "MatMul" and shape.ndim == 1 and list(shape) == [rows, -1]:
        val = g.val if np.all(g.slot_weights == 1) else g.val * g.slot_weights[:, None]
        _finish(chain, g.idx, val, where)
        return
    raise NetworkFileError(f"{where}: a Reshape to {shape.astype(int).tolist()} ({PATTERN}, "
                           f"the slots {k} by {rows} rows)")


def matmul(chain, node, attrs, where):
    """Each row's product ``W[r] x gathered[r]`` (``W`` of shape ``[out, 1, K]``) right after
    the Gather; or the sum over the slots: a ``[1, K]`` constant times ``[K, out * batch]``."""
    g = _at(chain, ("Gather", "Reshape"), where)
    if node.input[1] != chain.cur:
        raise NetworkFileError(f"{where}: MatMul must take the "
                               f"{'gathered rows' if g.step == 'Gather' else 'slots'} as "
                               "its second input")
    if g.step == "Gather":
        rows, k = g.idx.shape
        if not chain.transposed:
            raise NetworkFileError(f"{where}: a MatMul of the gathered rows is read only "
                                   "on transposed activations")
        val = chain.array(node.input[0], node, native=True)
        if val.dtype.kind not in "fiu" or val.shape != (rows, 1, k):
            raise NetworkFileError(f"{where}: values do not match the gather indices "
                                   f"({list(val.shape)} for indices {list(g.idx.shape)})")
        g.val, g.step = val.reshape(rows, k), "Product"
        return
    k = g.idx.shape[0]
    c = chain.array(node.input[0], node)
    if c.shape != (1, k) or not np.all(np.isfinite(c)):
        raise NetworkFileError(f"{where}: the slots' sum needs finite weights of shape "
                               f"[1, {k}], got {list(c.shape)}")
    g.slot_weights, g.step = c[0], "MatMul"


def _finish(chain, idx: np.ndarray, val: np.ndarray, where: str) -> None:
    """The layer's weights from tables laid out slot by slot (``[K, rows]``)."""
    chain.gathered = None
    width, rows = chain.width, idx.shape[1]

    def make():
        return ell_to_csr(idx, val, width)

    nnz = counted_nonzeros(idx, val) if chain.counting else None
    # (the values in memory order: no copy of transposed tables to check them)
    step = chain.counted((rows, width), val.ravel(order="K"), make, nnz) \
        if nnz is not None else make()
    chain.then(step, np.zeros(rows), where)


# op -> (handler, fewest inputs, most inputs): the nodes read while a Gather is open
SPARSE = {"Mul": (mul, 2, 2), "ReduceSum": (reduce_sum, 1, 2), "Reshape": (reshape, 2, 2),
          "MatMul": (matmul, 2, 2)}
