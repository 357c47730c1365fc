"""``reluc verify``: does a file compute what its spec promises?

For each file the spec comes from its metadata (or ``--spec``); the constructor supplies
the reference function, the domain and the promise (exact, or an error bound). Checks:

exact (always)
    The file's own weights, evaluated in exact rational arithmetic on inputs drawn from
    the domain: random binary fractions at several scales, integers, ties, all-equal rows,
    zeros, negatives, extreme magnitudes, points on and next to breakpoints. An exact
    construction must give zero error, an approximation must stay within its bound. A
    pass is a *test*: the guarantee is ``tested``.
float (always)
    The file run through its own runtime (onnxruntime for .onnx, numpy for .npz) in its
    own dtype on the same inputs, compared with the exact reference: max absolute,
    relative and ulp error. It fails only above the rounding bound of the network itself:
    per layer ``|fl(W h + b) - (W h + b)| <= gamma_k (|W| |h| + |b|)`` with
    ``gamma_k = k u / (1 - k u)``, ``k`` the nonzeros of a row plus one and ``u`` the unit
    roundoff (Higham's dot-product bound), propagated through the layers (ReLU is
    1-Lipschitz) and evaluated on each input, plus the reference's own bound.
complete (``--complete``, where tractable)
    A proof instead of a test. Networks with one input: every exact linear piece on the
    domain is enumerated in rational arithmetic and compared with a piecewise-linear
    reference on every piece and between its breakpoints. Comparator networks: the
    weights are decompiled into a comparator schedule and the schedule is checked on all
    2^n binary inputs (the 0-1 principle). A pass makes the guarantee ``proved``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from reluc import exact, formats, registry
from reluc.analysis import pieces as pieces_mod
from reluc.errors import RelucError
from reluc.net import Net
from reluc.registry import Box, Proof
from reluc.spec import format_number, parse_text

SCHEMA = 1
_UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}


@dataclass
class Check:
    name: str  # "structure", "exact", "float", "complete"
    status: str  # "pass", "fail", "skip"
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    file: str
    spec: str | None = None
    verdict: str = "error"  # "proved", "tested", "failed", "error"
    checks: list[Check] = field(default_factory=list)
    counterexample: dict[str, Any] | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict in ("proved", "tested")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "file": self.file,
            "spec": self.spec,
            "verdict": self.verdict,
            "passed": self.passed,
            "error": self.error,
            "checks": {c.name: {"status": c.status, "detail": c.detail, **c.data}
                       for c in self.checks},
            "counterexample": self.counterexample,
        }  # fmt: skip


def _fmt(v) -> str:
    return format_number(v) if isinstance(v, (Fraction, int)) else repr(v)


def _show(v) -> str:
    """A value for a message: exact when short, else a 6-digit approximation."""
    text = _fmt(v)
    return text if len(text) <= 24 else f"~{float(v):.6g}"


def _counterexample(x, want, got) -> dict[str, Any]:
    errs = [abs(g - w) for g, w in zip(got, want)]
    worst = max(range(len(errs)), key=lambda i: errs[i])
    return {
        "input": [_fmt(v) for v in x],
        "expected": [_fmt(v) for v in want],
        "actual": [_fmt(v) for v in got],
        "output_index": worst,
        "error": _fmt(errs[worst]),
    }


# -- inputs -------------------------------------------------------------------------------


def _dyadic(rng: random.Random, lo: Fraction, hi: Fraction, bits: int = 20) -> Fraction:
    """A random binary fraction in [lo, hi] on a grid of 2^bits steps (float32-exact for
    modest ranges)."""
    return lo + (hi - lo) * Fraction(rng.randint(0, 2**bits), 2**bits)


def sample_batches(box: Box, count: int, rng: random.Random,
                   near: list[Fraction] | None = None) -> list[tuple[str, list[list[Fraction]]]]:
    """Input rows in the domain, grouped into batches of similar scale (so exact integer
    arithmetic stays in int64). ``near``: points of interest for one-input networks."""
    n = box.dim
    per = max(2, count // 8)
    lo = [Fraction(-(2**10)) if v is None else v for v in box.lo]
    hi = [Fraction(2**10) if v is None else v for v in box.hi]
    unbounded = any(v is None for v in box.lo + box.hi)

    def clip(row):
        return [min(max(v, a), b) if (a is not None and b is not None) else
                max(v, a) if a is not None else min(v, b) if b is not None else v
                for v, a, b in zip(row, box.lo, box.hi)]  # fmt: skip

    def rows(make, k=per):
        return [clip([make(i) for i in range(n)]) for _ in range(k)]

    batches = [
        ("random binary fractions", rows(lambda i: _dyadic(rng, lo[i], hi[i]), 2 * per)),
        ("integers", rows(lambda i: Fraction(rng.randint(-1000, 1000)))),
        ("ties", rows(lambda i: Fraction(rng.randint(-2, 2)))),
        ("near ties", rows(lambda i: Fraction(rng.randint(-2, 2)) + rng.choice([0, 1, -1]) *
                           Fraction(1, 2**20))),
        ("structured", [clip(r) for r in [[Fraction(0)] * n, [Fraction(7)] * n,
                                          [Fraction(-3)] * n, [Fraction(i) for i in range(n)],
                                          [Fraction(n - i) for i in range(n)],
                                          [Fraction((-1) ** i * i, 3 + i % 5) for i in range(n)]]]),
        ("domain corners", [list(lo), list(hi), [(a + b) / 2 for a, b in zip(lo, hi)]]),
    ]  # fmt: skip
    if unbounded:
        batches += [
            ("large magnitudes", rows(lambda i: Fraction(rng.randint(-(2**20), 2**20) * 2**30))),
            ("tiny magnitudes", rows(lambda i: Fraction(rng.randint(-(2**20), 2**20), 2**60))),
            ("one extreme value", [clip([Fraction(2**50) if i == j else Fraction(j - i)
                                         for i in range(n)]) for j in range(min(n, per))]),
        ]  # fmt: skip
    if near:
        eps = [Fraction(1, 2**30), Fraction(1, 2**12)]
        pts = sorted({p + s * e for p in near for e in eps for s in (-1, 0, 1)})
        pts = [p for p in pts if (box.lo[0] is None or p >= box.lo[0])
               and (box.hi[0] is None or p <= box.hi[0])]  # fmt: skip
        if len(pts) > 4 * per:
            pts = sorted(rng.sample(pts, 4 * per))
        batches.append(("on and next to breakpoints", [[p] for p in pts]))
    return [(name, [list(r) for r in b]) for name, b in batches if b]


# -- checks -------------------------------------------------------------------------------


def rounding_bound(net: Net, x: np.ndarray, dtype: str) -> np.ndarray:
    """Per-row bound on |float evaluation - exact evaluation| of ``net`` in ``dtype``
    (see the module docstring). Computed in float64 and inflated by 1% to cover the
    bound's own rounding."""
    u = _UNIT_ROUNDOFF[dtype]
    h = np.asarray(x, dtype=np.float64)
    e = np.zeros_like(h)
    last = net.depth - 1
    for i, layer in enumerate(net.layers):
        w = layer.weight
        absw = abs(w)
        k = np.diff(w.indptr) + (layer.bias != 0) + 1
        gamma = k * u / (1 - k * u)
        z = (w @ h.T).T + layer.bias
        e = (absw @ e.T).T + gamma * ((absw @ (np.abs(h) + e).T).T + np.abs(layer.bias))
        h = np.maximum(z, 0) if i < last else z
    return e.max(axis=1) * 1.01


