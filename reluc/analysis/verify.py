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
limit (always)
    The input limit ``R`` (:mod:`reluc.ranges`: no overflow in the file's dtype for
    ``|x| <= R``), proved from the file's weights; the exact and float checks include rows
    at ``|x| = R`` (at the file's recorded limit when it records a larger one), and the
    check fails when the file records a limit its weights do not prove.
complete (``--complete``, where tractable)
    A proof instead of a test. Networks with one input: every exact linear piece on the
    domain is enumerated in rational arithmetic and compared with a piecewise-linear
    reference on every piece and between its breakpoints. Comparator networks: the
    weights are decompiled into a comparator schedule and the schedule is checked on all
    2^n binary inputs (the 0-1 principle). A pass makes the guarantee ``proved``.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from reluc import exact, formats, registry
from reluc.analysis import pieces as pieces_mod
from reluc.analysis.cores import cores, pool
from reluc.errors import RelucError
from reluc.net import Net, prefetch
from reluc.ranges import format_limit
from reluc.registry import Box, Proof
from reluc.spec import format_number, parse_text

SCHEMA = 3  # 2: float check reports the error where it is largest, promise_from;
# 3: the limit check
_UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}


@dataclass
class Check:
    name: str  # "structure", "exact", "float", "limit", "complete"
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


def _ints_at(values: list[Fraction], den: int) -> np.ndarray:
    """``values * den`` as integers (each must be one), computed once per distinct value."""
    cache = {v: int(v * den) for v in set(values)}
    return exact.int_array(np.array([cache[v] for v in values], dtype=object))


def _clip(batch: exact.Scaled, box: Box) -> exact.Scaled:
    """The rows clipped to the box, exactly (over a denominator the bounds share)."""
    bounds = [v for v in box.lo + box.hi if v is not None]
    if not bounds:
        return batch
    den = math.lcm(batch.den, *{v.denominator for v in bounds})
    num = batch.rescaled(den).num
    for vals, pick in ((box.lo, np.maximum), (box.hi, np.minimum)):
        has = np.array([v is not None for v in vals])
        if has.any():
            limit = _ints_at([v if v is not None else Fraction(0) for v in vals], den)
            if num.dtype != limit.dtype:
                num, limit = num.astype(object), limit.astype(object)
            num = np.where(has, pick(num, limit), num)
    return exact.Scaled(num, den)


