"""The network IR: an immutable chain of affine layers with ReLU between them.

A :class:`Net` with layers ``(W_1, b_1), ..., (W_m, b_m)`` computes::

    y = W_m relu( ... relu(W_2 relu(W_1 x + b_1) + b_2) ... ) + b_m

ReLU follows every layer but the last. Weights are ``scipy.sparse.csr_array`` of shape
``(out, in)`` (the ``torch.nn.Linear`` / ONNX ``Gemm(transB=1)`` layout), biases dense
``(out,)`` vectors, both float64. Exact constructors use only exactly representable
values (integers, dyadic rationals), so the float64 weights *are* the exact weights and
:mod:`reluc.exact` can evaluate them in rational arithmetic.

Counting conventions (used by ``reluc stats`` and everywhere else):

- ``depth``: number of affine layers ``m``; ``hidden_layers = m - 1``.
  AlgorithmicNeuralNets.jl counts layers of neurons including input and output,
  which is ``depth + 1`` (``neuron_layers`` in ``reluc stats``).
- ``widths``: sizes of the hidden layers; ``width`` their maximum (0 for an affine net).
- ``neurons``: sum of hidden widths (Arora et al.'s "size").
- ``params``: dense count, every weight entry plus every bias entry.
- ``nonzero_params``: nonzero weights plus nonzero biases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reluc.errors import NetworkError

# scipy.sparse is imported where a matrix is made: reluc stats reads reluc's ONNX files
# without making one and starts 0.1 s sooner without scipy (tests/test_cli.py)
if TYPE_CHECKING:
    import scipy.sparse as sp


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Layer:
    """One affine map ``x -> W x + b``; ``W`` is CSR of shape (out, in)."""

    weight: sp.csr_array
    bias: np.ndarray
    even_rows: sp.csr_array | None  # rows in negated pairs: the even ones (from_pairs)

    def __init__(self, weight, bias, owned: bool = False, even_rows=None):
        from reluc.pairs import canonical
        # owned: the caller hands over a fresh matrix nobody else holds (no defensive copy);
        # -0.0 made +0.0 so that equal networks serialise to equal bytes: a weight of -0.0 goes
        # with the zeros (canonical), a bias of -0.0 below
        w = canonical(weight, copy=not owned)
        b = np.array(bias, dtype=np.float64)
        if b.ndim != 1:
            raise NetworkError(f"bias must be a vector, got {b.ndim} dimensions")
        if w.ndim != 2:
            raise NetworkError(f"weight must be a matrix, got {w.ndim} dimensions")
        if b.shape[0] != w.shape[0]:
            raise NetworkError(
                f"bias has length {b.shape[0]} but the weight matrix has {w.shape[0]} rows"
            )
        if not (np.all(np.isfinite(w.data)) and np.all(np.isfinite(b))):
            raise NetworkError("weights and biases must be finite")
        b += 0.0
        for a in (w.data, w.indices, w.indptr):
            _frozen(a)
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", _frozen(b))
        object.__setattr__(self, "even_rows", even_rows)

    @classmethod
    def from_pairs(cls, even, bias) -> Layer:
        """Row ``2k`` is ``even``'s row ``k``, row ``2k + 1`` its negation; ``even`` kept as
        :attr:`even_rows`, for products made once a pair (:mod:`reluc.pairs`)."""
        from reluc.pairs import canonical, with_negations
        even = canonical(even)
        return cls(with_negations(even), bias, owned=True, even_rows=even)

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    @property
    def nnz(self) -> int:
        """Nonzero weights plus nonzero biases."""
        return int(self.weight.nnz) + int(np.count_nonzero(self.bias))

    @property
    def negated_pairs(self) -> bool:
        """Whether row ``2k + 1`` is ``-(row 2k)`` for every ``k`` (:mod:`reluc.pairs`)."""
        from reluc.pairs import in_negated_pairs
        return self.even_rows is not None or in_negated_pairs(self.weight)

    def equals(self, other: Layer) -> bool:
        """Exact equality of shapes, weights and biases."""
        return (self.weight.shape == other.weight.shape and np.array_equal(self.bias, other.bias)
                and (self.weight != other.weight).nnz == 0)


@dataclass(frozen=True)
class Sizes:
    """A layer known by its sizes alone (what ``reluc stats`` reads of a file)."""

    n_in: int
    n_out: int
    nonzero_weights: int
    nonzero_biases: int

    @staticmethod
    def of(layer: Layer) -> Sizes:
        return Sizes(layer.n_in, layer.n_out, int(layer.weight.nnz),
                     int(np.count_nonzero(layer.bias)))


class Shape:
    """The counts that follow from ``n_in`` and the output size of every layer
    (``widths_out``), shared by :class:`Net` and :class:`LayerStream`, and by a shape
    read off a file (``Shape.of(n_in, widths_out)``, as ``reluc stats`` does)."""

    __slots__ = ()
    n_in: int
    widths_out: tuple[int, ...]

    @staticmethod
    def of(n_in: int, widths_out) -> Shape:
        return _Plain(int(n_in), tuple(int(w) for w in widths_out))

    @property
    def n_out(self) -> int:
        return self.widths_out[-1]

    @property
    def depth(self) -> int:
        """Number of affine layers."""
        return len(self.widths_out)

    @property
    def hidden_layers(self) -> int:
        return self.depth - 1

    @property
    def widths(self) -> tuple[int, ...]:
        return self.widths_out[:-1]

    @property
    def width(self) -> int:
        return max(self.widths, default=0)

    @property
    def neurons(self) -> int:
        return sum(self.widths)

    @property
    def params(self) -> int:
        """Dense count: every weight entry plus every bias entry."""
        ins = (self.n_in,) + self.widths_out[:-1]
        return sum(o * (i + 1) for i, o in zip(ins, self.widths_out))

    def zero_biases(self) -> tuple[bool, ...]:
        """Per layer, whether its bias is known to be zero before its layers are made (a
        writer lays out the graph before the layers: reluc's sparse layout leaves out
        the addition of a zero bias); False where it is not known."""
        return (False,) * self.depth

    def negated_pairs(self) -> tuple[bool, ...]:
        """Per layer, whether its rows are known to be in negated pairs before its layers
        are made (:attr:`Layer.negated_pairs`); False where it is not known."""
        return (False,) * self.depth


class Net(Shape):
    """An immutable ReLU network: a validated tuple of :class:`Layer`."""

    __slots__ = ("_layers", "_widths_out")

    def __init__(self, layers: Iterable[Layer]):
        layers = tuple(layers)
        if not layers:
            raise NetworkError("a network needs at least one affine layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise NetworkError(f"layer {i} is not a Layer")
            if layer.n_out == 0 or layer.n_in == 0:
                raise NetworkError(f"layer {i} has an empty dimension {layer.weight.shape}")
        for i in range(1, len(layers)):
            if layers[i].n_in != layers[i - 1].n_out:
                raise NetworkError(
                    f"layer {i} takes {layers[i].n_in} inputs but layer {i - 1} "
                    f"produces {layers[i - 1].n_out}"
                )
        self._layers = layers
        self._widths_out = tuple(layer.n_out for layer in layers)  # asked for per layer

    # -- structure -------------------------------------------------------------------
    @property
    def layers(self) -> tuple[Layer, ...]:
        return self._layers

    def iter_layers(self, ahead: int = 0) -> Iterator[Layer]:
        """The layers in order (what writers consume; see :class:`LayerStream`)."""
        return iter(self._layers)

    def zero_biases(self) -> tuple[bool, ...]:
        return tuple(not layer.bias.any() for layer in self._layers)

    def negated_pairs(self) -> tuple[bool, ...]:
        return tuple(layer.negated_pairs for layer in self._layers)

    def materialise(self) -> Net:
        return self

    @property
    def n_in(self) -> int:
        return self._layers[0].n_in

    @property
    def widths_out(self) -> tuple[int, ...]:
        """Output size of every layer (the hidden widths, then ``n_out``)."""
        return self._widths_out

    @property
    def nonzero_params(self) -> int:
        return sum(layer.nnz for layer in self._layers)

    def equals(self, other: Net | LayerStream) -> bool:
        return same_layers(self, other)

    def __repr__(self) -> str:
        return (
            f"Net({self.n_in} -> {self.n_out}, depth={self.depth}, widths={list(self.widths)}, "
            f"nnz={self.nonzero_params})"
        )

    # -- floating-point semantics -------------------------------------------------------
    def evaluate(self, x: np.ndarray | Sequence, dtype=np.float64) -> np.ndarray:
        """Evaluate on a batch ``x`` of shape (batch, n_in) (or one row) in ``dtype``.

        Weights are cast to ``dtype`` first, so this is what a file of that dtype computes
        (up to summation order). Use :func:`reluc.exact.evaluate` for exact arithmetic.
        """
        x = np.asarray(x, dtype=dtype)
        single = x.ndim == 1
        h = np.atleast_2d(x)
        if h.shape[1] != self.n_in:
            raise NetworkError(f"expected inputs of length {self.n_in}, got {h.shape[1]}")
        h = forward(((layer.weight.astype(dtype), layer.bias.astype(dtype))
                     for layer in self._layers), h)  # one layer cast at a time
        return h[0] if single else h


def forward(layers: Iterable[tuple[sp.csr_array, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """Rows ``x`` through affine maps ``(W, b)`` with ReLU between them (not after the
    last), in the arrays' own dtype: one sparse product a layer, the bias added after it."""
    h = np.ascontiguousarray(x.T)  # (features, rows): products without transposes
    for i, (w, b) in enumerate(layers):
        if i:
            np.maximum(h, 0, out=h)
        h = w @ h
        h += b[:, None]
    return np.ascontiguousarray(h.T)


