"""The complete check of ``reluc verify --complete``: a construction's own proof (the
0-1 principle for comparator networks), or for one-input networks every exact linear
piece on the domain against the reference."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc import exact
from reluc import pieces as pieces_mod
from reluc.analysis.planeproof import prove_plane
from reluc.analysis.treeproof import prove_norm_tree
from reluc.analysis.report import Check, as_exact, counterexample, fmt, show
from reluc.domain import Box
from reluc.registry import Proof

# the exact piece proof stops at this many pieces (sawtooth k=18: about a minute)
MAX_PROOF_PIECES = 1 << 18


def complete_check(net, ctor, values, box, tolerance) -> tuple[Check, dict | None]:
    if ctor.prove is not None and net.n_in > 1:
        proof: Proof = ctor.prove(net, values)
    elif net.n_in == 1 or ctor.elementwise:
        try:
            proof = _prove_1d(net, ctor, values, box, tolerance) if net.n_in == 1 \
                else _prove_elementwise(net, ctor, values, box, tolerance)
        except pieces_mod.TooManyPieces as e:
            proof = Proof("unsupported", f"the network has {e}; the exact piece proof stops "
                          f"at {e.limit}")
    elif net.n_in == 2:
        proof = prove_plane(net, ctor, values, box, tolerance)
    elif ctor.norm_tree and net.n_in == 4:
        proof = prove_norm_tree(net, box, tolerance)
    else:
        proof = Proof("unsupported", "no complete check for networks with several inputs "
                      "that are not comparator networks")
    cex = None
    if proof.status == "failed" and proof.counterexample is not None:
        x = [Fraction(v) for v in proof.counterexample]
        got = exact.evaluate(net, [x])[0]
        want = [as_exact(v) for v in ctor.reference(values, x)]
        cex = counterexample(x, want, got)
    status = {"proved": "pass", "failed": "fail"}.get(proof.status, "skip")
    data = {"result": proof.status}
    if proof.worst is not None:
        data["worst_error"] = fmt(proof.worst)
    return Check("complete", status, proof.method, data), cex


def reads_only_its_own_input(net) -> bool:
    """Whether output i is reached from input i alone, by the weights' nonzeros (so it
    is a function of x_i whatever the values of the weights)."""
    reach = None
    for layer in net.layers:
        w = (abs(layer.weight) > 0).astype(np.int64)
        reach = w if reach is None else (w @ reach)
        reach.data[:] = 1
    coo = sp.coo_array(reach)
    return net.n_in == net.n_out and bool(np.all(coo.row == coo.col))


def _prove_elementwise(net, ctor, values, box, tolerance) -> Proof:
    """An elementwise reference, and output i reads input i alone: output i is the same
    function of x_i as of t on the diagonal x = (t, .., t), so the 1-D proof along the
    diagonal (on the union of the coordinates' ranges) proves every output at once."""
    if not reads_only_its_own_input(net):
        return Proof("unsupported", "an output of the file reads other inputs than its own "
                     "(the elementwise proof needs output i to read input i alone)")
    lo = None if None in box.lo else min(box.lo)
    hi = None if None in box.hi else max(box.hi)
    n = net.n_in
    along = ([Fraction(0)] * n, [Fraction(1)] * n)
    proof = _prove_1d(net, ctor, values, Box((lo,), (hi,)), tolerance, along)
    if proof.counterexample is not None:
        proof = Proof(proof.status, proof.method, [proof.counterexample[0]] * n, proof.worst)
    return Proof(proof.status, f"each output reads its own input alone (the weights' "
                 f"nonzeros); along the diagonal: {proof.method}", proof.counterexample,
                 proof.worst)


def _prove_1d(net, ctor, values, box, tolerance, along=None) -> Proof:
    """Exact pieces of the network on the domain against a piecewise-linear reference:
    between consecutive points of (piece ends, reference breakpoints) both are affine, so
    agreeing at two distinct points of each such interval proves agreement on all of it
    (an unbounded interval is checked at its finite end and one step further). With a
    sup-error rule instead (a smooth reference), the worst error over the pieces."""
    lo, hi = box.lo[0], box.hi[0]
    limit = MAX_PROOF_PIECES
    if ctor.breakpoints is None and ctor.sup_error is not None and lo is not None \
            and hi is not None:
        ps = pieces_mod.pieces(net, lo, hi, limit, along=along)
        worst, where = Fraction(0), lo
        for p in ps:
            err = max(ctor.sup_error(values, p.t0, p.t1, p.slope, p.intercept))
            if err > worst:
                worst, where = err, p.t0
        span = pieces_mod.describe_interval(lo, hi)
        ok = worst <= tolerance
        method = (f"{len(ps)} exact linear pieces on {span}: worst-case error "
                  f"{show(worst)} " + (f"<= bound {show(tolerance)}" if ok else
                                        f"exceeds the bound {show(tolerance)}"))
        return Proof("proved" if ok else "failed", method, None if ok else [where], worst)
    if ctor.breakpoints is None:
        return Proof("unsupported", "the reference is not declared piecewise linear and "
                     "has no sup-error rule")
    bps = ctor.breakpoints(values)
    if len(bps) > limit + 1:
        return Proof("unsupported", f"the reference has {len(bps)} breakpoints; the exact "
                     f"piece proof stops at {limit} pieces")
    ps = pieces_mod.pieces(net, lo, hi, limit, along=along)
    marks = sorted({Fraction(b) for b in bps})
    checked = 0
    where = pieces_mod.describe_interval(lo, hi)
    for p in ps:
        inner = pieces_mod.marks_inside(marks, p.t0, p.t1)
        bounds = [p.t0, *inner, p.t1]
        for s0, s1 in zip(bounds, bounds[1:]):
            if s0 is None and s1 is None:
                probes = [Fraction(0), Fraction(1)]
            elif s0 is None:
                probes = [s1 - 1, s1]
            elif s1 is None:
                probes = [s0, s0 + 1]
            else:
                probes = [s0, s1]
            for t in probes:
                got = p.value(t)
                x = [t] if along is None else [p + t * d for p, d in zip(*along)]
                want = [as_exact(v) for v in ctor.reference(values, x)]
                checked += 1
                if max(abs(g - w) for g, w in zip(got, want)) > tolerance:
                    return Proof("failed", f"exact pieces on {where}", [t])
    merged = len(pieces_mod.merge(ps))
    return Proof("proved", f"{merged} exact linear pieces on {where} agree with the reference "
                 f"at {checked} points, hence everywhere")
