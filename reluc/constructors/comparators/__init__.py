"""Comparator networks as ReLU networks: minmax, max, min, sort, topk, kth, median (the
registrations; schedules in :mod:`.schedules`, the ReLU layout and streams in
:mod:`.layout`, decompilation and proofs in :mod:`.proofs`).

A comparator stage becomes one hidden layer. For a comparator sending ``min`` to wire
``i`` and ``max`` to wire ``j`` (``x = x_i``, ``y = x_j``), on the real line::

    relu(x - y), relu(y - x)      (owned by wire i)
    relu(y), relu(-y)             (owned by wire j: y = relu(y) - relu(-y))
    min = y - relu(y - x),  max = y + relu(x - y)

and an idle wire passes as ``relu(x), relu(-x)``: the seed paper's 4-neuron gadget, so a
hidden layer has width exactly ``2n``. With a bounded domain (``domain=lo,hi``) the
inputs are first shifted by ``c = floor(lo)`` so that every wire value ``u = x - c`` is
``>= 0`` and ``relu(u) = u``: a comparator needs 3 neurons (``relu(x-y), relu(y-x),
relu(y)``) and an idle wire 1, and ``c`` is added back at the end. Neurons are laid out
wire by wire (wire ``w``'s neurons, then wire ``w+1``'s). The output map of one stage is
merged with the input map of the next, computed from the two stages' row tables (no
matrix product); all weights are 0 or +-1, so the networks are exact.

Selection networks (``topk``, ``kth``, ``median``) are a sort followed by the selection
of the wanted outputs, streamed through :func:`reluc.passes.prune_dead_stream`, which
removes every neuron that cannot reach them. ``max``/``min`` use a balanced tree of 3-neuron gadgets
(``max(a, b) = b + relu(a - b)``), 2 with a bounded domain.

ReLU networks compute continuous functions only, so ``argmax`` or a threshold cannot be
computed exactly; those names are refused with that explanation
(:func:`reluc.registry.refuse`).
"""

from __future__ import annotations

import numpy as np

from reluc.constructors.comparators.layout import (comparator_net, comparator_stream,
                                                   selection_net, shift_of, tree_net)
from reluc.constructors.comparators.proofs import prove_sort, prove_tree, selection_prover
from reluc.constructors.comparators.schedules import best_stages, sort_stages
from reluc.formulas import clog2, code
from reluc.net import LayerStream, Net
from reluc.registry import Box, refuse, register
from reluc.spec import Choice, Int, Interval, Param

# -- registrations ------------------------------------------------------------------------

for _name, _why in {
    "argmax": "argmax is discontinuous (it jumps where two inputs tie)",
    "argmin": "argmin is discontinuous (it jumps where two inputs tie)",
    "argsort": "argsort is discontinuous (it jumps where two inputs tie)",
    "step": "a step function is discontinuous",
    "heaviside": "a step function is discontinuous",
    "sign": "sign is discontinuous at 0",
    "threshold": "a threshold is discontinuous",
    "round": "rounding is discontinuous",
    "floor": "floor is discontinuous",
    "ceil": "ceil is discontinuous",
}.items():
    refuse(_name, _why)

_N = Param("n", Int(min=1, max=1 << 24), 2, "number of inputs")
_DOMAIN = Param("domain", Interval(infinite=True), (None, None),
                "interval holding every input; a finite lower bound saves neurons "
                "(3 per comparator and 1 per idle wire instead of 4 and 2)", implicit=True)
_METHOD = Param("method", Choice("bitonic", "oddeven", "best"), "best",
                "bitonic or odd-even merge (Batcher), or best: the best published network "
                "for n <= 16, odd-even merge beyond")


def _box(p):
    lo, hi = p.get("domain", (None, None))
    return Box.uniform(p.get("n", 2), lo, hi)


def _check_kn(p):
    if not 1 <= p["k"] <= p["n"]:
        raise ValueError(f"k must lie in 1..n = 1..{p['n']}, got {p['k']}")


def _batcher_depth(n: int) -> int:
    return clog2(n) * (clog2(n) + 1) // 2


def _sort_depth(n: int, method: str) -> int:
    return len(best_stages(n)) if method == "best" and n <= 16 else _batcher_depth(n)


_SORT_DEPTH = code("p(p+1)/2, p = clog2(n); best, n <= 16: the depth of its published table",
                   _sort_depth)


