"""Reading ONNX files, a layer at a time (:func:`read_onnx_layers`).

Any single-input, single-output chain of Gemm / MatMul / Add / Sub / Relu (plus
Identity, Flatten, Reshape to [batch, features] and Dropout as no-ops, Mul and Div by
constants folded in), as exported by PyTorch, Keras (tf2onnx) and the VNN-COMP
benchmarks, and reluc's own sparse layout (``Transpose``, per layer a ``Gather`` and each
row's gathered features weighed by its values and summed, ``-> Add`` unless the bias is
zero, ``Transpose``;
read by :mod:`.onnxsparse`).

The chain is folded node by node into a pending affine map ``(W, b)`` that a ``Relu``
turns into a layer. Each operator is a small handler in :data:`HANDLERS`, registered with
the number of inputs ONNX gives it; a handler refuses what it cannot read with a
one-line :class:`NetworkFileError`. Reading a new pattern is one more handler.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from reluc.errors import NetworkError, NetworkFileError, UnreadableGraph
from reluc.formats import onnxsparse
from reluc.formats.ell import BLOCK, blocks_of, csr_of_nonzeros, nonzero_count, nonzeros
from reluc.formats.metadata import FileInfo
from reluc.formats.onnxproto import TensorProto, attribute_value, to_array
from reluc.formats.onnxwire import LazyTensor, scan_model
from reluc.net import Layer, Sizes

# scipy.sparse is imported where a matrix is made (reluc.net's note)
if TYPE_CHECKING:
    import scipy.sparse as sp


def read_onnx_layers(source: str | bytes, counting: bool = False
                     ) -> tuple[Iterator[Layer] | Iterator[Sizes], FileInfo]:
    """The file's metadata, and its layers one at a time (an initializer's data is read
    when its layer is reached), so that a pass over a network needs a few layers of
    memory. The iterator raises :class:`NetworkFileError` for a damaged network.
    ``counting``: the layers as :class:`Sizes`, counted from the tables where no matrix
    is needed for that (reluc's sparse layout, a Gemm or MatMul on its own)."""
    if isinstance(source, bytes):
        f, base = io.BytesIO(source), None
    else:
        try:
            f, base = open(source, "rb"), os.path.dirname(os.path.abspath(source))
        except FileNotFoundError:
            raise NetworkFileError(f"no such file: {source}") from None
    try:
        model, consts = scan_model(f, base)
        graph = model.graph
        inputs = [i for i in graph.input if i.name not in consts]
        if len(inputs) != 1 or len(graph.output) != 1:
            names = ", ".join(i.name for i in inputs[:4]) + (", ..." if len(inputs) > 4 else "")
            raise NetworkFileError(
                f"the graph has {len(inputs)} input{'s' if len(inputs) != 1 else ''} "
                f"({names}) and {len(graph.output)} output"
                f"{'s' if len(graph.output) != 1 else ''}; reluc reads networks of one input "
                "and one output")
        elem = inputs[0].type.tensor_type.elem_type
        dtype = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}.get(elem)
        if dtype is None:
            raise NetworkFileError("the input must be float32 or float64")
    except BaseException:
        f.close()
        raise
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    # the features: every dimension after the batch ([batch, n], [1, 1, 1, n], [1, n, 1])
    width = int(np.prod(dims[1:])) if len(dims) > 1 and min(dims[1:]) > 0 else \
        dims[-1] if len(dims) == 1 and dims[0] > 0 else None
    props = {p.key: p.value for p in model.metadata_props}

    def layers() -> Iterator[Layer | Sizes]:
        with f:
            try:
                yield from _walk(graph, _Chain(consts, inputs[0].name, width, counting))
            except NetworkError as e:
                raise NetworkFileError(f"inconsistent network: {e}") from None

    return layers(), FileInfo.from_props(props, dtype=dtype)


