"""Elementary networks: identity, relu, abs (elementwise on n inputs)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from reluc.calculus import identity as identity_net
from reluc.net import Layer, Net
from reluc.registry import Box, register
from reluc.spec import Int, Param

_N = Param("n", Int(min=1, max=1 << 24), 1, "number of inputs")


@register(
    "identity",
    summary="The identity on R^n carried through depth-1 hidden layers (2 neurons a wire).",
    params=[_N, Param("depth", Int(min=1, max=4096), 2, "number of affine layers")],
    inputs="n",
    outputs="n",
    domain=lambda p: Box.real(p["n"]),
    reference=lambda p, x: list(x),
    formulas={"hidden_layers": "depth - 1", "width": "2*n if depth > 1 else 0",
              "neurons": "2*n*(depth - 1)"},
    example="identity n=4 depth=3",
    breakpoints=lambda p: [],
    elementwise=True,
)
def identity(n: int, depth: int) -> Net:
    """x -> x with depth-1 hidden layers of width 2n: x = relu(x) - relu(-x).
    Useful for padding a network to a given depth."""
    return identity_net(n, depth - 1)


@register(
    "relu",
    summary="Elementwise relu(x) on R^n, one hidden layer of n neurons.",
    params=[_N],
    inputs="n",
    outputs="n",
    domain=lambda p: Box.real(p["n"]),
    reference=lambda p, x: [max(v, 0) for v in x],
    formulas={"hidden_layers": "1", "width": "n", "neurons": "n", "nonzero_params": "2*n"},
    example="relu n=3",
    breakpoints=lambda p: [0],
    elementwise=True,
)
def relu(n: int) -> Net:
    """x -> max(x, 0) elementwise: one hidden layer of n neurons, identity output map."""
    eye = sp.identity(n, format="csr")
    return Net([Layer(eye, np.zeros(n)), Layer(eye, np.zeros(n))])


@register(
    "abs",
    summary="Elementwise |x| on R^n: relu(x) + relu(-x), 2 neurons a wire.",
    params=[_N],
    inputs="n",
    outputs="n",
    domain=lambda p: Box.real(p["n"]),
    reference=lambda p, x: [abs(v) for v in x],
    formulas={"hidden_layers": "1", "width": "2*n", "neurons": "2*n", "nonzero_params": "4*n"},
    example="abs n=2",
    breakpoints=lambda p: [0],
    elementwise=True,
)
def abs_(n: int) -> Net:
    """x -> |x| elementwise as relu(x) + relu(-x); hidden layout [relu(x), relu(-x)]."""
    eye = sp.identity(n, format="csr")
    return Net([
        Layer(sp.vstack([eye, -eye], format="csr"), np.zeros(2 * n)),
        Layer(sp.hstack([eye, eye], format="csr"), np.zeros(n)),
    ])