class LayerStream(Shape):
    """A network whose layers are produced on demand, one at a time, so that a writer can
    write each layer as it comes and hold only a few layers in memory.

    ``make()`` returns a fresh iterator of :class:`Layer` (a stream can be read more than
    once); the shape is declared up front (``n_in`` and the output size of every layer,
    ``widths_out``) and checked as the layers come. ``values``: every distinct number
    the weights and biases take, *exactly* (ints, Fractions, or floats that are the
    value), if the constructor knows them: the compiler decides from them whether the
    layers are exact in the file's dtype without generating them, so a value declared
    already rounded would hide the rounding.
    ``zero_bias``: per layer, True where the constructor knows the bias to be zero;
    ``pairs``: where it knows the rows to be in negated pairs; the biases are checked as
    the layers come, the pairs by the writer on the tables it makes (not a pass here).
    Counts that need the weights (``nonzero_params``) are only known after a pass:
    call :meth:`materialise` for a :class:`Net`, or count while writing.
    """

    __slots__ = ("n_in", "widths_out", "_make", "values", "_zero_bias", "_pairs")

    def __init__(self, n_in: int, widths_out: Sequence[int],
                 make: Callable[[], Iterator[Layer]], values: Sequence[float] | None = None,
                 zero_bias: Sequence[bool] | None = None, pairs: Sequence[bool] | None = None):
        if not widths_out or n_in < 1 or min(widths_out) < 1:
            raise NetworkError("a layer stream needs at least one layer and no empty dimension")
        self.n_in, self.widths_out = int(n_in), tuple(int(w) for w in widths_out)
        self._make, self.values = make, None if values is None else tuple(values)
        self._zero_bias, self._pairs = (
            (False,) * self.depth if f is None else tuple(bool(z) for z in f)
            for f in (zero_bias, pairs))
        if {len(self._zero_bias), len(self._pairs)} != {self.depth}:
            raise NetworkError(f"a stream of {self.depth} layers declares {len(self._zero_bias)}"
                               f" biases and {len(self._pairs)} row pairings")

    def zero_biases(self) -> tuple[bool, ...]:
        return self._zero_bias

    def negated_pairs(self) -> tuple[bool, ...]:
        return self._pairs

    def iter_layers(self, ahead: int = 0) -> Iterator[Layer]:
        """The layers, checked against the declared shape. ``ahead > 0``: a worker thread
        makes up to that many layers ahead of the consumer (a writer writing one layer
        while the next is made; numpy and file writes release the GIL)."""
        n_in, count = self.n_in, 0
        for layer in (prefetch(self._make(), ahead) if ahead > 0 else self._make()):
            if count >= self.depth or layer.weight.shape != (self.widths_out[count], n_in):
                want = self.widths_out[count] if count < self.depth else None
                raise NetworkError(  # a bug in a constructor, never a user error
                    f"layer {count} of a stream has shape {layer.weight.shape}, declared "
                    f"({want}, {n_in})")
            if self._zero_bias[count] and layer.bias.any():
                raise NetworkError(f"layer {count} of a stream has a bias, declared zero")
            n_in, count = layer.n_out, count + 1
            yield layer
        if count != self.depth:
            raise NetworkError(f"a stream declared {self.depth} layers and produced {count}")

    def materialise(self) -> Net:
        return Net(self.iter_layers())

    def equals(self, other: Net | LayerStream) -> bool:
        return same_layers(self, other)

    def __repr__(self) -> str:
        return f"LayerStream({self.n_in} -> {self.n_out}, depth={self.depth})"


def same_layers(a: Net | LayerStream, b: Net | LayerStream) -> bool:
    """Exact equality of two networks, a layer at a time (streams are not held)."""
    return a.depth == b.depth and a.n_in == b.n_in and all(
        x.equals(y) for x, y in zip(a.iter_layers(), b.iter_layers()))


def prefetch(items: Iterator, n: int) -> Iterator:
    """``items``, produced by a worker thread at most ``n`` items ahead; the worker's
    exceptions are raised in the consumer, and a consumer that stops early stops it."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=n)
    stop = threading.Event()
    done = object()

    def offer(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((done, None))
        except BaseException as e:  # handed to the consumer
            offer((done, e))

    worker = threading.Thread(target=work, name="reluc-layers", daemon=True)
    worker.start()
    try:
        while True:
            item, error = q.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join()


class _Plain(Shape):
    """A shape and nothing else."""

    __slots__ = ("n_in", "widths_out")

    def __init__(self, n_in: int, widths_out: tuple[int, ...]):
        self.n_in, self.widths_out = n_in, widths_out