@register(
    "minmax",
    summary="The comparator gadget: (x, y) -> (min, max), 4 neurons (3 on a bounded domain).",
    params=[_DOMAIN],
    inputs="2",
    outputs="2",
    domain=lambda p: Box.uniform(2, *p["domain"]),
    reference=lambda p, x: [min(x), max(x)],
    batch_reference=lambda p, num, den: (np.sort(num, axis=1), den),
    formulas={"hidden_layers": "1", "width": "4 if domain[0] is None else 3"},
    example="minmax",
    prove=prove_sort,
)
def minmax(domain) -> Net:
    """(x, y) -> (min(x, y), max(x, y)) with the seed paper's 4-neuron gadget:
    relu(x-y), relu(y-x), relu(y), relu(-y); min = y - relu(y-x), max = y + relu(x-y)."""
    return comparator_net(2, sort_stages(2, "best"), shift_of(domain))


# max and min trees: 3 neurons a pair on R (2 bounded), an odd wire 2 (1 bounded)
_TREE_SIZES = {"hidden_layers": "clog2(n)",
               "width": "(3*(n//2) + 2*(n%2) if domain[0] is None else 2*(n//2) + n%2) "
                        "if n > 1 else 0"}


@register(
    "max",
    summary="Maximum of n numbers (balanced tree of max gadgets).",
    params=[_N, _DOMAIN],
    inputs="n",
    outputs="1",
    domain=_box,
    reference=lambda p, x: [max(x)],
    batch_reference=lambda p, num, den: (num.max(axis=1, keepdims=True), den),
    formulas=_TREE_SIZES,
    example="max n=16",
    breakpoints=lambda p: [],
    prove=prove_tree(take_max=True),
    notes="A max of n numbers needs at least ceil(log2 n) hidden layers with these gadgets.",
)
def max_(n: int, domain) -> Net:
    """max(x_1..x_n) by a balanced tree; each node is max(a, b) = b + relu(a-b) with b
    carried as relu(b) - relu(-b) (3 neurons; 2 on a bounded domain, where relu(b) = b);
    an odd wire passes. ceil(log2 n) hidden layers, the widest being the first."""
    return tree_net(n, True, shift_of(domain))


@register(
    "min",
    summary="Minimum of n numbers (balanced tree of min gadgets).",
    params=[_N, _DOMAIN],
    inputs="n",
    outputs="1",
    domain=_box,
    reference=lambda p, x: [min(x)],
    batch_reference=lambda p, num, den: (num.min(axis=1, keepdims=True), den),
    formulas=_TREE_SIZES,
    example="min n=16",
    breakpoints=lambda p: [],
    prove=prove_tree(take_max=False),
)
def min_(n: int, domain) -> Net:
    """min(x_1..x_n) by a balanced tree of min(a, b) = b - relu(b-a) gadgets,
    ceil(log2 n) hidden layers."""
    return tree_net(n, False, shift_of(domain))


@register(
    "sort",
    streams=True,
    summary="Sort n numbers ascending (comparator network), exact for all real inputs.",
    params=[Param("n", Int(min=1, max=1 << 24), 8, "number of inputs"), _METHOD, _DOMAIN],
    inputs="n",
    outputs="n",
    domain=_box,
    reference=lambda p, x: sorted(x),
    batch_reference=lambda p, num, den: (np.sort(num, axis=1), den),
    formulas={
        "hidden_layers": _SORT_DEPTH,
        "width": "(2*n if domain[0] is None else None) if n > 1 else 0",
        "neurons": code("2*n*hidden_layers on R", lambda n, method, domain:
                        2 * n * _sort_depth(n, method) if domain[0] is None else None),
        "nonzero_params": code(
            "9*n*p(p+1)/2 - 3*n, p = clog2(n): bitonic, n a power of 2, on R",
            lambda n, method, domain: 9 * n * _batcher_depth(n) - 3 * n
            if method == "bitonic" and n > 1 and n == 2 ** clog2(n) and domain[0] is None
            else None),
    },
    example="sort n=64",
    breakpoints=lambda p: [],
    prove=prove_sort,
    notes="Comparators touching padding wires are pruned, so any n works. Width is 2n on "
    "R; on a bounded domain n plus the comparators of the stage (1536 for bitonic "
    "n=1024 instead of 2048).",
)
def sort(n: int, method: str, domain) -> LayerStream:
    """Ascending sort of n numbers. One hidden layer per comparator stage: bitonic and
    odd-even merge have p(p+1)/2 stages (p = ceil(log2 n); odd-even has fewer
    comparators, hence fewer nonzeros); best uses the shallowest published network for
    n <= 16. For n = 1024 (bitonic): 55 hidden layers, width 2048 -- the seed paper's
    57 "layers" counting input and output. Streamed: the layers are made as the writer
    asks for them."""
    return comparator_stream(n, sort_stages(n, method), shift_of(domain))


