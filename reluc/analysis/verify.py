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

import functools
import itertools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from reluc import exact, formats, registry
from reluc.analysis.complete import complete_check
from reluc.analysis.cores import pool, rows_per_piece
from reluc.analysis.report import Check, Report, counterexample, fmt, show
from reluc.analysis.rounding import (UNIT_ROUNDOFF, advance, bound_terms, float_check,
                                     per_row, recorded_rounding_check, rounding_bound,
                                     runtime_outputs)
from reluc.analysis.samples import clip, near_points, reference_batch, sample_batches
from reluc.errors import RelucError
from reluc.net import prefetch
from reluc.ranges import RangeBound, format_limit
from reluc.domain import Box
from reluc.spec import parse_text


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
        what = "exact" if self.bound == 0 else f"error <= {show(self.bound)}"
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

    from reluc.compiler import compile_spec, runtime_rounding

    say("compiling the spec for comparison")
    compiled = compile_spec(parse_text(report.spec), dtype)
    promise = promise_of(compiled, info, own_spec)
    box = ctor.domain(values)
    rng = np.random.default_rng(seed)
    near = near_points(ctor, values, box, first, rng, max(2, samples // 8) * 4) \
        if n_in == 1 and None not in (box.lo[0], box.hi[0]) else None
    batches = [b for _, b in sample_batches(box, samples, rng, near)]
    floats = [b.floats(dtype) for b in batches]  # the inputs the file's dtype holds exactly
    x = np.vstack([xb[ok] for xb, ok in floats])
    file_net = functools.cache(lambda: formats.read(source)[0])  # read at most once more

    def run_floats():  # the file's runtime, opened and run on the rows (float check)
        runner = (runner_factory or functools.partial(_default_runner, known=(n_in, dtype)))(
            source)  # onnxruntime: its session; scipy: its own read
        return runner, runtime_outputs(runner, x) if len(x) else None

    say("exact check, rounding bound and input limit, a layer at a time; the file's "
        f"runtime ({dtype}) on the same inputs meanwhile")
    with ThreadPoolExecutor(1) as runtime:
        running = runtime.submit(run_floats)
        outs, bound, same, file_out, proved, nonzeros = _one_pass(
            itertools.chain([first], layers), compiled.source, batches,
            [ok for _, ok in floats], dtype, layer_progress)
        if file_out != n_out:
            return structure_fail(n_in, file_out)
        runner, y = running.result()

    limit_check, at_limit = _limit_rows(proved, nonzeros, info, box, dtype, samples, rng)
    if at_limit:  # (a network of few weights: the file is read whole again)
        say("exact check and rounding bound at the input limit")
        limit_floats = [b.floats(dtype) for b in at_limit]
        x_limit = np.vstack([xb[ok] for xb, ok in limit_floats])
        outs += [exact.Evaluator(file_net()).scaled(b) for b in at_limit]
        bound = np.concatenate([bound, rounding_bound(file_net(), x_limit, dtype)])
        batches, floats, x = batches + at_limit, floats + limit_floats, np.vstack([x, x_limit])
        if len(x_limit):
            y_limit = runtime_outputs(runner, x_limit)
            y = y_limit if y is None else np.vstack([y, y_limit])

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
    detail = (f"exact arithmetic on {inputs} inputs: max error {show(ref_err)} "
              f"({promise.describe()})")
    if promise.bound is None:
        detail += (", identical to reluc's build" if ok else
                   f", differs from reluc's build by {show(worst_err)}")
    report.checks.append(Check(
        "exact", "pass" if ok else "fail", detail,
        {"inputs": inputs, "max_error": fmt(ref_err),
         "tolerance": None if promise.bound is None else fmt(promise.bound),
         "promise_from": promise.source, "same_weights_as_build": bool(same)},
    ))  # fmt: skip
    if not ok:
        report.counterexample = counterexample(*worst)

    # -- float check: the file's runtime against the file's exact outputs --
    say(f"float check: the file's runtime ({dtype}) against its rounding bound")
    exact_y = np.vstack([o.approx()[ok] for o, (_, ok) in zip(outs, floats)])
    ref_y = np.vstack([w.approx()[ok] for w, (_, ok) in zip(wants, floats)])
    report.checks.append(float_check(y, x, exact_y, ref_y, bound, dtype))
    if info.rounding is not None and "max_rounding_error" in report.checks[-1].data:
        # the build's figures are the file's when its weights are the build's
        own = compiled.rounding if same and compiled.rounding is not None else \
            runtime_rounding(file_net(), box, dtype)
        report.checks.append(recorded_rounding_check(
            own, info.rounding, dtype, report.checks[-1].data["max_rounding_error"]))
    report.checks.append(limit_check)

    # -- complete check --
    if complete:
        say("complete check")
        if promise.bound is None:
            report.checks.append(Check("complete", "skip", "no error bound to prove",
                                       {"result": "unsupported"}))
        else:
            check, cex = complete_check(file_net(), ctor, values, box, promise.bound)
            report.checks.append(check)
            if cex is not None:  # the proof's own (often simpler than a sample's)
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


def _one_pass(layers, built, batches: list[exact.Scaled], floats: list[np.ndarray],
              dtype: str, progress: Callable[[int, int], None] | None = None):
    """Every layer of the file once: compared with the compiled network's layer (a
    stream is compared as it is made), applied exactly to every batch, and to the
    rounding bound of the rows the dtype holds (``floats``: which rows of each batch);
    work spread over the cores. Returns the exact outputs, the per-row bounds of those
    rows, whether the weights are the build's, the number of outputs, the input limit
    the weights prove (:mod:`reluc.ranges`) and the number of nonzero weights.

    The bound (:mod:`reluc.analysis.rounding`) takes each layer's input from the exact
    values, rounded to float64 (which the 1% of its inflation covers), where
    :func:`~reluc.analysis.rounding.rounding_bound` computes it in float64: one sparse
    product a layer fewer, and no rounding of its own through the layers."""
    # the batches in pieces of rows whose arrays stay under PIECE_BYTES (malloc reuses
    # their memory; above it every layer maps and faults them in afresh): a piece holds
    # its numerators, denominator and the bound on its rows' errors (features, rows)
    rows = rows_per_piece(built.width)
    pieces = [(j, r) for j, b in enumerate(batches) for r in range(0, max(len(b), 1), rows)]
    states = [[batches[j].num[r:r + rows], batches[j].den, None] for j, r in pieces]
    unit = UNIT_ROUNDOFF[dtype]
    theirs = built.iter_layers(ahead=1)  # both made by worker threads while we compute
    same, n_out, limit, nonzeros = True, None, RangeBound(dtype), 0

    def made(layer):  # what the pass takes of a layer, made once, as the file is read
        return layer, exact.IntLayer(layer), bound_terms(layer, unit)

    with pool() as workers:  # (the readers check that consecutive layers fit)
        for i, (layer, int_layer, terms) in enumerate(prefetch(map(made, layers), 1)):
            ours = next(theirs, None)
            same = same and ours is not None and layer.equals(ours)

            def work(st, il=int_layer, relu=i > 0, terms=terms):
                st[2] = advance(terms, _magnitudes(st[0], st[1], relu), st[2])
                st[0], st[1] = exact.step(il, st[0], st[1], relu)

            done = workers.map(work, states)
            limit.add(layer)  # (here while the workers work)
            list(done)
            n_out, nonzeros = layer.n_out, nonzeros + layer.weight.nnz
            if progress:  # the file's depth is not known before its end: the spec's is
                progress(i + 1, max(built.depth, i + 1))
    same = same and next(theirs, None) is None
    outs, bounds = [], []
    for j in range(len(batches)):  # the pieces together again, over one denominator
        mine = [st for (b, _), st in zip(pieces, states) if b == j]
        scaled = [exact.Scaled(num, den) for num, den, _ in mine]
        den = functools.reduce(math.lcm, (m.den for m in scaled), 1)
        outs.append(exact.Scaled(np.vstack([m.rescaled(den).num for m in scaled]), den))
        bounds.append(np.concatenate([per_row(e) for _, _, e in mine])[floats[j]])
    return outs, np.concatenate(bounds), same, n_out, limit.limit(), nonzeros


def _magnitudes(num: np.ndarray, den: int, relu: bool) -> np.ndarray:
    """The rows ``num / den`` as float64 magnitudes, features by rows (ReLU first when
    ``relu``): scaled by a power of two exactly, rounded once at most."""
    k = den.bit_length() - 1
    if num.dtype != object and den == 1 << k:
        h = num.T.astype(np.float64)
        if k:
            np.ldexp(h, -k, out=h)
    else:
        h = np.ascontiguousarray(exact.Scaled(num, den).approx().T)
    return np.maximum(h, 0, out=h) if relu else np.abs(h, out=h)


def _default_runner(source, known: tuple[int, str]):
    """The file's own runtime (what the float check checks), opened without a read of
    the file where that runtime is onnxruntime: the pass reads it (``known``: its inputs
    and dtype)."""
    from reluc.analysis.evaluate import Runner

    return Runner(source, runtime="own", known=known)


# rows at the input limit are computed exactly with Python integers: at most this many
# (rows x nonzeros of the network) of them
MAX_LIMIT_WORK = 1 << 22


def _limit_rows(proved: float, nonzeros: int, info, box: Box, dtype: str, samples: int,
                rng: np.random.Generator) -> tuple[Check, list[exact.Scaled]]:
    """The input limit R (``reluc.ranges``) the weights prove, ``proved``: rows at ``|x|
    = R`` for the exact and float checks (at the limit the file records, when it records
    a larger one than its weights prove), clipped to the domain, fewer the more
    ``nonzeros`` the network has; and the check that the recorded limit is one the
    weights prove."""
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
                MAX_LIMIT_WORK // max(1, nonzeros))
    if v > 0 and not inside and count > 0:
        iv = Fraction(v)
        i = np.arange(n)
        patterns = [np.ones(n), -np.ones(n), (-1.0) ** i, np.eye(n)[rng.integers(n)],
                    -np.eye(n)[rng.integers(n)]]
        patterns += [rng.choice([-1.0, 0.0, 1.0], n) for _ in range(max(0, count - 5))]
        signs = np.array(patterns[:count], dtype=np.int64)
        num = signs.astype(object) * iv.numerator
        rows = [clip(exact.Scaled(num, iv.denominator), box)]
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


def verify_many(paths, **kwargs) -> list[Report]:
    return [verify_file(os.fspath(p), **kwargs) for p in paths]