class _Chain:
    """The state of a walk along the chain: the current activation's name and width, the
    affine map pending since the last ReLU, a sparse-layout Gather in progress, and
    whether the activations are held transposed, (width, batch)."""

    def __init__(self, consts: dict, x_name: str, width: int | None, counting: bool = False):
        self.consts, self.cur, self.width = consts, x_name, width
        self.counting = counting
        self.w: sp.csr_array | Counted | None = None
        self.b: np.ndarray | None = None
        self.gathered: onnxsparse.Gathered | None = None  # a sparse layer being read
        self.even: tuple | None = None  # a layer's weights in negated pairs, its even rows
        self.transposed = False
        self.prev_out: int | None = None  # outputs of the last layer yielded

    def array(self, name: str, node, native: bool = False) -> np.ndarray:
        """A constant input of ``node`` as float64 (``native``: in the tensor's own
        dtype, for a large matrix to be made sparse before it is widened)."""
        if name not in self.consts:
            raise NetworkFileError(
                f"node '{node.name or node.op_type}': '{name}' is not a constant; reluc reads "
                "networks whose weights are initializers or Constant nodes")
        t = self.consts[name]
        try:
            a = t.array() if isinstance(t, LazyTensor) else t
        except NetworkFileError:
            raise
        except Exception as e:
            raise NetworkFileError(f"cannot read tensor '{name}': {e}") from None
        return np.asarray(a) if native else np.asarray(a, dtype=np.float64)

    def nonzeros(self, name: str, node) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
        """A constant input's shape and its nonzeros' places and values (in its own
        dtype), found a block at a time: a large initializer's data is read in blocks
        into one buffer, never whole."""
        t = self.consts.get(name)
        if not isinstance(t, LazyTensor):
            a = self.array(name, node, native=True)
            return a.shape, *nonzeros(blocks_of(a))
        try:
            return t.shape, *nonzeros(t.blocks(BLOCK))
        except NetworkFileError:
            raise
        except Exception as e:
            raise NetworkFileError(f"cannot read tensor '{name}': {e}") from None

    def pending(self) -> tuple[sp.csr_array, np.ndarray]:
        """The pending affine map; the identity when there is none."""
        if self.w is None:
            if self.width is None:
                raise NetworkFileError("cannot infer the input width before the first layer")
            import scipy.sparse as sp
            self.w, self.b = sp.identity(self.width, format="csr"), np.zeros(self.width)
        return self.w, self.b

    def then(self, step: sp.csr_array, bias: np.ndarray, where: str) -> None:
        """Compose the affine map ``x -> step x + bias`` after the pending one."""
        if self.w is None:
            self.w, self.b = step, bias
        else:
            if step.shape[1] != self.w.shape[0]:
                raise NetworkFileError(f"{where}: shape mismatch")
            import scipy.sparse as sp
            step, w = (m.make() if isinstance(m, Counted) else m for m in (step, self.w))
            self.w, self.b = sp.csr_array(step @ w), step @ self.b + bias
        self.width = self.w.shape[0]

    def counted(self, shape: tuple[int, int], values: np.ndarray, make,
                nnz: int | None = None) -> sp.csr_array | Counted:
        """The weights of a step that comes first in its layer, counted when the chain is
        counting and ``values`` (its nonzeros, if ``make``'s matrix has no others; ``nnz``
        of them, when known) are finite (the sum of their squares is, in half the time
        of their sum: no array the size of a dense matrix is made to say so; a sum that
        overflows takes the longer way); else the matrix itself."""
        if not self.counting or self.w is not None:
            return make()
        if not np.isfinite(np.vdot(values, values)):  # (a product warns of no overflow)
            return make()
        return Counted(shape, nonzero_count(values) if nnz is None else nnz, make)

    def layer(self) -> Layer | Sizes:
        """The pending map as a layer (the identity when there is none); as
        :class:`Sizes` when the chain is counting."""
        w, b = self.pending()
        if isinstance(w, Counted) and not np.all(np.isfinite(b)):
            w = w.make()  # the layer refuses it
        if isinstance(w, Counted):
            layer = Sizes(w.shape[1], w.shape[0], w.nnz, nonzero_count(b))
        else:  # the walk's own fresh arrays; rows in negated pairs as read, with their even ones
            even = self.even[1] if self.even is not None and self.even[0] is w else None
            layer = Layer(w, b, owned=True, even_rows=even)
            layer = Sizes.of(layer) if self.counting else layer
        if self.prev_out is not None and layer.n_in != self.prev_out:
            raise NetworkFileError(f"a layer takes {layer.n_in} inputs but the previous "
                                   f"one produces {self.prev_out}")
        self.prev_out = layer.n_out
        self.w = self.b = self.even = None
        return layer


class Counted:
    """Weights known by their shape and number of nonzeros, with a way to make the matrix
    should the chain need to compose them with another step."""

    def __init__(self, shape: tuple[int, int], nnz: int, make: Callable[[], sp.csr_array]):
        self.shape, self.nnz, self.make = shape, nnz, make


