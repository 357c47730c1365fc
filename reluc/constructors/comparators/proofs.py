"""Proofs for comparator networks (``reluc verify --complete``): a file is decompiled
into its comparator schedule (or found not to be exactly one), rebuilt and compared, and
the schedule checked on every 0-1 input (the 0-1 principle); max/min trees and selection
networks are rebuilt and checked on every 0-1 input likewise."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.constructors.comparators.layout import (comparator_net, selection_net, shift_of,
                                                   stage_maps, tree_net)
from reluc.constructors.comparators.schedules import (Stage, binary_inputs, run_stages,
                                                      sort_stages)
from reluc.net import Net
from reluc.registry import Proof

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

SEARCH_ROWS = 64


def refute(net: Net, params, outs, why: str, w=None) -> Proof:
    """A file that is not exactly a comparator network gets no proof; it is run exactly
    on permutations of n distinct values of the domain (on R odd numbers of both signs:
    every wire then carries a nonzero value, either sign, that differs from the others,
    so a changed weight or a missing comparator shows in most of them) and on rows of
    ties (a constant row puts every comparator at its kink, where a changed weight of
    a ReLU shows for one sign of the value) and compared with the sorted rows (their wires
    ``outs``, combined by ``w``): a row that differs is a counterexample (failed), else
    the reason."""
    from reluc.exact import Evaluator, Scaled, max_abs_difference

    n = net.n_in
    lo, hi = (params.get("domain") or (None, None))
    rng = np.random.default_rng(n)
    half = SEARCH_ROWS // 2
    perms = [np.arange(n), np.arange(n)[::-1]] + [rng.permutation(n) for _ in range(half - 2)]
    ties = [np.zeros(n, int), np.full(n, 2), np.full(n, 4)] + \
        [rng.integers(0, 5, n) for _ in range(half - 3)]
    if lo is None or hi is None:  # odd numbers of both signs; ties among -2..2
        rows = Scaled(np.array([2 * p - n + 1 for p in perms] + [t - 2 for t in ties],
                               dtype=object), 1)
    else:  # the same, spread over [lo, hi]
        lo, hi = Fraction(lo), Fraction(hi)
        den = lo.denominator * hi.denominator * 4 * n
        step = Fraction(hi - lo) * den
        rows = Scaled(np.array([int(lo * den) + (int(step) // (n - 1 or 1)) * p for p in perms]
                               + [int(lo * den) + (int(step) // 4) * t for t in ties],
                               dtype=object), den)
    got = Evaluator(net).scaled(rows)
    y = np.sort(rows.num, axis=1)
    want = Scaled(y, rows.den) if outs is None else Scaled(y[:, outs], rows.den)
    if w is not None:
        ws = [Fraction(v) for v in np.atleast_1d(w)]
        k = math.lcm(*(v.denominator for v in ws))
        want = Scaled(want.num @ np.array([int(v * k) for v in ws], dtype=object)[:, None],
                      want.den * k)
    diff, row = max_abs_difference(got, want)
    if diff:
        return Proof("failed", f"{why}; run exactly on {half} permutations of {n} "
                     f"distinct values and {half} rows with ties, it fails on one",
                     rows.rows()[row])
    return Proof("unsupported",
                 f"{why} (and it is right on the {len(perms) + len(ties)} rows tried)")


MAX_ZERO_ONE = 20  # 2^20 binary inputs


def prove_sort(net: Net, params) -> Proof:
    """Structure, then the 0-1 principle: the network is exactly the ReLU encoding of a
    comparator schedule, and a comparator network sorts every real input iff it sorts
    every 0-1 input (Knuth, TAOCP 5.3.4)."""
    n = net.n_in
    stages = decompile(net, shift_of(params.get("domain")))
    if stages is None:
        return refute(net, params, None,
                      "not recognised as a comparator network in reluc's layout")
    if n > MAX_ZERO_ONE:
        return _by_merges(n, stages)
    x = binary_inputs(n)
    bad = np.flatnonzero(np.any(np.diff(run_stages(x, stages), axis=1) < 0, axis=1))
    method = f"comparator structure ({len(stages)} stages) + 0-1 principle on {2**n} inputs"
    if bad.size:
        return Proof("failed", method, x[bad[0]].tolist())
    return Proof("proved", method)


MAX_MERGE_WORK = 1 << 33  # top-level test vectors x wires, at most (n = 2048: 2^31)


def _by_merges(n: int, stages) -> Proof:
    """The 0-1 principle by the schedule's merge structure (:mod:`.merges`)."""
    from reluc.constructors.comparators.merges import NotSplit, Unsorted, merge_proof

    head = f"comparator structure ({len(stages)} stages) + 0-1 principle"
    if (n // 2 + 1) * (n - n // 2 + 1) * n > MAX_MERGE_WORK:
        known = _recognise(n, stages)
        if known:
            return Proof("proved", f"comparator structure ({len(stages)} stages) recognised "
                         f"as exactly {known}: sorted by Batcher's theorem (1968; Knuth, "
                         "TAOCP 5.3.4), cited, not tested at this size (reluc's generator of "
                         "it is proved by merges to n = 2048)")
        return Proof("unsupported", f"{head}: the merge tests at n = {n} would run "
                     f"{(n // 2 + 1) * (n - n // 2 + 1)} vectors of {n} wires (at most "
                     f"{MAX_MERGE_WORK} vector-wires)")
    try:
        runs = merge_proof(n, stages)
    except Unsorted as e:
        return Proof("failed", f"{head} by merges", [int(v) for v in e.args[0]])
    except NotSplit as e:
        return Proof("unsupported", f"{head} by merges does not apply: {e}")
    return Proof("proved", f"{head} by merges: each group of wires run on the distinct "
                 f"outputs of the groups it merges, every output at the top sorted; {runs} "
                 f"test vectors instead of 2^{n}")


def _recognise(n: int, stages) -> str | None:
    """The published construction the schedule is, stage by stage (each stage's
    comparators as a set, min wire first), or None: Batcher's odd-even merge sort or
    bitonic sorter of the next power of two, pruned to n wires (comparators touching a
    wire >= n dropped: those wires would hold +inf, which ascending comparators never
    move)."""
    from reluc.constructors.comparators.schedules import bitonic_stages, oddeven_stages

    def key(stage):
        lo, hi = (np.asarray(a, np.int64) for a in stage)
        return np.sort(lo * n + hi)

    for name, make in (("Batcher's odd-even merge sort", oddeven_stages),
                       ("Batcher's bitonic sorter", bitonic_stages)):
        ref = make(n)
        if len(ref) == len(stages) and all(np.array_equal(key(a), key(b))
                                           for a, b in zip(stages, ref)):
            return f"{name} of {1 << (n - 1).bit_length()} wires pruned to {n}"
    return None


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



def _tree_circuit(take_max: bool):
    def run(x):
        while x.shape[1] > 1:
            m = x.shape[1]
            pairs = (np.maximum if take_max else np.minimum)(x[:, 0 : m - 1 : 2], x[:, 1:m:2])
            x = np.concatenate([pairs, x[:, m - 1 :]] if m % 2 else [pairs], axis=1)
        return x
    return run


def prove_tree(take_max: bool):
    def prove(net: Net, params) -> Proof:
        n, shift = params["n"], shift_of(params.get("domain"))
        ref = (np.max if take_max else np.min)
        return _zero_one_against(net, tree_net(n, take_max, shift), _tree_circuit(take_max),
                                 lambda x: ref(x, axis=1, keepdims=True), n, "gadget tree")
    return prove


def selection_prover(outputs_of, weights_of=None, what="pruned sorting network"):
    def prove(net: Net, params) -> Proof:
        n, shift, method = params["n"], shift_of(params.get("domain")), params["method"]
        outs = outputs_of(params)
        w = weights_of(params) if weights_of else None
        stages = sort_stages(n, method)
        if n > MAX_ZERO_ONE:
            return _pruned_sorter(net, params, outs, w, stages, shift, what)
        rebuilt = selection_net(n, outs, method, shift, w)
        if not rebuilt.equals(net):
            return refute(net, params, outs, f"not identical to reluc's {what} for these "
                          "parameters", w)

        def circuit(x):
            y = run_stages(x, stages)[:, outs].astype(np.float64)
            return y if w is None else y @ np.atleast_2d(w).T

        def reference(x):
            y = np.sort(x, axis=1)[:, outs].astype(np.float64)
            return y if w is None else y @ np.atleast_2d(w).T

        return _zero_one_against(net, rebuilt, circuit, reference, n, what)
    return prove


def _pruned_sorter(net: Net, params, outs, w, stages, shift, what) -> Proof:
    """At any n: the sorting network of ``stages`` is decompiled back to them and proved
    a sorter by merges; the selection (``outs``, then ``w``) composed onto its output
    layer gives the whole network; the file is proved to compute the same outputs by
    :func:`_is_pruning` of that whole. Then the file's outputs are those of a sorter."""
    from reluc.calculus import affine, compose, select

    n = params["n"]
    sorter = comparator_net(n, stages, shift)
    if decompile(sorter, shift) is None:  # pragma: no cover (reluc's own layout)
        return Proof("unsupported", "the sorting network is not in reluc's layout")
    pick = select(n, outs) if w is None else compose(select(n, outs),
                                                      affine(np.atleast_2d(w)))
    whole = Net(list(sorter.layers[:-1]) + list(compose(Net([sorter.layers[-1]]), pick).layers))
    reason = _is_pruning(net, whole)
    if reason:
        return refute(net, params, outs, f"not a pruning of the {what}'s sorter: {reason}", w)
    sort = _by_merges(n, stages)
    if sort.status != "proved":
        return Proof(sort.status, f"{what}: its sorter: {sort.method}")
    return Proof("proved", f"{what}: the file is its sorter with only neurons removed that "
                 "reach no output or are always 0 (checked on the file); the sorter: "
                 + sort.method)


def _is_pruning(net: Net, whole: Net) -> str | None:
    """None if ``net`` computes the outputs of ``whole`` because it is ``whole`` with
    neurons removed that are always 0 or feed no kept neuron: every kept neuron's row is
    its row in ``whole`` restricted to the kept neurons before it, every input it loses is
    from a neuron that is always 0 (bias <= 0, all its own inputs always 0), and all
    outputs are kept. Else why not."""
    from reluc.passes import kept_rows

    kept = kept_rows(whole)
    if len(net.layers) != len(whole.layers) or kept[-1].size != whole.n_out:
        return "a different depth, or an output removed"
    before = np.arange(whole.n_in)
    zero = np.zeros(whole.n_in, bool)  # the inputs are never known to be 0
    for k, (mine, full) in enumerate(zip(net.layers, whole.layers)):
        wf = sp.csr_array(full.weight)
        rows = kept[k]
        sub = wf[rows][:, before]
        if sub.shape != mine.weight.shape or (sp.csr_array(mine.weight) != sub).nnz or \
                not np.array_equal(mine.bias, full.bias[rows]):
            return f"layer {k + 1} is not the kept part of the whole"
        lost = np.ones(wf.shape[1], bool)
        lost[before] = False
        lost_cols = sp.csr_array(wf[rows]).tocoo().col
        if np.any(lost[lost_cols] & ~zero[lost_cols]):
            return f"layer {k + 1} loses an input that is not always 0"
        fed = sp.csr_array(wf.multiply(sp.csr_array(~zero[None, :].astype(np.int8))))
        zero = (np.diff(fed.indptr) == 0) & (full.bias <= 0)  # always 0 after the ReLU
        before = rows
    return None