def _representable(rows: list[list[Fraction]], dtype: str) -> list[bool]:
    t = np.dtype(dtype).type
    return [all(Fraction(float(t(float(v)))) == v for v in r) for r in rows]


def _as_exact(v) -> Fraction | float:
    return v if isinstance(v, Fraction) else Fraction(v) if isinstance(v, int) else float(v)


def verify_file(path: str, spec_text: str | None = None, samples: int = 200, seed: int = 0,
                complete: bool = False, runner_factory: Callable | None = None,
                progress: Callable[[str], None] | None = None) -> Report:
    """Verify one file; never raises for problems with the file (they become the report)."""
    report = Report(file=path)
    say = progress or (lambda msg: None)
    try:
        net, info = formats.read(path)
        text = spec_text or info.spec
        if not text:
            raise RelucError("the file carries no reluc spec; pass --spec to say what it computes")
        spec = registry.resolve(parse_text(text))
        report.spec = spec.canonical()
        ctor = registry.get(spec.name)
        values = spec.values
        dtype = info.dtype or "float64"
    except RelucError as e:
        report.error = str(e)
        return report

    n_in, n_out = ctor.dims(values)
    if (net.n_in, net.n_out) != (n_in, n_out):
        report.checks.append(Check("structure", "fail",
                                   f"the file maps {net.n_in} -> {net.n_out} values but "
                                   f"{report.spec} maps {n_in} -> {n_out}"))
        report.verdict = "failed"
        return report

    from reluc.compiler import compile_spec

    say("compiling the spec for comparison")
    compiled = compile_spec(parse_text(report.spec), dtype)
    same = net.equals(compiled.net)
    # Rounded weights whose error cannot be bounded (several inputs) are held to exactness.
    tolerance = compiled.error_bound if compiled.error_bound is not None else Fraction(0)
    box = ctor.domain(values)
    rng = random.Random(seed)
    near = None
    if net.n_in == 1 and box.lo[0] is not None and box.hi[0] is not None:
        near = [box.lo[0], box.hi[0]] + list(ctor.breakpoints(values) if ctor.breakpoints else [])
        near += _first_layer_kinks(net)
    batches = sample_batches(box, samples, rng, near)

    # -- exact check --
    say("exact check")
    evaluator = exact.Evaluator(net)
    worst_err, worst = Fraction(0), None
    all_rows, all_want = [], []
    for _, rows in batches:
        got = evaluator(rows)
        want = [[_as_exact(v) for v in ctor.reference(values, r)] for r in rows]
        for r, g, w in zip(rows, got, want):
            err = max(abs(a - b) for a, b in zip(g, w))
            if err > worst_err or worst is None:
                worst_err, worst = err, (r, w, g)
        all_rows += rows
        all_want += want
    ok = worst_err <= tolerance
    promise = "promised: exact" if tolerance == 0 else f"promised: error <= {_show(tolerance)}"
    report.checks.append(Check(
        "exact", "pass" if ok else "fail",
        f"exact arithmetic on {len(all_rows)} inputs: max error {_show(worst_err)} ({promise})",
        {"inputs": len(all_rows), "max_error": _fmt(worst_err), "tolerance": _fmt(tolerance),
         "same_weights_as_build": bool(same)},
    ))  # fmt: skip
    if not ok:
        report.counterexample = _counterexample(*worst)

    # -- float check --
    say(f"float check through the file's runtime ({dtype})")
    report.checks.append(_float_check(path, net, dtype, all_rows, all_want, tolerance,
                                      runner_factory))

    # -- complete check --
    if complete:
        say("complete check")
        check, cex = _complete_check(net, ctor, values, box, tolerance)
        report.checks.append(check)
        if cex is not None and report.counterexample is None:
            report.counterexample = cex

    statuses = {c.name: c.status for c in report.checks}
    if "fail" in statuses.values():
        report.verdict = "failed"
    else:
        report.verdict = "proved" if statuses.get("complete") == "pass" else "tested"
    return report


