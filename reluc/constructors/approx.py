"""Approximations whose error falls exponentially with depth: square, mul.

``square L=``: x^2 on [0, 1] as Yarotsky's f_L(x) = x - sum_{s=1..L} g_s(x) / 4^s, with
g_s the tent map t(u) = 2u - 4 relu(u - 1/2) composed s times. f_L is the piecewise-linear
interpolant of x^2 on the grid k / 2^L, so 0 <= f_L(x) - x^2 <= 2^(-2L-2) (Huybrechs's
folding construction with the interpolating start computes the same function). Layout
of hidden layer s >= 2: ``[relu(u), relu(u - 1/2), relu(z)]`` with ``u = g_{s-1}(x)`` and
``z = f_{s-1}(x)``: both lie in [0, 1], so relu passes them unchanged and each costs one
neuron -- width 3 (the first layer needs only relu(x), relu(x - 1/2)), against the seed
paper's 4.

``mul L=``: x y on [0, 1]^2 by polarisation: x y = ((x + y)/2)^2 - (|x - y|/2)^2 with both
squares by the network above, in parallel; |x - y| is folded into the first layer
(relu(|t|) = relu(t) + relu(-t), relu(|t| - 1/2) = relu(t - 1/2) + relu(-t - 1/2) for
|t| <= 1). Both square errors lie in [0, 2^(-2L-2)], so their difference is within
2^(-2L-2): L hidden layers of width 6, where the seed paper's ``ann_mul`` needs 3L + 2
layers for an error of about 4^-L.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.net import Layer, Net
from reluc.polygons import product_error
from reluc.registry import Box, register
from reluc.spec import Int, Param

_L = Param("L", Int(min=1, max=60), 8, "recursion depth (number of hidden layers)")


def _square_blocks(first: np.ndarray, first_bias: np.ndarray, u0: np.ndarray, z0: np.ndarray,
                   levels: int):
    """Hidden layers of the square recursion after a given first layer.

    ``first`` (k x n_in) / ``first_bias``: the first hidden layer; ``u0``, ``z0``: the
    tent iterate g_1 and the accumulator f_1 as linear forms over it. Returns the layer
    list (input maps) and the output row (f_L as a linear form over the last layer)."""
    weights, biases = [first], [first_bias]
    u, z = u0, z0
    for s in range(2, levels + 1):
        weights.append(np.vstack([u, u, z]))
        biases.append(np.array([0.0, -0.5, 0.0]))
        q = 4.0**-s
        u = np.array([2.0, -4.0, 0.0])
        z = np.array([-2.0 * q, 4.0 * q, 1.0])
    return weights, biases, z


def _square_parts(levels: int, absolute: bool):
    """First layer on t (t in [0, 1]; or |t| for t in [-1, 1]) and the recursion."""
    if absolute:  # relu(t), relu(-t), relu(t - 1/2), relu(-t - 1/2)
        first = np.array([[1.0], [-1.0], [1.0], [-1.0]])
        bias = np.array([0.0, 0.0, -0.5, -0.5])
        u0 = np.array([2.0, 2.0, -4.0, -4.0])
        z0 = np.array([0.5, 0.5, 1.0, 1.0])  # |t| - g_1 / 4
    else:  # relu(t), relu(t - 1/2)
        first = np.array([[1.0], [1.0]])
        bias = np.array([0.0, -0.5])
        u0 = np.array([2.0, -4.0])
        z0 = np.array([0.5, 1.0])
    return _square_blocks(first, bias, u0, z0, levels)


def _net_from_blocks(blocks_list, input_maps, out_signs) -> Net:
    """Run several square recursions in parallel (same depth) on affine input maps and
    combine their outputs with signs: sum_i sign_i f(t_i), t_i = input_maps[i] @ x."""
    depth = len(blocks_list[0][0])
    layers = []
    for k in range(depth):
        if k == 0:
            w = sp.vstack([sp.csr_array(b[0][0] @ m) for b, m in zip(blocks_list, input_maps)])
        else:
            w = sp.block_diag([sp.csr_array(b[0][k]) for b in blocks_list])
        layers.append(Layer(w, np.concatenate([b[1][k] for b in blocks_list])))
    out = np.concatenate([s * b[2] for b, s in zip(blocks_list, out_signs)])
    layers.append(Layer(out.reshape(1, -1), np.zeros(1)))
    return Net(layers)


def _interp_square(L: int, x: Fraction) -> Fraction:
    """The piecewise-linear interpolant of x^2 on the grid k / 2^L (the network's value)."""
    h = Fraction(1, 2**L)
    k = min(int(x / h), 2**L - 1)
    a = k * h
    return a * a + (2 * a + h) * (x - a)


def _square_piece_error(p, t0, t1, slope, intercept):
    """Exact sup |x^2 - (a x + b)| on [t0, t1]: the difference is convex, so the maximum of
    its absolute value is at an end or at the vertex x = a / 2."""
    a, b = slope[0], intercept[0]
    pts = [t0, t1] + ([a / 2] if t0 < a / 2 < t1 else [])
    return [max(abs(x * x - a * x - b) for x in pts)]


@register(
    "square",
    summary="x^2 on [0,1]: Yarotsky's sawtooth construction, error 2^(-2L-2), width 3.",
    params=[_L],
    inputs="1",
    outputs="1",
    domain=lambda p: Box.uniform(1, 0, 1),
    reference=lambda p, x: [x[0] * x[0]],
    exact=False,
    error_bound="2**(-2*L-2)",
    formulas={"hidden_layers": "L", "width": "3 if L > 1 else 2", "neurons": "3*L - 1"},
    example="square L=8",
    sup_error=_square_piece_error,
    notes="The network is the piecewise-linear interpolant of x^2 on the grid k/2^L "
    "(Huybrechs's square with the interpolating start, Yarotsky's f_L).",
)
def square(L: int) -> Net:
    """x^2 on [0, 1] within 2^(-2L-2), L hidden layers of width 3 (the first has 2):
    f_L(x) = x - sum_s g_s(x) / 4^s, the interpolant of x^2 on the grid k / 2^L."""
    blocks = _square_parts(L, absolute=False)
    return _net_from_blocks([blocks], [np.eye(1)], [1.0])


@register(
    "mul",
    summary="x*y on [0,1]^2 by polarisation with two squares, error 2^(-2L-2), width 6.",
    params=[_L],
    inputs="2",
    outputs="1",
    domain=lambda p: Box.uniform(2, 0, 1),
    reference=lambda p, x: [x[0] * x[1]],
    exact=False,
    error_bound="2**(-2*L-2)",
    formulas={"hidden_layers": "L", "width": "6"},
    example="mul L=8",
    plane_error=lambda p, verts, grad, c: product_error(verts, grad, c),
)
def mul(L: int) -> Net:
    """x y = s((x + y)/2) - s(|x - y|/2) with s the square network (error in [0, 2^(-2L-2)]
    each, so the product is within 2^(-2L-2)); L hidden layers of width 6."""
    plus = _square_parts(L, absolute=False)
    minus = _square_parts(L, absolute=True)
    maps = [np.array([[0.5, 0.5]]), np.array([[0.5, -0.5]])]
    return _net_from_blocks([plus, minus], maps, [1.0, -1.0])
