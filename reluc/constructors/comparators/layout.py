"""The ReLU layout of comparator networks (the gadgets of :mod:`reluc.constructors.comparators`):
a stage's input and output maps, the network as a stream of layers made from two stages'
row tables at a time, max/min trees of 3-neuron gadgets, and selection networks (a sort
pruned to the wanted outputs)."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from reluc import passes
from reluc.calculus import affine, compose, identity, select
from reluc.constructors.comparators.schedules import Stage, sort_stages
from reluc.net import Layer, LayerStream, Net

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
        return LayerStream(n, [n], lambda: iter(identity(n).layers), values=(0, 1),
                           zero_bias=[True])
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
    # biases: the shift's, in the first and last layers (none on R)
    zero = [c == 0] + [True] * (len(stages) - 1) + [c == 0]
    # on R each wire's two neurons are relu(z) and relu(-z) (rows in negated pairs) in
    # every hidden layer; bounded, a wire that is no comparator's minimum has one neuron
    pairs = [not bounded] * len(stages) + [False]
    return LayerStream(n, widths, make, values=values, zero_bias=zero, pairs=pairs)


def comparator_net(n: int, stages: list[Stage], shift: int | None = None) -> Net:
    """:func:`comparator_stream`, held in memory."""
    return comparator_stream(n, stages, shift).materialise()



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
    # the last layer's bias: the selection of the sorter's (zero on R) plus its own
    zero = sort.zero_biases()[:-1] + (sort.zero_biases()[-1] and not last.bias.any(),)
    whole = LayerStream(n, sort.widths_out[:-1] + (last.n_out,), make, values, zero,
                        sort.negated_pairs()[:-1] + (False,))
    return passes.prune_dead_stream(whole)
