"""Reading reluc's sparse layout in ONNX: per layer a ``Gather`` of the activations'
features by index, then each row's gathered features weighed by its values and summed,

- as this version writes it (:mod:`.onnxwrite`): on tables ``I`` ``[out, K]`` and ``W``
  ``[out, 1, K]``, ``MatMul(W, gathered)`` (a ``[1, K] x [K, batch]`` product a row), then
  ``Reshape`` to ``[out, batch]``; a layer whose rows come in negated pairs has the even
  rows' tables alone, and between the MatMul and the Reshape to ``[2 out, batch]`` a
  ``Neg`` of the products and a ``Concat`` of products and negations along axis 1, or a
  ``Mul`` by the constant ``[1, -1]`` of shape ``[1, 2, 1]`` (rows ``2k`` and ``2k + 1``
  are the ``k``-th product and its negation);
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
from reluc.pairs import canonical, with_negations

PATTERN = ("reluc's sparse layout: Gather, then MatMul (with Neg and Concat, or Mul, for rows "
           "in pairs) "
           "and Reshape, or Mul then ReduceSum, or Mul, Reshape, MatMul and Reshape")


class Gathered:
    """A sparse layer being read: its index table, then its values, then (this version's
    form) the slots' weights in the sum; ``step`` is the last node read; ``product``: the
    name of the products a row (which the Concat of rows in pairs takes)."""

    def __init__(self, idx: np.ndarray):
        self.idx, self.val, self.step = idx, None, "Gather"
        self.slot_weights: np.ndarray | None = None
        self.product: str | None = None


def inputs(chain, op: str) -> list[str]:
    """The activations a node may take while a sparse layer is open: the products and
    their negations for the Concat of rows in pairs, else the chain's current ones."""
    g = chain.gathered
    if g.step == "Negated" and op == "Concat":
        return [g.product, chain.cur]
    return [chain.cur]


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
    allowed. Or, after the products a row, the signs of rows in negated pairs."""
    g = _at(chain, ("Gather", "Product"), where)
    val = chain.array(next(i for i in node.input if i != chain.cur), node, native=True)
    if g.step == "Product":  # [out, 1, batch] times [1, 2, 1] (or [2, 1]): [out, 2, batch]
        if val.shape not in ((1, 2, 1), (2, 1)) or list(val.ravel()) != [1, -1]:
            raise NetworkFileError(f"{where}: rows in pairs need a Mul by [1, -1] of shape "
                                   f"[1, 2, 1] ({PATTERN})")
        g.step = "Paired"
        return
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
    g = _at(chain, ("Mul", "MatMul", "Product", "Paired"), where)
    shape = chain.array(node.input[1], node)
    k, rows = g.idx.shape[::-1] if g.step in ("Product", "Paired") else g.idx.shape  # K, rows
    if g.step == "Mul" and chain.transposed and attrs.get("allowzero", 0) == 0 and \
            shape.ndim == 1 and list(shape) in ([0, -1], [k, -1]):
        g.step = "Reshape"
        return
    if g.step == "Product" and shape.ndim == 1 and list(shape) == [rows, -1]:
        _finish(chain, g.idx.T, g.val.T, where)  # slot-major views of the row-major tables
        return
    if g.step == "Paired" and shape.ndim == 1 and list(shape) == [2 * rows, -1]:
        _finish(chain, g.idx.T, g.val.T, where, paired=True)
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
        g.val, g.step, g.product = val.reshape(rows, k), "Product", node.output[0]
        return
    k = g.idx.shape[0]
    c = chain.array(node.input[0], node)
    if c.shape != (1, k) or not np.all(np.isfinite(c)):
        raise NetworkFileError(f"{where}: the slots' sum needs finite weights of shape "
                               f"[1, {k}], got {list(c.shape)}")
    g.slot_weights, g.step = c[0], "MatMul"


def neg(chain, node, attrs, where):
    """The products a row negated (rows in negated pairs)."""
    _at(chain, ("Product",), where).step = "Negated"


def concat(chain, node, attrs, where):
    """Products and negations ``[out, 1, batch]`` side by side along axis 1 (``[out, 2,
    batch]``): rows ``2k`` and ``2k + 1`` once reshaped."""
    g = _at(chain, ("Negated",), where)
    if attrs.get("axis") not in (1, -2):
        raise NetworkFileError(f"{where}: rows in pairs need a Concat along axis 1 "
                               f"({PATTERN})")
    g.step = "Paired"


def _finish(chain, idx: np.ndarray, val: np.ndarray, where: str, paired: bool = False) -> None:
    """The layer's weights from tables laid out slot by slot (``[K, rows]``); ``paired``:
    the tables of the even rows of a layer in negated pairs (each odd row the row before
    it negated)."""
    chain.gathered = None
    width, rows = chain.width, idx.shape[1] * (2 if paired else 1)

    def make():
        if not paired:
            return ell_to_csr(idx, val, width)
        even = canonical(ell_to_csr(idx, val, width))
        full = with_negations(even)
        chain.even = (full, even)  # the layer made from them if nothing else comes first
        return full

    nnz = counted_nonzeros(idx, val) if chain.counting else None
    if nnz is not None and paired:
        nnz *= 2
    # (the values in memory order: no copy of transposed tables to check them)
    step = chain.counted((rows, width), val.ravel(order="K"), make, nnz) \
        if nnz is not None else make()
    chain.then(step, np.zeros(rows), where)


# op -> (handler, fewest inputs, most inputs): the nodes read while a Gather is open
SPARSE = {"Mul": (mul, 2, 2), "ReduceSum": (reduce_sum, 1, 2), "Reshape": (reshape, 2, 2),
          "MatMul": (matmul, 2, 2), "Neg": (neg, 1, 1), "Concat": (concat, 2, 2)}
