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
from reluc.registry import Box, Proof, register
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


def _right_inverse(n: int, lo: np.ndarray, hi: np.ndarray) -> sp.csr_array:
    """R (2n x n) with B R = I for the stage's output map B: a hidden vector that the
    output map sends to e_w. Idle w: h[2w] = 1; max wire j: h[2j] = h[2i+1] = 1;
    min wire i: h[2i+1] = -1."""
    partner = np.full(n, -1)
    partner[lo] = hi
    idle = np.setdiff1d(np.arange(n), np.concatenate([lo, hi]))
    rows = np.concatenate([2 * idle, 2 * hi, 2 * lo + 1, 2 * lo + 1])
    cols = np.concatenate([idle, hi, hi, lo])
    vals = np.concatenate([np.ones(idle.size), np.ones(hi.size), np.ones(lo.size),
                           -np.ones(lo.size)])  # fmt: skip
    return sp.csr_array((vals, (rows, cols)), shape=(2 * n, n))


def _parse_stage(a: sp.csr_array, n: int) -> Stage | None:
    """The comparators of a stage from its input map A (2n x n), or None if A is not
    exactly this module's stage layout."""
    a = sp.csr_array(a)
    a.sort_indices()
    starts = a.indptr[0 : 2 * n : 2]  # row 2w of every wire w
    two = (a.indptr[1 : 2 * n + 1 : 2] - starts) == 2
    w = np.flatnonzero(two)
    c0, c1 = a.indices[starts[w]], a.indices[starts[w] + 1]
    v0, v1 = a.data[starts[w]], a.data[starts[w] + 1]
    # row 2w = e_w - e_j: +1 on w, -1 on the partner j
    first = (c0 == w) & (v0 == 1) & (v1 == -1)
    second = (c1 == w) & (v1 == 1) & (v0 == -1)
    lo = w[first | second]
    hi = np.where(first, c1, c0)[first | second]
    stage = (lo.astype(np.int64), hi.astype(np.int64))
    if np.unique(np.concatenate(stage)).size != 2 * lo.size:
        return None
    expected = _stage_net(n, *stage).layers[0].weight
    return stage if (expected != a).nnz == 0 else None


def decompile(net: Net) -> list[Stage] | None:
    """Recover the comparator schedule of a network in this module's layout.

    Every hidden layer must have width 2n and zero biases; the first layer must be a
    stage's input map A_1; each merged layer M_s must equal A_{s+1} B_s exactly, where
    A_{s+1} = M_s R_s is read off with the right inverse R_s of B_s; the last layer must
    be B_S. Returns the stages, or None if the network is not such a comparator network."""
    n = net.n_in
    if net.n_out != n or any(w != 2 * n for w in net.widths):
        return None
    if any(np.any(layer.bias) for layer in net.layers):
        return None
    if net.depth == 1:
        eye = sp.identity(n, format="csr")
        return [] if (net.layers[0].weight != eye).nnz == 0 else None
    stage = _parse_stage(net.layers[0].weight, n)
    if stage is None:
        return None
    stages = [stage]
    for layer in net.layers[1:-1]:
        out_map = _stage_net(n, *stages[-1]).layers[1].weight
        a = sp.csr_array(layer.weight @ _right_inverse(n, *stages[-1]))
        stage = _parse_stage(a, n)
        if stage is None:
            return None
        merged = _stage_net(n, *stage).layers[0].weight @ out_map
        if (sp.csr_array(merged) != layer.weight).nnz:
            return None
        stages.append(stage)
    last = _stage_net(n, *stages[-1]).layers[1].weight
    return stages if (last != net.layers[-1].weight).nnz == 0 else None


MAX_ZERO_ONE = 20  # 2^20 binary inputs


def run_stages(x: np.ndarray, stages: list[Stage]) -> np.ndarray:
    """Apply a comparator schedule to the rows of ``x`` (min to the first wire)."""
    x = x.copy()
    for lo, hi in stages:
        a, b = x[:, lo], x[:, hi]
        x[:, lo], x[:, hi] = np.minimum(a, b), np.maximum(a, b)
    return x


def binary_inputs(n: int) -> np.ndarray:
    """All 2^n rows of 0s and 1s."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int8)


def prove_sort(net: Net, params) -> Proof:
    """Structure, then the 0-1 principle: the network is exactly the ReLU encoding of a
    comparator schedule, and a comparator network sorts every real input iff it sorts
    every 0-1 input (Knuth, TAOCP 5.3.4)."""
    n = net.n_in
    stages = decompile(net)
    if stages is None:
        return Proof("unsupported", "not recognised as a comparator network in reluc's layout")
    if n > MAX_ZERO_ONE:
        return Proof("unsupported", f"comparator structure verified ({len(stages)} stages), "
                     f"but the 0-1 principle needs 2^{n} inputs (at most 2^{MAX_ZERO_ONE})")
    x = binary_inputs(n)
    bad = np.flatnonzero(np.any(np.diff(run_stages(x, stages), axis=1) < 0, axis=1))
    method = f"comparator structure ({len(stages)} stages) + 0-1 principle on {2**n} inputs"
    if bad.size:
        return Proof("failed", method, x[bad[0]].tolist())
    return Proof("proved", method)


def _prove_tree(take_max: bool):
    def prove(net: Net, params) -> Proof:
        """The network is exactly reluc's balanced tree of max (min) gadgets, whose
        leaves are the n inputs, each once: it computes the max (min) of all inputs."""
        n = params["n"]
        if not net.equals(tree_net(n, take_max)):
            return Proof("unsupported", "not identical to reluc's gadget tree for this n")
        # The tree circuit is a min/max formula; like the reference it commutes with
        # every nondecreasing map, so equality on all 0-1 inputs proves it for all reals.
        if n > MAX_ZERO_ONE:
            return Proof("unsupported", f"gadget tree verified; 0-1 check needs 2^{n} inputs")
        x = binary_inputs(n)
        while x.shape[1] > 1:
            m = x.shape[1]
            pairs = (np.maximum if take_max else np.minimum)(x[:, 0 : m - 1 : 2], x[:, 1:m:2])
            x = np.concatenate([pairs, x[:, m - 1 :]] if m % 2 else [pairs], axis=1)
        ref = (np.max if take_max else np.min)(binary_inputs(n), axis=1)
        method = f"gadget tree structure + 0-1 principle on {2**n} inputs"
        bad = np.flatnonzero(x[:, 0] != ref)
        return Proof("failed", method, binary_inputs(n)[bad[0]].tolist()) if bad.size else \
            Proof("proved", method)

    return prove


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
    prove=prove_sort,
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
    breakpoints=lambda p: [],
    prove=_prove_tree(take_max=True),
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
    breakpoints=lambda p: [],
    prove=_prove_tree(take_max=False),
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
    breakpoints=lambda p: [],
    prove=prove_sort,
    notes="For n not a power of two the comparators touching padding wires are pruned, "
    "so the network has exactly n inputs and width 2n.",
)
def sort(n: int) -> Net:
    """Ascending sort of n numbers. Bitonic schedule with p(p+1)/2 stages, p = ceil(log2 n);
    each stage is one hidden layer of width 2n (4 neurons per comparator, 2 per idle
    wire). For n = 1024: 55 hidden layers (56 affine layers; 57 "layers" as
    AlgorithmicNeuralNets.jl counts them), width 2048."""
    return comparator_net(n, bitonic_stages(n))