_K = Param("k", Int(min=1, max=1 << 24), 1, "which / how many (1-based)")


@register(
    "topk",
    streams=True,
    summary="The k largest of n numbers, largest first (a pruned sorting network).",
    params=[Param("n", Int(min=1, max=1 << 24), 8, "number of inputs"), _K, _METHOD, _DOMAIN],
    inputs="n",
    outputs="k",
    domain=_box,
    reference=lambda p, x: sorted(x, reverse=True)[: p["k"]],
    batch_reference=lambda p, num, den: (np.sort(num, axis=1)[:, ::-1][:, : p["k"]], den),
    formulas={"hidden_layers": _SORT_DEPTH},
    check=_check_kn,
    example="topk n=8 k=3",
    prove=selection_prover(lambda p: list(range(p["n"] - 1, p["n"] - p["k"] - 1, -1))),
)
def topk(n: int, k: int, method: str, domain) -> LayerStream:
    """The k largest inputs in descending order: a sorting network's top k wires, with
    every neuron that cannot reach them removed (dead-code pass), so it is strictly
    smaller than the sort whenever k < n."""
    return selection_net(n, list(range(n - 1, n - k - 1, -1)), method, shift_of(domain))


@register(
    "kth",
    streams=True,
    summary="The k-th smallest of n numbers (a pruned sorting network).",
    params=[Param("n", Int(min=1, max=1 << 24), 8, "number of inputs"), _K, _METHOD, _DOMAIN],
    inputs="n",
    outputs="1",
    domain=_box,
    reference=lambda p, x: [sorted(x)[p["k"] - 1]],
    batch_reference=lambda p, num, den: (np.sort(num, axis=1)[:, p["k"] - 1 : p["k"]], den),
    formulas={"hidden_layers": _SORT_DEPTH},
    check=_check_kn,
    example="kth n=8 k=2",
    prove=selection_prover(lambda p: [p["k"] - 1]),
)
def kth(n: int, k: int, method: str, domain) -> LayerStream:
    """The k-th smallest input (k = 1: the minimum): one output wire of a sorting
    network, pruned to the neurons that reach it."""
    return selection_net(n, [k - 1], method, shift_of(domain))


def _median_outputs(p):
    n = p["n"]
    return [n // 2] if n % 2 else [n // 2 - 1, n // 2]


def _median_batch(p, num, den):
    s, m = np.sort(num, axis=1), p["n"] // 2
    if p["n"] % 2:
        return s[:, m : m + 1], den
    return s[:, m - 1 : m] + s[:, m : m + 1], 2 * den  # |entries| < 2^62: no overflow


def _median_weights(p):
    return None if p["n"] % 2 else np.array([0.5, 0.5])


@register(
    "median",
    streams=True,
    summary="The median of n numbers (mean of the two middle ones for even n).",
    params=[Param("n", Int(min=1, max=1 << 24), 5, "number of inputs"), _METHOD, _DOMAIN],
    inputs="n",
    outputs="1",
    domain=_box,
    reference=lambda p, x: [sorted(x)[p["n"] // 2] if p["n"] % 2 else
                            (sorted(x)[p["n"] // 2 - 1] + sorted(x)[p["n"] // 2]) / 2],
    batch_reference=_median_batch,
    formulas={"hidden_layers": _SORT_DEPTH},
    example="median n=5",
    prove=selection_prover(_median_outputs, _median_weights),
)
def median(n: int, method: str, domain) -> LayerStream:
    """The median: the middle wire of a sorting network for odd n, the mean of the two
    middle wires for even n (a weight of 1/2, exact), pruned to what reaches them."""
    return selection_net(n, _median_outputs({"n": n}), method, shift_of(domain),
                         _median_weights({"n": n}))

