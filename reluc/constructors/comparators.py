"""Comparator networks as ReLU networks: minmax, max, min, sort, topk, kth, median.

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
merged with the input map of the next (:func:`reluc.calculus.compose`); all weights
are 0 or +-1, so the networks are exact.

Selection networks (``topk``, ``kth``, ``median``) are a sort followed by the selection
of the wanted outputs, streamed through :func:`reluc.passes.prune_dead_stream`, which
removes every neuron that cannot reach them. ``max``/``min`` use a balanced tree of 3-neuron gadgets
(``max(a, b) = b + relu(a - b)``), 2 with a bounded domain.

ReLU networks compute continuous functions only, so ``argmax`` or a threshold cannot be
computed exactly; those names are refused with that explanation (:data:`REFUSED`).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from reluc import passes
from reluc.calculus import affine, compose, identity, select
from reluc.constructors.schedules import (Stage, best_stages, binary_inputs, run_stages,
                                         sort_stages)
from reluc.formulas import clog2, code
from reluc.net import Layer, LayerStream, Net
from reluc.registry import Box, Proof, register
from reluc.spec import Choice, Int, Interval, Param

# -- the gadget layout --------------------------------------------------------------------


def _offsets(n: int, lo: np.ndarray, bounded: bool) -> tuple[np.ndarray, np.ndarray]:
    """Neurons per wire (2 for a min wire; otherwise 2 on R, 1 when bounded) and offsets."""
    is_lo = np.zeros(n, dtype=bool)
    is_lo[lo] = True
    count = np.where(is_lo, 2, 1 if bounded else 2)
    return count, np.concatenate([[0], np.cumsum(count)[:-1]])


def _coo(rows, cols, vals, shape) -> sp.csr_array:
    return sp.csr_array((np.concatenate(vals).astype(np.float64),
                         (np.concatenate(rows), np.concatenate(cols))), shape=shape)


def stage_maps(n: int, lo: np.ndarray, hi: np.ndarray, bounded: bool):
    """Input map A (H x n), output map B (n x H) and right inverse R (H x n, B R = I)."""
    t = _StageTables(n, lo, hi, bounded)
    a, b = _ell_csr(*t.a, n, merge=False), _ell_csr(*t.e, t.h, merge=False)
    off = _offsets(n, lo, bounded)[1]
    idle = np.flatnonzero(t.partner < 0)
    one = np.ones
    # R: idle e_o; max wire j: h[o_j] = h[o_i + 1] = 1; min wire i: h[o_i + 1] = -1
    r = _coo([off[idle], off[hi], off[lo] + 1, off[lo] + 1], [idle, hi, hi, lo],
             [one(idle.size), one(hi.size), one(lo.size), -one(lo.size)], (t.h, n))
    return a, b, r


_F32_MAX = (2**24 - 1) << 104  # the largest float32


def shift_of(domain) -> int | None:
    """The input shift for a bounded domain, None on R (lo = -inf): an integer ``c <= lo``
    that float32 (hence float64) holds exactly, so that the biases ``-c`` and ``c`` are
    the exact weights in either dtype: floor(lo) with its binary significand cut to 24
    bits, rounding down (so ``c <= floor(lo)``; relatively within 2^-23 of it); above
    the float32 range, the largest float32. Every wire value ``x - c`` is then >= 0."""
    lo = domain[0] if domain else None
    if lo is None:
        return None
    c = math.floor(lo)
    drop = abs(c).bit_length() - 24
    if drop > 0:
        c = (c >> drop) << drop  # >> floors, also for negative c
    return min(c, _F32_MAX)


def _ell_csr(cols: np.ndarray, vals: np.ndarray, n_cols: int, merge: bool) -> sp.csr_array:
    """A CSR matrix from a padded row table (ELLPACK: zeros are padding); ``merge``: rows
    may name a column twice (the entries are added)."""
    keep = vals != 0
    indptr = np.zeros(cols.shape[0] + 1, dtype=np.int64)
    np.cumsum(keep.view(np.uint8) @ np.ones(keep.shape[1], dtype=np.uint8), out=indptr[1:])
    at = np.flatnonzero(keep)  # row-major: CSR order
    w = sp.csr_array((vals.ravel().take(at), cols.ravel().take(at), indptr),
                     shape=(cols.shape[0], n_cols))
    if merge:
        w.sum_duplicates()  # sorts and adds; eliminate_zeros drops what cancelled
        w.eliminate_zeros()
    else:
        w.has_canonical_format = False
        w.sort_indices()
    return w


class _StageTables:
    """One comparator stage as padded row tables: ``a`` (the stage's input map: each
    neuron reads +-x_w or +-(x_i - x_j)) and ``e`` (each wire's value after the stage as a
    combination of the stage's neurons: the output map); :func:`stage_maps` in table form."""

    def __init__(self, n: int, lo: np.ndarray, hi: np.ndarray, bounded: bool):
        count, off = _offsets(n, lo, bounded)
        self.h = h = int(count.sum())
        it = np.int32 if max(n, h) < 2**31 else np.int64
        off = off.astype(it)
        self.partner = np.full(n, -1, dtype=it)
        self.partner[lo], self.partner[hi] = hi, lo
        idle = np.flatnonzero(self.partner < 0)
        is_rest = np.ones(n, dtype=bool)
        is_rest[lo] = False
        rest = np.flatnonzero(is_rest)  # max wires and idle wires
        acol, aval = np.zeros((h, 2), dtype=it), np.zeros((h, 2))
        acol[off[rest], 0], aval[off[rest], 0] = rest, 1.0
        if not bounded:
            acol[off[rest] + 1, 0], aval[off[rest] + 1, 0] = rest, -1.0
        for r, sign in ((off[lo], 1.0), (off[lo] + 1, -1.0)):
            acol[r, 0], acol[r, 1], aval[r, 0], aval[r, 1] = lo, hi, sign, -sign
        k = 2 if bounded else 3
        ecol, evals = np.zeros((n, k), dtype=it), np.zeros((n, k))
        if bounded:  # idle u; min y - relu(y-x); max y + relu(x-y); y = h[o_j]
            ecol[idle, 0], evals[idle, 0] = off[idle], 1.0
            ecol[lo, 0], ecol[lo, 1], evals[lo] = off[hi], off[lo] + 1, (1.0, -1.0)
            ecol[hi, 0], ecol[hi, 1], evals[hi] = off[hi], off[lo], (1.0, 1.0)
        else:  # y = relu(y) - relu(-y)
            ecol[idle, 0], ecol[idle, 1], evals[idle, :2] = off[idle], off[idle] + 1, (1.0, -1.0)
            for w, last, sign in ((lo, off[lo] + 1, -1.0), (hi, off[lo], 1.0)):
                ecol[w, 0], ecol[w, 1], ecol[w, 2] = off[hi], off[hi] + 1, last
                evals[w] = (1.0, -1.0, sign)
        self.a, self.e = (acol, aval), (ecol, evals)
        # the merged layer's rows are +-(rows of e): row r of [e; -e; 0] for each entry of
        # a (the zero row for padding), picked with one take per table
        self.pick = np.where(aval > 0, acol, np.where(aval < 0, acol + n, 2 * n))
        self.signed_e = (np.concatenate([ecol, ecol, np.zeros((1, k), dtype=it)]),
                         np.concatenate([evals, -evals, np.zeros((1, k))]))


def comparator_stream(n: int, stages: list[Stage], shift: int | None = None) -> LayerStream:
    """The ReLU network of a comparator schedule on ``n`` wires (one hidden layer a stage)
    as a stream of layers: stage ``s``'s output map merged with stage ``s+1``'s input map,
    computed from the two stages' row tables (no matrix product), one layer at a time.
    ``shift``: a lower bound of every input (the bounded layout), None for R."""
    if not stages:
        return LayerStream(n, [n], lambda: iter(identity(n).layers), values=(0, 1))
    bounded = shift is not None
    c = float(shift) if bounded else 0.0
    widths = [int(_offsets(n, lo, bounded)[0].sum()) for lo, _ in stages] + [n]

    def make():
        prev = _StageTables(n, *stages[0], bounded)
        acol, aval = prev.a
        w = _ell_csr(acol, aval, n, merge=False)
        yield Layer(w, -c * aval.sum(axis=1), owned=True)
        for lo, hi in stages[1:]:
            cur = _StageTables(n, lo, hi, bounded)
            (acol, aval), (ecol, evals) = cur.a, prev.signed_e
            cols = ecol.take(cur.pick, axis=0).reshape(cur.h, -1)
            vals = evals.take(cur.pick, axis=0).reshape(cur.h, -1)
            # a row names a neuron twice only if its two wires were compared by the
            # previous stage too (both read that comparator's neurons)
            merge = bool(np.any((aval[:, 1] != 0) & (prev.partner[acol[:, 0]] == acol[:, 1])))
            yield Layer(_ell_csr(cols, vals, prev.h, merge), np.zeros(cur.h), owned=True)
            prev = cur
        ecol, evals = prev.e
        yield Layer(_ell_csr(ecol, evals, prev.h, merge=False), np.full(n, c), owned=True)

    # the exact values (shift is an integer): the compiler decides from them whether the
    # stream is exact in the file's dtype
    values = (0, 1, -1) + ((shift, -shift) if bounded else ())
    return LayerStream(n, widths, make, values=values)


def comparator_net(n: int, stages: list[Stage], shift: int | None = None) -> Net:
    """:func:`comparator_stream`, held in memory."""
    return comparator_stream(n, stages, shift).materialise()


def _parse_stage(a: sp.csr_array, n: int, bounded: bool) -> Stage | None:
    """The comparators of a stage from its input map, or None if the map is not exactly
    this module's layout for them. A min wire i with partner j owns two consecutive rows
    e_i - e_j and e_j - e_i; read the first of each such pair, then rebuild and compare."""
    a = sp.csr_array(a)
    a.sort_indices()
    rows = np.flatnonzero(np.diff(a.indptr) == 2)  # only min wires own 2-entry rows
    if rows.size % 2 or np.any(rows[1::2] != rows[0::2] + 1):
        return None
    start = a.indptr[rows[0::2]]
    c0, c1, v0 = a.indices[start], a.indices[start + 1], a.data[start]
    plus, minus = np.where(v0 > 0, c0, c1), np.where(v0 > 0, c1, c0)
    stage = (plus.astype(np.int64), minus.astype(np.int64))
    if np.unique(np.concatenate(stage)).size != 2 * stage[0].size:
        return None
    expected = stage_maps(n, *stage, bounded)[0]
    if expected.shape != a.shape or (expected != a).nnz:
        return None
    return stage


def decompile(net: Net, shift: int | None = None) -> list[Stage] | None:
    """Recover the comparator schedule of a network in this module's layout.

    The first layer must be a stage's input map A_1 (with bias ``-shift A_1 1`` when
    bounded); each merged layer M_s must equal A_{s+1} B_s exactly, where A_{s+1} = M_s R_s
    is read off with the right inverse R_s of B_s; the last layer must be B_S (plus
    ``shift``). Returns the stages, or None if the network is not such a network."""
    n = net.n_in
    bounded = shift is not None
    if net.n_out != n:
        return None
    layers = net.layers
    c = float(shift) if bounded else 0.0
    if net.depth == 1:
        ok = (layers[0].weight != sp.identity(n, format="csr")).nnz == 0 and not np.any(layers[0].bias)
        return [] if ok else None
    if np.any(layers[-1].bias != c) or any(np.any(layer.bias) for layer in layers[1:-1]):
        return None
    stage = _parse_stage(layers[0].weight, n, bounded)
    if stage is None:
        return None
    a1 = stage_maps(n, *stage, bounded)[0]
    if not np.array_equal(layers[0].bias, -c * np.asarray(a1.sum(axis=1)).ravel()):
        return None
    stages = [stage]
    for layer in layers[1:-1]:
        _, b, r = stage_maps(n, *stages[-1], bounded)
        stage = _parse_stage(sp.csr_array(layer.weight @ r), n, bounded)
        if stage is None:
            return None
        merged = sp.csr_array(stage_maps(n, *stage, bounded)[0] @ b)
        if merged.shape != layer.weight.shape or (merged != layer.weight).nnz:
            return None
        stages.append(stage)
    last = stage_maps(n, *stages[-1], bounded)[1]
    return stages if (last != layers[-1].weight).nnz == 0 else None


# -- proofs -------------------------------------------------------------------------------

MAX_ZERO_ONE = 20  # 2^20 binary inputs


def prove_sort(net: Net, params) -> Proof:
    """Structure, then the 0-1 principle: the network is exactly the ReLU encoding of a
    comparator schedule, and a comparator network sorts every real input iff it sorts
    every 0-1 input (Knuth, TAOCP 5.3.4)."""
    n = net.n_in
    stages = decompile(net, shift_of(params.get("domain")))
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


def _zero_one_against(net: Net, rebuilt: Net, circuit, reference, n: int, what: str) -> Proof:
    """The network is identical to reluc's construction for these parameters, whose
    circuit is a min/max formula; such formulas, like order statistics, commute with every
    nondecreasing map, so equality on all 0-1 inputs proves equality on all reals."""
    if not net.equals(rebuilt):
        return Proof("unsupported", f"not identical to reluc's {what} for these parameters")
    if n > MAX_ZERO_ONE:
        return Proof("unsupported", f"{what} structure verified; the 0-1 check needs 2^{n} inputs")
    x = binary_inputs(n)
    got, want = circuit(x), reference(x)
    method = f"{what} structure + 0-1 principle on {2**n} inputs"
    bad = np.flatnonzero(np.any(got != want, axis=1))
    return Proof("failed", method, x[bad[0]].tolist()) if bad.size else Proof("proved", method)


# -- max / min trees ----------------------------------------------------------------------


def _tree_stage(m: int, take_max: bool, bounded: bool) -> Net:
    """Pair up ``m`` wires (0,1), (2,3), ...; each pair -> max (min); an odd wire passes.
    Per pair: relu(s(a - b)), relu(b) [, relu(-b) on R]; out = b + s relu(s(a - b))."""
    pairs, odd = m // 2, m % 2
    per = 2 if bounded else 3
    s = 1.0 if take_max else -1.0
    h = per * np.arange(pairs)
    a_idx, b_idx = 2 * np.arange(pairs), 2 * np.arange(pairs) + 1
    one = np.ones(pairs)
    rows, cols, vals = [h, h, h + 1], [a_idx, b_idx, b_idx], [s * one, -s * one, one]
    out_rows, out_cols, out_vals = [np.arange(pairs)] * 2, [h, h + 1], [s * one, one]
    if not bounded:
        rows.append(h + 2)
        cols.append(b_idx)
        vals.append(-one)
        out_rows.append(np.arange(pairs))
        out_cols.append(h + 2)
        out_vals.append(-one)
    width = per * pairs
    if odd:
        k = width
        extra = [k] if bounded else [k, k + 1]
        rows.append(np.array(extra))
        cols.append(np.full(len(extra), m - 1))
        vals.append(np.array([1.0, -1.0][: len(extra)]))
        out_rows.append(np.full(len(extra), pairs))
        out_cols.append(np.array(extra))
        out_vals.append(np.array([1.0, -1.0][: len(extra)]))
        width += len(extra)
    a = _coo(rows, cols, vals, (width, m))
    b = _coo(out_rows, out_cols, out_vals, (pairs + odd, width))
    return Net([Layer(a, np.zeros(width)), Layer(b, np.zeros(pairs + odd))])


def tree_net(n: int, take_max: bool, shift: int | None = None) -> Net:
    """max (min) of ``n`` numbers by a balanced tree: ``ceil(log2 n)`` hidden layers."""
    if n == 1:
        return affine(np.ones((1, 1)))
    stages, m = [], n
    while m > 1:
        stages.append(_tree_stage(m, take_max, shift is not None))
        m = (m + 1) // 2
    if shift is not None:
        stages = [affine(sp.identity(n, format="csr"), np.full(n, -float(shift)))] + stages + \
            [affine(np.ones((1, 1)), [float(shift)])]
    return compose(*stages)


def _tree_circuit(take_max: bool):
    def run(x):
        while x.shape[1] > 1:
            m = x.shape[1]
            pairs = (np.maximum if take_max else np.minimum)(x[:, 0 : m - 1 : 2], x[:, 1:m:2])
            x = np.concatenate([pairs, x[:, m - 1 :]] if m % 2 else [pairs], axis=1)
        return x
    return run


def _prove_tree(take_max: bool):
    def prove(net: Net, params) -> Proof:
        n, shift = params["n"], shift_of(params.get("domain"))
        ref = (np.max if take_max else np.min)
        return _zero_one_against(net, tree_net(n, take_max, shift), _tree_circuit(take_max),
                                 lambda x: ref(x, axis=1, keepdims=True), n, "gadget tree")
    return prove


# -- selection ----------------------------------------------------------------------------


def selection_net(n: int, outputs: list[int], method: str, shift: int | None,
                  weights: np.ndarray | None = None) -> LayerStream:
    """Sorted wires ``outputs`` (or their combination ``weights @ sorted[outputs]``) of a
    sorting network, with every neuron that cannot reach them pruned; a stream."""
    pick = select(n, outputs)
    if weights is not None:
        pick = compose(pick, affine(np.atleast_2d(weights)))
    sort = comparator_stream(n, sort_stages(n, method), shift)
    last = pick.layers[0]

    def make():
        held = None
        for layer in sort.iter_layers():
            if held is not None:
                yield held
            held = layer
        yield compose(Net([held]), pick).layers[0]  # the output map, then the selection

    # weights 1/2 (median): entries +-1/2, or +-1 where both rows read a neuron
    values = sort.values + (() if weights is None else tuple(
        v * s for v in np.unique(np.abs(weights)) for s in (1, -1)))
    whole = LayerStream(n, sort.widths_out[:-1] + (last.n_out,), make, values)
    return passes.prune_dead_stream(whole)


def _selection_prover(outputs_of, weights_of=None, what="pruned sorting network"):
    def prove(net: Net, params) -> Proof:
        n, shift, method = params["n"], shift_of(params.get("domain")), params["method"]
        outs = outputs_of(params)
        w = weights_of(params) if weights_of else None
        rebuilt = selection_net(n, outs, method, shift, w)
        stages = sort_stages(n, method)

        def circuit(x):
            y = run_stages(x, stages)[:, outs].astype(np.float64)
            return y if w is None else y @ np.atleast_2d(w).T

        def reference(x):
            y = np.sort(x, axis=1)[:, outs].astype(np.float64)
            return y if w is None else y @ np.atleast_2d(w).T

        return _zero_one_against(net, rebuilt, circuit, reference, n, what)
    return prove


# -- registrations ------------------------------------------------------------------------

REFUSED = {
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
}

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


@register(
    "max",
    summary="Maximum of n numbers (balanced tree of max gadgets).",
    params=[_N, _DOMAIN],
    inputs="n",
    outputs="1",
    domain=_box,
    reference=lambda p, x: [max(x)],
    batch_reference=lambda p, num, den: (num.max(axis=1, keepdims=True), den),
    formulas={"hidden_layers": "clog2(n)",
              "width": "(3*(n//2) + 2*(n%2) if domain[0] is None else 2*(n//2) + n%2) "
                       "if n > 1 else 0"},
    example="max n=16",
    breakpoints=lambda p: [],
    prove=_prove_tree(take_max=True),
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
    formulas={"hidden_layers": "clog2(n)",
              "width": "(3*(n//2) + 2*(n%2) if domain[0] is None else 2*(n//2) + n%2) "
                       "if n > 1 else 0"},
    example="min n=16",
    breakpoints=lambda p: [],
    prove=_prove_tree(take_max=False),
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
    prove=_selection_prover(lambda p: list(range(p["n"] - 1, p["n"] - p["k"] - 1, -1))),
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
    prove=_selection_prover(lambda p: [p["k"] - 1]),
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
    prove=_selection_prover(_median_outputs, _median_weights),
)
def median(n: int, method: str, domain) -> LayerStream:
    """The median: the middle wire of a sorting network for odd n, the mean of the two
    middle wires for even n (a weight of 1/2, exact), pruned to what reaches them."""
    return selection_net(n, _median_outputs({"n": n}), method, shift_of(domain),
                         _median_weights({"n": n}))

