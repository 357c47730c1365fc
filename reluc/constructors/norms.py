"""Euclidean norms by folding the plane across lines (Huybrechs's ``disk.jl``): norm2,
norm, disk.

A point (x, y) is first moved to the first quadrant, (|x|, |y|) (the folds across the
lines at angles pi and pi/2), and then folded across the lines through the origin at
angles phi_i = pi / 2^i, i = 2..levels: with d = -sin(phi) X + cos(phi) Y (positive above
the line), the fold is (X, Y) <- (X, Y) + 2 relu(d) (sin phi, -cos phi), a reflection
applied only when the point is above the line. Each fold halves the angle range, so at
the end the angle theta lies in [0, delta], delta = pi / 2^levels, and X = r cos theta
is within the factor cos(delta) below r = ||(x, y)||: a one-sided (under-)estimate with
relative error at most 1 - cos(delta) ~ (pi^2 / 2) 4^-levels.

Layout: since X, Y >= 0 after the first layer, each is carried by a single neuron
(relu(X) = X) and a fold costs one hidden layer of 3 neurons [X, Y, relu(d)] (Y is dropped in the last); the
first layer holds relu(+-x), relu(+-y): 3 levels neurons in all. The Julia code carries every coordinate with two
neurons and spends a layer per fold and per read-out (width 6, depth levels + 3).

``norm n= levels=`` for n = 2^j combines 2-D norms in a balanced tree: the inputs of an
inner level are non-negative already, so its folds start at pi/4 and it adds levels - 1
hidden layers; the under-estimates multiply, relative error at most 1 - cos(delta)^j.
``disk levels= radius=`` is relu(radius - norm2), the cone-shaped bump that is positive
inside the disk (not a 0/1 indicator: ReLU networks are continuous).
The fold constants sin, cos are rounded to float64; the declared bounds add 2^-40.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.net import Layer, Net
from reluc.polygons import disk_error, norm_error
from reluc.registry import Box, register
from reluc.spec import Int, Number, Param


def _blocks(pattern, count: int) -> sp.csr_array:
    """``count`` copies of the small matrix ``pattern`` on the diagonal."""
    return sp.csr_array(sp.kron(sp.eye_array(count, format="csr"),
                                sp.csr_array(np.array(pattern, dtype=np.float64))))


def _fold_tree(n: int, levels: int) -> tuple[list[Layer], sp.csr_array]:
    """Norms of consecutive pairs, level by level, until one is left: the hidden layers
    and the final form over the last of them (a 1 x width matrix). The forms of the
    pairs' X and Y are the rows of a sparse matrix ``A`` over the current layer (a pair's
    X above its Y); a layer's weights are a block-diagonal map of ``A``, so a layer costs
    its nonzeros (the sums come in the order a form-by-form build would add them, so
    the weights are the same to the bit)."""
    layers: list[Layer] = []
    forms = sp.eye_array(n, format="csr")  # the inputs, paired (x, y), (x, y), ...

    def layer(w: sp.csr_array) -> None:
        layers.append(Layer(w, np.zeros(w.shape[0]), owned=True))

    first = True
    while forms.shape[0] > 1:
        pairs = forms.shape[0] // 2
        if first:  # (|x|, |y|): the folds across angles pi and pi/2
            layer(_blocks([[1, 0], [-1, 0], [0, 1], [0, -1]], pairs) @ forms)
            forms = _blocks([[1, 1, 0, 0], [0, 0, 1, 1]], pairs)
        for i in range(2, levels + 1):
            phi = math.pi / 2**i
            s, c = math.sin(phi), math.cos(phi)
            layer(_blocks([[1, 0], [0, 1], [-s, c]], pairs) @ forms)
            forms = _blocks([[1, 0, 2 * s], [0, 1, -2 * c]], pairs)
        forms = _blocks([[1, 0]], pairs) @ forms  # the X of each pair
        first = False
    return layers, forms


def norm_net(n: int, levels: int) -> Net:
    layers, out = _fold_tree(n, levels)
    return Net(layers + [Layer(out, [0.0], owned=True)])


_LEVELS = Param("levels", Int(min=2, max=40), 8,
                "fold lines at angles pi/2^i, i <= levels: relative error 1 - cos(pi/2^levels)")


def _euclid(x) -> float:
    return math.sqrt(sum(float(v) ** 2 for v in x))


@register(
    "norm2",
    summary="Euclidean norm of (x, y) by folding across lines, levels hidden layers, width 4.",
    params=[_LEVELS],
    inputs="2",
    outputs="1",
    domain=lambda p: Box.uniform(2, -1, 1),
    reference=lambda p, x: [_euclid(x)],
    exact=False,
    error_bound="sqrt(2)*(1 - cos(pi/2**levels)) + 2**-40",
    formulas={"hidden_layers": "levels", "width": "4", "neurons": "3*levels"},
    example="norm2 levels=8",
    plane_error=lambda p, verts, grad, c: norm_error(verts, grad, c),
    notes="An under-estimate: r cos(pi/2^levels) <= output <= r. The function is positively "
    "homogeneous, so on [-a, a]^2 the bound scales by a.",
)
def norm2(levels: int) -> Net:
    """(|x|, |y|), then levels - 1 folds of 3 neurons; the output is X."""
    return norm_net(2, levels)


def _power_of_two(p):
    n = p["n"]
    if n & (n - 1):
        raise ValueError(f"n must be a power of two (2, 4, 8, ...), got {n}")


@register(
    "norm",
    summary="Euclidean norm of n = 2^j inputs as a tree of 2-D folding norms.",
    params=[Param("n", Int(min=2, max=1 << 16), 4, "number of inputs, a power of two"),
            _LEVELS],
    inputs="n",
    outputs="1",
    domain=lambda p: Box.uniform(p["n"], -1, 1),
    reference=lambda p, x: [_euclid(x)],
    exact=False,
    error_bound="sqrt(n)*(1 - cos(pi/2**levels)**log2(n)) + 2**-40",
    formulas={"hidden_layers": "levels + (clog2(n) - 1)*(levels - 1)", "width": "2*n"},
    check=_power_of_two,
    example="norm n=4 levels=6",
    plane_error=lambda p, verts, grad, c: norm_error(verts, grad, c),
    norm_tree=True,
    notes="||(a, b, c, d)|| = norm2(norm2(a, b), norm2(c, d)), the levels sharing hidden "
    "layers; an under-estimate by at most the factor cos(pi/2^levels)^log2(n).",
)
def norm(n: int, levels: int) -> Net:
    return norm_net(n, levels)


@register(
    "disk",
    summary="relu(radius - ||(x, y)||): a cone-shaped bump, positive exactly inside the disk.",
    params=[_LEVELS, Param("radius", Number(min=Fraction(1, 2**30), max=2**30), 1,
                           "radius of the disk")],
    inputs="2",
    outputs="1",
    domain=lambda p: Box.uniform(2, -2 * p["radius"], 2 * p["radius"]),
    reference=lambda p, x: [max(0.0, float(p["radius"]) - _euclid(x))],
    exact=False,
    error_bound="radius*(1 - cos(pi/2**levels))/cos(pi/2**levels) + 2**-40",
    formulas={"hidden_layers": "levels + 1", "width": "4"},
    example="disk levels=8 radius=1",
    plane_error=lambda p, verts, grad, c: disk_error(verts, grad, c, Fraction(p["radius"])),
    notes="The norm is under-estimated, so the bump is slightly too high and too wide: "
    "positive on the disk of radius radius/cos(pi/2^levels). The error is largest on the "
    "rim, where it is at most radius (1 - cos(pi/2^levels)) / cos(pi/2^levels); it is zero "
    "far outside. The domain is the box [-2 radius, 2 radius]^2 (a bounded box, so that the "
    "effect of rounding the weights to float32 can be bounded); the network is correct "
    "beyond it too.",
)
def disk(levels: int, radius) -> Net:
    layers, est = _fold_tree(2, levels)
    bump = Layer(-est, [float(radius)], owned=True)  # relu(radius - est)
    return Net(layers + [bump, Layer([[1.0]], [0.0])])