def _first_layer_kinks(net: Net) -> list[Fraction]:
    layer = net.layers[0]
    w = layer.weight.toarray().ravel()
    return [-Fraction(float(b)) / Fraction(float(a)) for a, b in zip(w, layer.bias) if a != 0]


def _float_check(path, net, dtype, rows, want, tolerance, runner_factory) -> Check:
    from reluc.analysis.evaluate import Runner

    keep = _representable(rows, dtype)
    rows = [r for r, k in zip(rows, keep) if k]
    want = [w for w, k in zip(want, keep) if k]
    if not rows:
        return Check("float", "skip", f"no test input is exactly representable in {dtype}")
    x = np.array([[float(v) for v in r] for r in rows])
    runner = (runner_factory or Runner)(path)
    y = runner(x).astype(np.float64)
    exact_y = np.array([[float(v) for v in w] for w in want])
    err = np.abs(y - exact_y)
    bound = rounding_bound(net, x, dtype)[:, None] + float(tolerance)
    ok = bool(np.all(err <= bound))
    # ulps of the output range: relative to the largest exact output of the whole batch
    scale = max(float(np.abs(exact_y).max()), float(np.finfo(dtype).tiny))
    ulps = err / float(np.spacing(np.dtype(dtype).type(scale)))
    rel = err / np.maximum(np.abs(exact_y), np.finfo(dtype).tiny)
    data = {
        "dtype": dtype, "inputs": len(rows), "max_abs_error": float(err.max()),
        "max_rel_error": float(rel.max()), "max_ulps_of_output_range": float(ulps.max()),
        "bitwise_exact_fraction": float(np.mean(err == 0)),
        "max_bound": float(bound.max()),
        "max_error_over_bound": float((err / bound).max()) if np.all(bound > 0) else None,
    }  # fmt: skip
    detail = (f"{dtype} runtime: max error {err.max():.3g} ({ulps.max():.2g} ulp of the output "
              f"range), {'within' if ok else 'OVER'} the rounding bound")
    return Check("float", "pass" if ok else "fail", detail, data)