Handler = Callable[[_Chain, object, dict, str], "Layer | None"]
# op -> (handler, fewest inputs, most inputs), the inputs as ONNX defines them
HANDLERS: dict[str, tuple[Handler, int, int]] = {}


def handles(*ops: str, inputs: tuple[int, int] = (1, 1)):
    """Register a handler ``(chain, node, attributes, where) -> Layer or None``."""
    def deco(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = (fn, *inputs)
        return fn
    return deco


def _broadcast(c: np.ndarray, n: int, where: str, transposed: bool) -> np.ndarray:
    """A constant added to (or scaling) the activations as a vector of length ``n``: one
    value, or ``n`` values along the features' axis as ONNX broadcasting lays them on
    the activations: the last axis of [batch, n] ((n,), (1, n)), the first of the
    transposed [n, batch] ((n, 1)); along another axis they would be one value a row."""
    lead = c.shape[:-2] if transposed else c.shape[:-1]
    along = c.shape[-2:] == (n, 1) if transposed else c.shape[-1:] == (n,)
    if c.size != 1 and not (along and all(d == 1 for d in lead)):
        acts = "[n, batch]" if transposed else "[batch, n]"
        raise NetworkFileError(f"{where}: a bias or scale of shape {c.shape} for {n} values "
                               f"(activations of shape {acts})")
    return np.broadcast_to(c.reshape(-1), (n,)).copy()


@handles("Relu")
def _relu(chain, node, attrs, where):
    return chain.layer()


@handles("Identity")
@handles("Dropout", inputs=(1, 3))
def _no_op(chain, node, attrs, where):
    return None


@handles("Flatten")
def _flatten(chain, node, attrs, where):
    if attrs.get("axis", 1) != 1:  # only the no-op of a [batch, features] input
        raise _unsupported(node)


@handles("Reshape", inputs=(2, 2))
def _reshape(chain, node, attrs, where):
    """A Reshape to [batch, features] (how exporters flatten an image or a [1, n, 1]
    input): -1, 0 or 1 for the batch, -1 or the width for the features."""
    shape = chain.array(node.input[1], node)
    if shape.ndim != 1 or len(shape) != 2 or shape[0] not in (-1, 0, 1) or \
            shape[1] not in (-1, chain.width):
        raise UnreadableGraph(f"{where}: a Reshape to {shape.astype(int).tolist()}; reluc "
                               "reads a Reshape only to [batch, features]")


@handles("Div", inputs=(2, 2))
def _div(chain, node, attrs, where):
    """Division by a constant (input normalisation), folded in as a diagonal scaling."""
    if node.input[0] != chain.cur:
        raise NetworkFileError(f"{where}: Div must divide the activations by a constant")
    c = _broadcast(chain.array(node.input[1], node), chain.pending()[0].shape[0], where,
                   chain.transposed)
    if not np.all(np.isfinite(1.0 / c)):
        raise NetworkFileError(f"{where}: division by 0")
    import scipy.sparse as sp
    chain.then(sp.diags_array(1.0 / c, format="csr"), np.zeros(len(c)), where)


@handles("Transpose")
def _transpose(chain, node, attrs, where):
    if list(attrs.get("perm", [1, 0])) != [1, 0]:
        raise NetworkFileError("only 2-D transposes (perm 1,0) are supported")
    chain.transposed = not chain.transposed


@handles("Gemm", inputs=(2, 3))
@handles("MatMul", inputs=(2, 2))
def _matmul(chain, node, attrs, where):
    op = node.op_type
    trans_a = op == "Gemm" and attrs.get("transA", 0)
    if chain.transposed != bool(trans_a):  # transA undoes a Transpose of the activations
        raise NetworkFileError(f"{where}: {op} on transposed activations" if chain.transposed
                               else f"{op} must take the activations as its first input "
                               "(transA only after a Transpose)")
    if node.input[0] != chain.cur:
        raise NetworkFileError(f"{op} must take the activations as its first input")
    chain.transposed = False
    dims, places, values = chain.nonzeros(node.input[1], node)
    if len(dims) != 2:
        raise NetworkFileError(f"{where}: weights must be a matrix, got shape {dims}")
    trans_b = op == "Gemm" and attrs.get("transB", 0)
    alpha = float(attrs.get("alpha", 1.0)) if op == "Gemm" else 1.0

    def make() -> sp.csr_array:
        lin = csr_of_nonzeros(dims, places, values, transpose=not trans_b)
        lin.data *= alpha
        return lin

    shape = dims[::-1] if not trans_b else dims
    bias = np.zeros(shape[0])
    if op == "Gemm" and len(node.input) > 2 and node.input[2]:
        c = chain.array(node.input[2], node) * float(attrs.get("beta", 1.0))
        bias = _broadcast(c, shape[0], where, chain.transposed)
    # a dense matrix's nonzeros are its nonzero entries (scaled by 1: no underflow)
    chain.then(chain.counted(shape, values, make) if alpha == 1 else make(), bias, where)


@handles("Add", "Sub", inputs=(2, 2))
def _add(chain, node, attrs, where):
    op = node.op_type
    others = [i for i in node.input if i != chain.cur]
    if len(others) != 1:
        raise NetworkFileError(f"{where}: {op} must combine the activations with one "
                               "constant")
    if op == "Sub" and node.input[0] != chain.cur:
        raise NetworkFileError("Sub must subtract a constant from the activations")
    _, b = chain.pending()
    c = _broadcast(chain.array(others[0], node), b.shape[0], where, chain.transposed)
    chain.b = (np.subtract if op == "Sub" else np.add)(b, c, out=c)  # c: _broadcast's copy


@handles("Mul", inputs=(2, 2))
def _mul(chain, node, attrs, where):
    """A scaling by a constant (input normalisation); a sparse layer's values are read by
    :func:`.onnxsparse.mul`."""
    c = chain.array(next(i for i in node.input if i != chain.cur), node)
    c = _broadcast(c, chain.pending()[0].shape[0], where, chain.transposed)
    import scipy.sparse as sp
    chain.then(sp.diags_array(c, format="csr"), np.zeros(len(c)), where)


# reluc's sparse layout (Gather, then a MatMul a row, or Mul and the sum over the slots):
# :mod:`.onnxsparse`
handles("Gather", inputs=(2, 2))(onnxsparse.gather)


def _unsupported(node) -> UnreadableGraph:
    return UnreadableGraph(
        f"unsupported ONNX operator '{node.op_type}' (node '{node.name or node.op_type}'); "
        "reluc reads ReLU MLPs built from Gemm, MatMul, Add, Sub and Relu (with constant "
        "Mul, Div, Flatten, Reshape; and its own sparse layout, Gather then MatMul or Mul)")


def _walk(graph, chain: _Chain) -> Iterator[Layer | Sizes]:
    """Fold the chain into layers, yielding each as its ReLU is reached."""
    for node in graph.node:
        op = node.op_type
        where = f"node '{node.name or op}'"
        if op == "Constant":
            attr = {a.name: a for a in node.attribute}
            if "value" not in attr:
                raise NetworkFileError("only dense Constant nodes are supported")
            chain.consts[node.output[0]] = to_array(attr["value"].t)
            continue
        want = [chain.cur] if chain.gathered is None else onnxsparse.inputs(chain, op)
        takes = [i for i in node.input if i and i not in chain.consts]
        if takes != want:
            if chain.gathered is not None:  # a sparse layer, damaged
                raise NetworkFileError(f"{where} ({op}) takes {', '.join(takes) or 'no input'}"
                                       f" where reluc's sparse layout has {', '.join(want)}")
            raise UnreadableGraph(
                f"{where} ({op}) does not continue a single chain from the input; reluc "
                "reads feed-forward chains of Gemm/MatMul/Add/Relu")
        table = HANDLERS if chain.gathered is None else onnxsparse.SPARSE
        if op not in table:
            if chain.gathered is not None:
                raise NetworkFileError(f"{where}: {op} inside a Gather's layer "
                                       f"({onnxsparse.PATTERN})")
            raise _unsupported(node)
        handler, lo, hi = table[op]
        if not lo <= len(node.input) <= hi or not node.output:
            raise NetworkFileError(f"{where}: {op} with {len(node.input)} "
                                   f"input{'s' if len(node.input) != 1 else ''} and "
                                   f"{len(node.output)} outputs")
        attrs = {a.name: attribute_value(a) for a in node.attribute}
        layer = handler(chain, node, attrs, where)
        if layer is not None:
            yield layer
        chain.cur = node.output[0]
    if chain.cur != graph.output[0].name:
        raise NetworkFileError("the graph output is not the end of the chain")
    if chain.transposed or chain.gathered is not None:
        raise NetworkFileError("the chain ends with transposed or half-reduced activations")
    yield chain.layer()