def sample_batches(box: Box, count: int, rng: np.random.Generator,
                   near: list[Fraction] | None = None) -> list[tuple[str, exact.Scaled]]:
    """Input rows in the domain, grouped into batches of similar scale (so exact integer
    arithmetic stays in int64), each an exact :class:`~reluc.exact.Scaled` batch made
    with numpy. ``near``: points of interest for one-input networks."""
    n = box.dim
    per = max(2, count // 8)
    lo = [Fraction(-(2**10)) if v is None else v for v in box.lo]
    hi = [Fraction(2**10) if v is None else v for v in box.hi]
    unbounded = any(v is None for v in box.lo + box.hi)
    ints = rng.integers

    # random binary fractions lo + (hi - lo) k / 2^20 on a grid of 2^20 steps
    step = [(b - a) / 2**20 for a, b in zip(lo, hi)]
    den = math.lcm(*{v.denominator for v in lo + step})
    grid = _ints_at(lo, den) + _ints_at(step, den) * ints(0, 2**20 + 1, (2 * per, n))
    i = np.arange(n)
    structured = np.array([np.zeros(n, np.int64), np.full(n, 7), np.full(n, -3), i, n - i]) * 420
    structured = np.vstack([structured, (-1) ** i * i * (420 // (3 + i % 5))])
    batches = [
        ("random binary fractions", exact.Scaled(grid, den)),
        ("integers", exact.Scaled(ints(-1000, 1001, (per, n)))),
        ("ties", exact.Scaled(ints(-2, 3, (per, n)))),
        ("near ties", exact.Scaled(ints(-2, 3, (per, n)) * 2**20 + ints(-1, 2, (per, n)),
                                   2**20)),
        ("structured", exact.Scaled(structured, 420)),
        ("domain corners", exact.Scaled.of([lo, hi, [(a + b) / 2 for a, b in zip(lo, hi)]])),
    ]  # fmt: skip
    if unbounded:
        extreme = np.arange(min(n, per))[:, None] - i[None, :]
        extreme[np.arange(extreme.shape[0]), np.arange(extreme.shape[0])] = 2**50
        batches += [
            ("large magnitudes", exact.Scaled(ints(-(2**20), 2**20 + 1, (per, n)) * 2**30)),
            ("tiny magnitudes", exact.Scaled(ints(-(2**20), 2**20 + 1, (per, n)), 2**60)),
            ("one extreme value", exact.Scaled(extreme)),
        ]
    if near:
        eps = [Fraction(1, 2**30), Fraction(1, 2**12)]
        pts = sorted({p + s * e for p in near for e in eps for s in (-1, 0, 1)})
        pts = [p for p in pts if (box.lo[0] is None or p >= box.lo[0])
               and (box.hi[0] is None or p <= box.hi[0])]  # fmt: skip
        if len(pts) > 4 * per:
            pts = sorted(rng.choice(np.array(pts, dtype=object), 4 * per, replace=False))
        if pts:
            batches.append(("on and next to breakpoints", exact.Scaled.of([[p] for p in pts])))
    return [(name, _clip(b, box)) for name, b in batches if len(b)]


def reference_batch(ctor, values, batch: exact.Scaled) -> tuple[exact.Scaled, bool]:
    """The reference on a batch, exactly; and whether it is exact (a reference that
    returns floats is an approximation of the true function)."""
    if ctor.batch_reference is not None:
        num, den = ctor.batch_reference(values, batch.num, batch.den)
        return exact.Scaled(num, den), True
    outs = [ctor.reference(values, r) for r in batch.rows()]
    is_exact = all(isinstance(v, (Fraction, int)) for out in outs for v in out)
    return exact.Scaled.of([[_as_exact(v) for v in out] for out in outs]), is_exact


# -- checks -------------------------------------------------------------------------------


class _Bound:
    """The rounding bound of the module docstring for rows ``x``, a layer at a time:
    ``e' = |W| e + gamma (|W| (|h| + e) + |b|)``, ``gamma = k u / (1 - k u)``, with the
    activations kept transposed, (features, rows)."""

    def __init__(self, x: np.ndarray, dtype: str):
        self.u = _UNIT_ROUNDOFF[dtype]
        self.h = np.array(x, dtype=np.float64).T.copy()
        self.e = None  # zero before the first layer

    def step(self, layer, relu: bool) -> None:
        """ReLU first when ``relu`` (every layer but the first), then ``layer``."""
        h = np.maximum(self.h, 0, out=self.h) if relu else np.abs(self.h)
        w = layer.weight
        absw = abs(w)
        k = np.diff(w.indptr) + (layer.bias != 0) + 1
        s = absw @ (h if self.e is None else h + self.e)
        s += np.abs(layer.bias)[:, None]
        s *= (k * self.u / (1 - k * self.u))[:, None]
        if self.e is not None:
            s += absw @ self.e
        z = w @ self.h
        z += layer.bias[:, None]
        self.h, self.e = z, s

    def bound(self) -> np.ndarray:
        """Per row, inflated by 1% to cover the bound's own rounding."""
        return np.zeros(self.h.shape[1]) if self.e is None else self.e.max(axis=0) * 1.01

    @classmethod
    def parts(cls, x: np.ndarray, dtype: str) -> list[_Bound]:
        """The rows of ``x`` split into one bound a core."""
        x = np.asarray(x, dtype=np.float64)
        return [cls(x[r], dtype) for r in np.array_split(np.arange(len(x)), cores(len(x)))]


def rounding_bound(net: Net, x: np.ndarray, dtype: str) -> np.ndarray:
    """Per-row bound on |float evaluation - exact evaluation| of ``net`` in ``dtype``
    (see the module docstring), computed in float64; rows are split over the cores."""
    parts = _Bound.parts(x, dtype)
    with pool() as workers:
        for i, layer in enumerate(net.layers):
            list(workers.map(lambda p: p.step(layer, i > 0), parts))
    return np.concatenate([p.bound() for p in parts])


def _as_exact(v) -> Fraction | float:
    return v if isinstance(v, Fraction) else Fraction(v) if isinstance(v, int) else float(v)


def verify_file(path: str, spec_text: str | None = None, samples: int = 200, seed: int = 0,
                complete: bool = False, runner_factory: Callable | None = None,
                progress: Callable[[str], None] | None = None,
                layer_progress: Callable[[int, int], None] | None = None) -> Report:
    """Verify one file; never raises for problems with the file: they become the report
    (``verdict="error"``), so that a batch goes on to the next file.
    ``progress(message)`` at each phase, ``layer_progress(done, total)`` during the pass
    over the layers.

    The file is read in one pass, a layer at a time: each layer is compared with the
    layer the spec compiles to, and moves every exact batch and the rounding bound one
    layer on; so memory holds a few layers, not the network (``--complete`` reads it
    whole again, for the small networks where a proof is tractable)."""
    report = Report(file=path)
    try:
        _verify(report, path, spec_text, samples, seed, complete, runner_factory,
                progress or (lambda msg: None), layer_progress)
    except RelucError as e:  # unreadable, no spec, refused by its runtime, ...
        report.verdict, report.error = "error", str(e)
    return report


@dataclass(frozen=True)
class Promise:
    """What a file must deliver. ``bound``: the sup error allowed against the reference
    on the domain, or None when there is none: then the file must compute exactly what
    reluc's own build of the spec computes (weights rounded where no bound holds, such
    as an unbounded domain), and its error is reported, not judged."""

    bound: Fraction | None
    source: str  # "spec": what reluc's build of the spec promises; "file": its metadata

    def describe(self) -> str:
        if self.bound is None:
            return "promised: reluc's own build, no error bound"
        what = "exact" if self.bound == 0 else f"error <= {_show(self.bound)}"
        return f"promised: {what}" + (", as the file records" if self.source == "file" else "")


def promise_of(compiled, info, own_spec: bool) -> Promise:
    """The bound reluc's build of the spec promises in the file's dtype, tightened by
    what the file's metadata claims when the file is checked against its own spec: a
    file may promise more than the build, never less (its recorded bound is checked,
    not trusted)."""
    bound, source = compiled.error_bound, "spec"
    if own_spec:
        claim = Fraction(0) if info.exact else info.error_bound
        if claim is not None and (bound is None or claim < bound):
            bound, source = claim, "file"
    return Promise(bound, source)


def _verify(report: Report, path, spec_text, samples, seed, complete, runner_factory, say,
            layer_progress) -> None:
    say("reading the file")
    data = formats.load_source(path)  # stdin or a pipe: read once, used by every check
    source = data if data is not None else path
    layers, info = formats.read_layers(source)
    text = spec_text or info.spec
    if not text:
        raise RelucError("the file carries no reluc spec; pass --spec to say what it computes")
    spec = registry.resolve(parse_text(text))
    report.spec = spec.canonical()
    own_spec = info.spec is not None and (spec_text is None or report.spec == info.spec)
    ctor = registry.get(spec.name)
    values = spec.values
    dtype = info.dtype or "float64"
    first = next(layers, None)
    if first is None:
        raise RelucError("the file holds no layers")
    n_in, n_out = ctor.dims(values)

    def structure_fail(file_in: int, file_out: int) -> None:
        report.checks.append(Check("structure", "fail",
                                   f"the file maps {file_in} -> {file_out} values but "
                                   f"{report.spec} maps {n_in} -> {n_out}"))
        report.verdict = "failed"

    if first.n_in != n_in:
        last = first
        for last in layers:  # only to say how many outputs the file has
            pass
        return structure_fail(first.n_in, last.n_out)

    from reluc.compiler import compile_spec

    say("compiling the spec for comparison")
    compiled = compile_spec(parse_text(report.spec), dtype)
    promise = promise_of(compiled, info, own_spec)
    box = ctor.domain(values)
    rng = np.random.default_rng(seed)
    near = _near_points(ctor, values, box, first, rng, max(2, samples // 8) * 4) \
        if n_in == 1 and None not in (box.lo[0], box.hi[0]) else None
    batches = [b for _, b in sample_batches(box, samples, rng, near)]
    say("reading the file's runtime and its input limit")
    runner = (runner_factory or _default_runner)(source)
    limit_check, at_limit = _limit_rows(runner, info, box, dtype, samples, rng)
    batches += at_limit
    floats = [b.floats(dtype) for b in batches]  # the inputs the file's dtype holds exactly
    x = np.vstack([xb[ok] for xb, ok in floats])

    say("exact check and rounding bound, a layer at a time")
    outs, bound, same, file_out = _one_pass(itertools.chain([first], layers),
                                            compiled.source, batches, x, dtype,
                                            layer_progress)
    if file_out != n_out:
        return structure_fail(n_in, file_out)

    # -- exact check: the file's own weights, exactly, against the reference --
    refs = [reference_batch(ctor, values, batch) for batch in batches]
    wants = [want for want, _ in refs]
    ref_err, worst = _worst(batches, outs, wants, all(is_exact for _, is_exact in refs))
    worst_err, tolerance = ref_err, promise.bound
    if promise.bound is None:  # no bound: the file must be reluc's build, exactly
        tolerance = Fraction(0)
        builds = outs if same else [exact.Evaluator(compiled.net).scaled(b) for b in batches]
        worst_err, worst = _worst(batches, outs, builds, True)
    ok = worst_err <= tolerance
    inputs = sum(len(b) for b in batches)
    detail = (f"exact arithmetic on {inputs} inputs: max error {_show(ref_err)} "
              f"({promise.describe()})")
    if promise.bound is None:
        detail += (", identical to reluc's build" if ok else
                   f", differs from reluc's build by {_show(worst_err)}")
    report.checks.append(Check(
        "exact", "pass" if ok else "fail", detail,
        {"inputs": inputs, "max_error": _fmt(ref_err),
         "tolerance": None if promise.bound is None else _fmt(promise.bound),
         "promise_from": promise.source, "same_weights_as_build": bool(same)},
    ))  # fmt: skip
    if not ok:
        report.counterexample = _counterexample(*worst)

    # -- float check: the file's runtime against the file's exact outputs --
    say(f"float check through the file's runtime ({dtype})")
    exact_y = np.vstack([o.approx()[ok] for o, (_, ok) in zip(outs, floats)])
    ref_y = np.vstack([w.approx()[ok] for w, (_, ok) in zip(wants, floats)])
    report.checks.append(_float_check(runner, x, exact_y, ref_y, bound, dtype))
    if limit_check is not None:
        report.checks.append(limit_check)

    # -- complete check --
    if complete:
        say("complete check")
        if promise.bound is None:
            report.checks.append(Check("complete", "skip", "no error bound to prove",
                                       {"result": "unsupported"}))
        else:
            net = formats.read(source)[0]
            check, cex = _complete_check(net, ctor, values, box, promise.bound)
            report.checks.append(check)
            if cex is not None and report.counterexample is None:
                report.counterexample = cex

    statuses = {c.name: c.status for c in report.checks}
    if "fail" in statuses.values():
        report.verdict = "failed"
    else:
        report.verdict = "proved" if statuses.get("complete") == "pass" else "tested"


def _worst(batches, outs, wants, exact_values: bool):
    """The largest |out - want| over all batches (a float when the reference is a float
    approximation), and (input, want, got) of the row where it occurs."""
    worst_err, worst = Fraction(0), None
    for batch, got, want in zip(batches, outs, wants):
        err, row = exact.max_abs_difference(got, want)
        if worst is None or err > worst_err:
            worst_err, worst = err, (batch.rows([row])[0], want.rows([row])[0],
                                     got.rows([row])[0])
    return (worst_err if exact_values else float(worst_err)), worst


def _near_points(ctor, values, box, first, rng, budget: int) -> list[Fraction]:
    """Points of interest of a one-input network: the domain's ends, the reference's
    breakpoints (at most ``budget`` of them, drawn at random from a lazy sequence, so the
    cost follows the samples, not the count) and the first layer's kinks."""
    bps = ctor.breakpoints(values) if ctor.breakpoints else ()
    if len(bps) > budget:
        bps = [bps[int(i)] for i in np.unique(rng.integers(0, len(bps), budget))]
    return [box.lo[0], box.hi[0], *bps, *_first_layer_kinks(first)]


def _one_pass(layers, built, batches: list[exact.Scaled], x: np.ndarray, dtype: str,
              progress: Callable[[int, int], None] | None = None):
    """Every layer of the file once: compared with the compiled network's layer (a
    stream is compared as it is made), applied exactly to every batch, and to the
    rounding bound of the float inputs ``x``; work spread over the cores. Returns the
    exact outputs, the per-row bounds, whether the weights are the build's, and the
    number of outputs."""
    states = [[b.num, b.den] for b in batches]
    parts = _Bound.parts(x, dtype)
    theirs = built.iter_layers(ahead=1)  # both made by worker threads while we compute
    same, n_out = True, None
    with pool() as workers:  # (the readers check that consecutive layers fit)
        for i, layer in enumerate(prefetch(layers, 1)):
            ours = next(theirs, None)
            same = same and ours is not None and layer.equals(ours)
            int_layer = exact.IntLayer(layer)

            def work(k, il=int_layer, lay=layer, relu=i > 0):
                # worker k: its part of the bound rows and every k-th exact batch
                parts[k].step(lay, relu)
                for st in states[k::len(parts)]:
                    st[0], st[1] = exact.step(il, st[0], st[1], relu)

            list(workers.map(work, range(len(parts))))
            n_out = layer.n_out
            if progress:  # the file's depth is not known before its end: the spec's is
                progress(i + 1, max(built.depth, i + 1))
    same = same and next(theirs, None) is None
    outs = [exact.Scaled(num, den) for num, den in states]
    return outs, np.concatenate([p.bound() for p in parts]), same, n_out


def _first_layer_kinks(layer) -> list[Fraction]:
    w = layer.weight.toarray().ravel()
    return [-Fraction(float(b)) / Fraction(float(a)) for a, b in zip(w, layer.bias) if a != 0]


def _default_runner(source):
    from reluc.analysis.evaluate import Runner

    return Runner(source)


# rows at the input limit are computed exactly with Python integers: at most this many
# (rows x nonzeros of the network) of them
MAX_LIMIT_WORK = 1 << 22


def _limit_rows(runner, info, box: Box, dtype: str, samples: int,
                rng: np.random.Generator) -> tuple[Check | None, list[exact.Scaled]]:
    """The input limit R (``reluc.ranges``): rows at ``|x| = R`` for the exact and float
    checks (at the limit the file records, when it records a larger one than its weights
    prove), clipped to the domain; and the check that the recorded limit is one the
    weights prove. None and no rows for a runtime that has no limit (a test double)."""
    proved = getattr(runner, "limit", None)
    if proved is None:
        return None, []
    recorded = info.input_limit
    r = max(proved, recorded or 0.0)
    big = float(np.finfo(dtype).max)
    v = float(np.dtype(dtype).type(min(r, big)))
    if v > r:  # the dtype's nearest value is above R: the next one down
        v = float(np.nextafter(np.dtype(dtype).type(v), np.dtype(dtype).type(0)))
    inside = all(lo is not None and hi is not None and -v <= lo and hi <= v
                 for lo, hi in zip(box.lo, box.hi))
    rows: list[exact.Scaled] = []
    n = box.dim
    count = min(max(2, samples // 8),
                MAX_LIMIT_WORK // max(1, getattr(runner, "nonzeros", 1) or 1))
    if v > 0 and not inside and count > 0:
        iv = Fraction(v)
        i = np.arange(n)
        patterns = [np.ones(n), -np.ones(n), (-1.0) ** i, np.eye(n)[rng.integers(n)],
                    -np.eye(n)[rng.integers(n)]]
        patterns += [rng.choice([-1.0, 0.0, 1.0], n) for _ in range(max(0, count - 5))]
        signs = np.array(patterns[:count], dtype=np.int64)
        num = signs.astype(object) * iv.numerator
        rows = [_clip(exact.Scaled(num, iv.denominator), box)]
    data = {"input_limit": proved, "recorded": recorded,
            "inputs_at_limit": sum(len(b) for b in rows)}
    if recorded is not None and recorded > proved:
        return Check("limit", "fail",
                     f"the file records the input limit |x| <= {format_limit(recorded)}, its "
                     f"weights prove only {format_limit(proved)} (no overflow in {dtype})",
                     data), rows
    if rows:
        where = f"{len(rows[0])} inputs at |x| = {v:.3g} in the exact and float checks"
    elif inside or v == 0:
        where = "the domain lies inside it" if inside else "no input is sampled at it"
    else:  # exact rows at the limit need Python integers: too slow on this many weights
        where = "no input sampled at it (too many weights for exact rows of that size)"
    return Check("limit", "pass",
                 f"input limit |x| <= {format_limit(proved)} proved from the weights "
                 f"(no overflow in {dtype}); {where}",
                 data), rows


def _float_check(runner, x, exact_y, ref_y, bound, dtype) -> Check:
    """The file's runtime in its dtype: it passes when every output is within the
    network's own rounding bound of the file's exact output; the error reported is
    against the reference (what a user gets), at the output where it is largest."""
    if not len(x):
        return Check("float", "skip", f"no test input is exactly representable in {dtype}")
    runner.guard = False  # rows past the proved limit: what the runtime gives, inf or not
    with np.errstate(over="ignore", invalid="ignore"):
        y = runner(x).astype(np.float64)
        rounding = np.abs(y - exact_y)
    ok = bool(np.all(rounding <= bound[:, None]))  # (inf and NaN are never within)
    finite = np.isfinite(y).all(axis=1)  # the figures below are of the rows that did not
    x_all = x  # overflow (JSON has no inf or NaN); those rows are counted apart
    if not finite.any():
        return Check("float", "fail", f"{dtype} runtime: outputs overflow to inf or NaN on "
                     f"all {len(x)} inputs", {"dtype": dtype, "inputs": len(x),
                                              "overflowed_inputs": len(x)})
    y, x, bound = y[finite], x[finite], bound[finite]
    exact_y, ref_y, rounding = exact_y[finite], ref_y[finite], rounding[finite]
    err = np.abs(y - ref_y)
    at = np.unravel_index(int(np.argmax(err)), err.shape)
    largest, value = float(err[at]), float(ref_y[at])
    ulp = float(np.spacing(np.dtype(dtype).type(abs(value))))
    nonzero = ref_y != 0
    data = {
        "dtype": dtype, "inputs": len(x_all), "max_abs_error": largest,
        "output_at_max_error": value, "ulps_at_max_error": largest / ulp,
        "max_rel_error": float((err[nonzero] / np.abs(ref_y[nonzero])).max(initial=0.0)),
        "bitwise_exact_fraction": float(np.mean(err == 0)),
        "max_rounding_error": float(rounding.max()), "max_bound": float(bound.max()),
        "overflowed_inputs": int((~finite).sum()),
    }  # fmt: skip
    if not finite.all():  # an overflow: say where, not "error nan"
        i = int(np.flatnonzero(~finite)[0])
        detail = (f"{dtype} runtime: outputs overflow to inf or NaN on {int((~finite).sum())} "
                  f"of {len(x_all)} inputs (first: |x| = {np.abs(x_all[i]).max():.3g})")
    elif largest == 0:
        detail = f"{dtype} runtime: no error on {len(x)} inputs"
    else:
        detail = (f"{dtype} runtime: largest error {largest:.3g} where the output is "
                  f"{value:.6g} ({largest / ulp:.3g} ulp of it)")
        if float(rounding.max()) != largest:  # an approximation: its own error is part of it
            detail += f"; rounding error {float(rounding.max()):.3g}"
    verdict = "within" if ok else "OVER"
    return Check("float", "pass" if ok else "fail",
                 f"{detail}, {verdict} the rounding bound", data)


# the exact piece proof stops at this many pieces (sawtooth k=18: about a minute)
MAX_PROOF_PIECES = 1 << 18


def _complete_check(net, ctor, values, box, tolerance) -> tuple[Check, dict | None]:
    if ctor.prove is not None and net.n_in > 1:
        proof: Proof = ctor.prove(net, values)
    elif net.n_in == 1:
        try:
            proof = _prove_1d(net, ctor, values, box, tolerance)
        except pieces_mod.TooManyPieces as e:
            proof = Proof("unsupported", f"the network has {e}; the exact piece proof stops "
                          f"at {e.limit}")
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
    data = {"result": proof.status}
    if proof.worst is not None:
        data["worst_error"] = _fmt(proof.worst)
    return Check("complete", status, proof.method, data), cex


def _prove_1d(net, ctor, values, box, tolerance) -> Proof:
    """Exact pieces of the network on the domain against a piecewise-linear reference:
    between consecutive points of (piece ends, reference breakpoints) both are affine, so
    agreeing at two distinct points of each such interval proves agreement on all of it
    (an unbounded interval is checked at its finite end and one step further). With a
    sup-error rule instead (a smooth reference), the worst error over the pieces."""
    lo, hi = box.lo[0], box.hi[0]
    limit = MAX_PROOF_PIECES
    if ctor.breakpoints is None and ctor.sup_error is not None and lo is not None \
            and hi is not None:
        ps = pieces_mod.pieces(net, lo, hi, limit)
        worst, where = Fraction(0), lo
        for p in ps:
            err = max(ctor.sup_error(values, p.t0, p.t1, p.slope, p.intercept))
            if err > worst:
                worst, where = err, p.t0
        span = pieces_mod.describe_interval(lo, hi)
        ok = worst <= tolerance
        method = (f"{len(ps)} exact linear pieces on {span}: worst-case error "
                  f"{_show(worst)} " + (f"<= bound {_show(tolerance)}" if ok else
                                        f"exceeds the bound {_show(tolerance)}"))
        return Proof("proved" if ok else "failed", method, None if ok else [where], worst)
    if ctor.breakpoints is None:
        return Proof("unsupported", "the reference is not declared piecewise linear and "
                     "has no sup-error rule")
    bps = ctor.breakpoints(values)
    if len(bps) > limit + 1:
        return Proof("unsupported", f"the reference has {len(bps)} breakpoints; the exact "
                     f"piece proof stops at {limit} pieces")
    ps = pieces_mod.pieces(net, lo, hi, limit)
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
                want = [_as_exact(v) for v in ctor.reference(values, [t])]
                checked += 1
                if max(abs(g - w) for g, w in zip(got, want)) > tolerance:
                    return Proof("failed", f"exact pieces on {where}", [t])
    merged = len(pieces_mod.merge(ps))
    return Proof("proved", f"{merged} exact linear pieces on {where} agree with the reference "
                 f"at {checked} points, hence everywhere")


def verify_many(paths, **kwargs) -> list[Report]:
    return [verify_file(os.fspath(p), **kwargs) for p in paths]
