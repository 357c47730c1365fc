"""Comparator networks: minmax, max, min, sort.

A comparator stage on ``n`` wires becomes one hidden layer of ``2n`` neurons; wire ``w``
owns neurons ``2w`` and ``2w+1``. For a comparator sending ``min`` to wire ``i`` and
``max`` to wire ``j`` (``x = x_i``, ``y = x_j``)::

    h[2i] = relu(x - y)   h[2i+1] = relu(y - x)   h[2j] = relu(y)   h[2j+1] = relu(-y)
    min = h[2j] - h[2j+1] - h[2i+1]   ( = y - relu(y - x) )
    max = h[2j] - h[2j+1] + h[2i]     ( = y + relu(x - y) )

and an idle wire passes through ``h[2w] = relu(x_w)``, ``h[2w+1] = relu(-x_w)``,
``x_w = h[2w] - h[2w+1]``. This is the minmax gadget of the seed paper (4 neurons per
comparator, 2 per idle wire), so every hidden layer has width exactly ``2n`` and a
comparator network of depth ``D`` becomes a ReLU network with ``D`` hidden layers.
The output map of one stage is merged with the input map of the next
(:func:`reluc.calculus.compose`). All weights are 0 or +-1, so the network is exact.

``max``/``min`` of ``n`` numbers use a balanced tree of 3-neuron gadgets
(``max(a, b) = b + relu(a - b)``, with ``b = relu(b) - relu(-b)``), ``ceil(log2 n)``
hidden layers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from reluc.calculus import affine, compose, identity
from reluc.net import Layer, Net
from reluc.registry import Box, register
from reluc.spec import Int, Param

Stage = tuple[np.ndarray, np.ndarray]  # (min wires, max wires), disjoint


def _clog2(n: int) -> int:
    return (n - 1).bit_length() if n > 1 else 0


def bitonic_stages(n: int) -> list[Stage]:
    """Batcher's bitonic sorter for ``n`` wires, every comparator ascending (min to the
    lower wire), pruned to ``n`` wires.

    The schedule is the one for ``N = 2^ceil(log2 n)`` wires in the form whose merges
    start with a mirrored step (compare ``i`` with ``i XOR (k-1)`` in blocks of ``k``)
    followed by half-cleaners (``i`` with ``i XOR j``). Since every comparator puts the
    maximum on the higher wire, wires ``>= n`` padded with ``+inf`` never change, so the
    comparators touching them are no-ops and are dropped instead of padding the network.
    For ``N/2 < n <= N`` no stage becomes empty: ``p(p+1)/2`` stages, ``p = ceil(log2 n)``.
    """
    size = 1 << _clog2(n)
    wires = np.arange(size)
    stages = []
    k = 2
    while k <= size:
        steps = [k - 1] + [j for j in (k >> s for s in range(2, k.bit_length())) if j >= 1]
        for mask in steps:
            partner = wires ^ mask
            lo = wires[(wires < partner) & (partner < n)]
            stages.append((lo, lo ^ mask))
        k *= 2
    return [s for s in stages if s[0].size]


def _stage_net(n: int, lo: np.ndarray, hi: np.ndarray) -> Net:
    """One comparator stage as a one-hidden-layer net (layout in the module docstring)."""
    partner = np.full(n, -1)
    partner[lo] = hi
    is_lo = partner >= 0
    rest = np.flatnonzero(~is_lo)  # max wires and idle wires: relu(x), relu(-x)
    i, j = lo, hi
    rows = np.concatenate([2 * rest, 2 * rest + 1, 2 * i, 2 * i, 2 * i + 1, 2 * i + 1])
    cols = np.concatenate([rest, rest, i, j, i, j])
    vals = np.concatenate([np.ones(rest.size), -np.ones(rest.size),
                           np.ones(i.size), -np.ones(i.size), -np.ones(i.size), np.ones(i.size)])  # fmt: skip
    a = sp.csr_array((vals, (rows, cols)), shape=(2 * n, n))
    idle = np.setdiff1d(rest, hi)
    rows = np.concatenate([idle, idle, j, j, j, i, i, i])
    cols = np.concatenate([2 * idle, 2 * idle + 1, 2 * j, 2 * j + 1, 2 * i, 2 * j, 2 * j + 1, 2 * i + 1])
    vals = np.concatenate([np.ones(idle.size), -np.ones(idle.size),
                           np.ones(j.size), -np.ones(j.size), np.ones(j.size),
                           np.ones(i.size), -np.ones(i.size), -np.ones(i.size)])  # fmt: skip
    b = sp.csr_array((vals, (rows, cols)), shape=(n, 2 * n))
    return Net([Layer(a, np.zeros(2 * n)), Layer(b, np.zeros(n))])


def comparator_net(n: int, stages: list[Stage]) -> Net:
    """The ReLU network of a comparator network on ``n`` wires (one hidden layer a stage)."""
    if not stages:
        return identity(n)
    return compose(*(_stage_net(n, lo, hi) for lo, hi in stages))


def _tree_stage(m: int, take_max: bool) -> Net:
    """Pair up ``m`` wires (0,1), (2,3), ...; each pair -> max (or min); an odd wire passes."""
    pairs = m // 2
    a_idx, b_idx = 2 * np.arange(pairs), 2 * np.arange(pairs) + 1
    sign = 1.0 if take_max else -1.0
    n_hidden = 3 * pairs + 2 * (m % 2)
    h = 3 * np.arange(pairs)
    # hidden: relu(sign*(a-b)), relu(b), relu(-b) per pair; relu(x), relu(-x) for the odd wire
    rows = [h, h, h + 1, h + 2]
    cols = [a_idx, b_idx, b_idx, b_idx]
    vals = [np.full(pairs, sign), np.full(pairs, -sign), np.ones(pairs), -np.ones(pairs)]
    out_rows, out_cols = [np.arange(pairs)] * 3, [h, h + 1, h + 2]
    out_vals = [np.full(pairs, sign), np.ones(pairs), -np.ones(pairs)]
    if m % 2:
        k = 3 * pairs
        rows += [np.array([k, k + 1])]
        cols += [np.array([m - 1, m - 1])]
        vals += [np.array([1.0, -1.0])]
        out_rows += [np.array([pairs, pairs])]
        out_cols += [np.array([k, k + 1])]
        out_vals += [np.array([1.0, -1.0])]
    a = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(n_hidden, m))
    b = sp.csr_array(
        (np.concatenate(out_vals), (np.concatenate(out_rows), np.concatenate(out_cols))),
        shape=(pairs + m % 2, n_hidden),
    )
    return Net([Layer(a, np.zeros(n_hidden)), Layer(b, np.zeros(b.shape[0]))])


def tree_net(n: int, take_max: bool) -> Net:
    """max (or min) of ``n`` numbers by a balanced tree: ``ceil(log2 n)`` hidden layers."""
    if n == 1:
        return affine(np.ones((1, 1)))
    stages, m = [], n
    while m > 1:
        stages.append(_tree_stage(m, take_max))
        m = (m + 1) // 2
    return compose(*stages)


def _real(p):
    return Box.real(p["n"])


_N = Param("n", Int(min=1, max=1 << 24), 2, "number of inputs")


@register(
    "minmax",
    summary="The comparator gadget: (x, y) -> (min, max), 4 neurons.",
    params=[],
    inputs="2",
    outputs="2",
    domain=lambda p: Box.real(2),
    reference=lambda p, x: [min(x), max(x)],
    formulas={"hidden_layers": "1", "width": "4", "neurons": "4", "nonzero_params": "12"},
    example="minmax",
)
def minmax() -> Net:
    """(x, y) -> (min(x, y), max(x, y)) with the seed paper's 4-neuron gadget:
    relu(x-y), relu(y-x), relu(y), relu(-y); min = y - relu(y-x), max = y + relu(x-y)."""
    return comparator_net(2, bitonic_stages(2))


@register(
    "max",
    summary="Maximum of n numbers (balanced tree of 3-neuron max gadgets).",
    params=[_N],
    inputs="n",
    outputs="1",
    domain=_real,
    reference=lambda p, x: [max(x)],
    formulas={"hidden_layers": "clog2(n)", "width": "3*(n//2) + 2*(n%2) if n > 1 else 0"},
    example="max n=16",
)
def max_(n: int) -> Net:
    """max(x_1..x_n) by a balanced tree; each node is max(a, b) = b + relu(a-b) with b
    carried as relu(b) - relu(-b) (3 neurons); an odd wire passes with 2 neurons.
    ceil(log2 n) hidden layers, the widest being the first: 3*floor(n/2) + 2*(n mod 2)."""
    return tree_net(n, take_max=True)


@register(
    "min",
    summary="Minimum of n numbers (balanced tree of 3-neuron min gadgets).",
    params=[_N],
    inputs="n",
    outputs="1",
    domain=_real,
    reference=lambda p, x: [min(x)],
    formulas={"hidden_layers": "clog2(n)", "width": "3*(n//2) + 2*(n%2) if n > 1 else 0"},
    example="min n=16",
)
def min_(n: int) -> Net:
    """min(x_1..x_n) by a balanced tree of min(a, b) = b - relu(b-a) gadgets (3 neurons),
    ceil(log2 n) hidden layers."""
    return tree_net(n, take_max=False)


_S = "clog2(n)*(clog2(n)+1)//2"


@register(
    "sort",
    summary="Sort n numbers ascending: Batcher's bitonic network, exact for all real inputs.",
    params=[Param("n", Int(min=1, max=1 << 24), 8, "number of inputs")],
    inputs="n",
    outputs="n",
    domain=_real,
    reference=lambda p, x: sorted(x),
    formulas={
        "hidden_layers": _S,
        "width": "2*n if n > 1 else 0",
        "neurons": f"2*n*({_S})",
        "nonzero_params": f"9*n*({_S}) - 3*n if n > 1 and n == 2**clog2(n) else None",
    },
    example="sort n=64",
    notes="For n not a power of two the comparators touching padding wires are pruned, "
    "so the network has exactly n inputs and width 2n.",
)
def sort(n: int) -> Net:
    """Ascending sort of n numbers. Bitonic schedule with p(p+1)/2 stages, p = ceil(log2 n);
    each stage is one hidden layer of width 2n (4 neurons per comparator, 2 per idle
    wire). For n = 1024: 55 hidden layers (56 affine layers; 57 "layers" as
    AlgorithmicNeuralNets.jl counts them), width 2048."""
    return comparator_net(n, bitonic_stages(n))