def _complete_check(net, ctor, values, box, tolerance) -> tuple[Check, dict | None]:
    if ctor.prove is not None and net.n_in > 1:
        proof: Proof = ctor.prove(net, values)
    elif net.n_in == 1:
        proof = _prove_1d(net, ctor, values, box, tolerance)
    else:
        proof = Proof("unsupported", "no complete check for networks with several inputs "
                      "that are not comparator networks")
    cex = None
    if proof.status == "failed" and proof.counterexample is not None:
        x = [Fraction(v) for v in proof.counterexample]
        got = exact.evaluate(net, [x])[0]
        want = [_as_exact(v) for v in ctor.reference(values, x)]
        cex = _counterexample(x, want, got)
    status = {"proved": "pass", "failed": "fail"}.get(proof.status, "skip")
    return Check("complete", status, proof.method, {"result": proof.status}), cex


def _prove_1d(net, ctor, values, box, tolerance) -> Proof:
    """Exact pieces of the network on the domain against a piecewise-linear reference:
    between consecutive points of (piece ends, reference breakpoints) both are affine, so
    agreeing at two distinct points of each such interval proves agreement on all of it
    (an unbounded interval is checked at its finite end and one step further)."""
    lo, hi = box.lo[0], box.hi[0]
    if ctor.breakpoints is None and ctor.sup_error is not None and lo is not None \
            and hi is not None:
        ps = pieces_mod.pieces(net, lo, hi)
        worst, where = Fraction(0), lo
        for p in ps:
            err = max(ctor.sup_error(values, p.t0, p.t1, p.slope, p.intercept))
            if err > worst:
                worst, where = err, p.t0
        span = pieces_mod.describe_interval(lo, hi)
        method = (f"{len(ps)} exact linear pieces on {span}: worst-case error "
                  f"{_show(worst)} <= bound {_show(tolerance)}" if worst <= tolerance else
                  f"{len(ps)} exact linear pieces on {span}: worst-case error "
                  f"{_show(worst)} exceeds the bound {_show(tolerance)}")
        return Proof("proved" if worst <= tolerance else "failed", method,
                     None if worst <= tolerance else [where])
    if ctor.breakpoints is None:
        return Proof("unsupported", "the reference is not declared piecewise linear and "
                     "has no sup-error rule")
    ps = pieces_mod.pieces(net, lo, hi)
    marks = sorted({Fraction(b) for b in ctor.breakpoints(values)})
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
                want = [_as_exact(v) for v in ctor.reference(values, [t])]
                checked += 1
                if max(abs(g - w) for g, w in zip(got, want)) > tolerance:
                    return Proof("failed", f"exact pieces on {where}", [t])
    merged = len(pieces_mod.merge(ps))
    return Proof("proved", f"{merged} exact linear pieces on {where} agree with the reference "
                 f"at {checked} points, hence everywhere")


def verify_many(paths, **kwargs) -> list[Report]:
    return [verify_file(os.fspath(p), **kwargs) for p in paths]
