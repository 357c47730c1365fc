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
  which is ``depth + 1`` (:attr:`Net.neuron_layers`).
- ``widths``: sizes of the hidden layers; ``width`` their maximum (0 for an affine net).
- ``neurons``: sum of hidden widths (Arora et al.'s "size").
- ``params``: dense count, every weight entry plus every bias entry.
- ``nonzero_params``: nonzero weights plus nonzero biases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from reluc.errors import NetworkError


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Layer:
    """One affine map ``x -> W x + b``; ``W`` is CSR of shape (out, in)."""

    weight: sp.csr_array
    bias: np.ndarray

    def __init__(self, weight, bias):
        w = sp.csr_array(weight, dtype=np.float64, copy=True)
        w.sum_duplicates()
        w.eliminate_zeros()
        w.sort_indices()
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
        # Normalise -0.0 to +0.0 so that equal networks serialise to equal bytes.
        w.data += 0.0
        b += 0.0
        for a in (w.data, w.indices, w.indptr):
            _frozen(a)
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", _frozen(b))

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

    def equals(self, other: Layer) -> bool:
        """Exact equality of shapes, weights and biases."""
        return (
            self.weight.shape == other.weight.shape
            and np.array_equal(self.bias, other.bias)
            and (self.weight != other.weight).nnz == 0
        )


class Net:
    """An immutable ReLU network: a validated tuple of :class:`Layer`."""

    __slots__ = ("_layers",)

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

    # -- structure -------------------------------------------------------------------
    @property
    def layers(self) -> tuple[Layer, ...]:
        return self._layers

    @property
    def n_in(self) -> int:
        return self._layers[0].n_in

    @property
    def n_out(self) -> int:
        return self._layers[-1].n_out

    @property
    def depth(self) -> int:
        """Number of affine layers."""
        return len(self._layers)

    @property
    def hidden_layers(self) -> int:
        return len(self._layers) - 1

    @property
    def neuron_layers(self) -> int:
        """Layers of neurons including input and output: AlgorithmicNeuralNets.jl's depth."""
        return len(self._layers) + 1

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(layer.n_out for layer in self._layers[:-1])

    @property
    def width(self) -> int:
        return max(self.widths, default=0)

    @property
    def neurons(self) -> int:
        return sum(self.widths)

    @property
    def params(self) -> int:
        return sum(layer.n_out * (layer.n_in + 1) for layer in self._layers)

    @property
    def nonzero_params(self) -> int:
        return sum(layer.nnz for layer in self._layers)

    def equals(self, other: Net) -> bool:
        return self.depth == other.depth and all(
            a.equals(b) for a, b in zip(self._layers, other._layers)
        )

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
        last = len(self._layers) - 1
        for i, layer in enumerate(self._layers):
            w = layer.weight.astype(dtype)
            h = np.asarray((w @ h.T).T) + layer.bias.astype(dtype)
            if i < last:
                np.maximum(h, 0, out=h)
        return h[0] if single else h
