"""``reluc vnnlib``: verification benchmarks whose answers are known, in the layout of the
yearly verification competition (VNN-COMP): ``onnx/`` (the network as a dense Gemm
chain), ``vnnlib/`` (one property a file), ``instances.csv`` (network, property,
timeout) and ``manifest.json`` (each instance's expected answer, how reluc established
it, and for a violated one an exact counterexample).

A property is an input box and an unsafe set, a disjunction of conjunctions of linear
constraints ``P - M >= c`` on inputs ``X_i`` and outputs ``Y_j`` (a verifier answers
``unsat`` when no input of the box reaches the unsafe set: the property holds; ``sat``
with a counterexample otherwise). Every answer comes from reluc's exact analysis of the
file's own weights, never from the construction alone:

- comparator networks (sort, max, min, topk, ...): the construction's complete proof
  (the 0-1 principle, run on the file) shows the file computes its function exactly
  everywhere; the holding properties are facts of that function (outputs ordered, the
  maximum dominates every input), and each violated twin (the order reversed, the
  maximum at most the first input) gets a counterexample evaluated exactly;
- networks of one or two inputs: the exact linear pieces (or the exact planar
  subdivision) of the box give the network's exact range; the property "the output
  stays within [min f - bound, max f + bound]" (f the reference on the box, the bound
  the declared one) holds exactly when the range is inside it, and its twin, the bound
  tightened past the network's true maximum, is violated at the exact maximiser.

Numbers are written as exact decimals (every bound is a binary fraction)."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from fractions import Fraction
from types import SimpleNamespace

from reluc import exact, formats
from reluc.errors import RelucError
from reluc.numbers import format_number

SCHEMA = 1
MARGIN = Fraction(1, 1 << 10)  # unsafe sets are this far past what holds (no ties)

Term = tuple[str | None, str | None, Fraction]  # P - M >= c (a missing one counts 0)


@dataclass
class Property:
    name: str
    claim: str  # what the property says, in words
    box: list[tuple[Fraction, Fraction]]
    unsafe: list[list[Term]]  # a disjunction of conjunctions
    expected: str = "unsat"
    established: str = ""
    counterexample: list[Fraction] | None = None


def decimal(v: Fraction) -> str:
    """The exact decimal of a binary fraction (VNN-LIB numerals are decimals)."""
    v = Fraction(v)
    k = v.denominator.bit_length() - 1
    if v.denominator != 1 << k:
        raise RelucError(f"{format_number(v)} is not a binary fraction; VNN-LIB numbers are "
                         "written as exact decimals")
    digits = abs(v.numerator) * 5 ** k
    sign = "-" if v < 0 else ""
    whole, frac = divmod(digits, 10 ** k)
    return f"{sign}{whole}" + (f".{frac:0{k}d}".rstrip("0") if frac else ".0")


def to_vnnlib(p: Property, n_in: int, n_out: int, spec: str) -> str:
    lines = [f"; {spec}: {p.claim}", f"; expected: {p.expected} ({p.established})"]
    lines += [f"(declare-const X_{i} Real)" for i in range(n_in)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(n_out)]
    lines.append("; the input box")
    for i, (lo, hi) in enumerate(p.box):
        lines += [f"(assert (<= X_{i} {decimal(hi)}))", f"(assert (>= X_{i} {decimal(lo)}))"]
    lines.append("; the unsafe set")

    def term(t: Term) -> str:
        pos, neg, c = t
        if pos is None:
            return f"(<= {neg} {decimal(-c)})"
        return f"(>= {pos if neg is None else f'(- {pos} {neg})'} {decimal(c)})"
    conj = [f"(and {' '.join(term(t) for t in c)})" for c in p.unsafe]
    lines.append(f"(assert (or {' '.join(conj)}))")
    return "\n".join(lines) + "\n"


def reaches(p: Property, x: list[Fraction], y: list[Fraction]) -> bool:
    """Whether the point (x, y) is in the box and in the unsafe set, exactly."""
    val = {**{f"X_{i}": v for i, v in enumerate(x)}, **{f"Y_{j}": v for j, v in enumerate(y)}}
    inside = all(lo <= v <= hi for v, (lo, hi) in zip(x, p.box))
    return inside and any(all((val[a] if a else 0) - (val[b] if b else 0) >= c
                              for a, b, c in conj) for conj in p.unsafe)


# -- the families -----------------------------------------------------------------------
def _comparator(net, ctor, values, box) -> list[Property]:
    proof = ctor.prove(net, values)
    if proof.status != "proved":
        raise RelucError(f"cannot establish the answers: the file's complete check says "
                         f"{proof.status} ({proof.method})")
    how = f"the file's complete check: {proof.method}"
    n, m, name = net.n_in, net.n_out, ctor.name
    lo, hi = box[0]
    props = []
    if name in ("sort", "topk") and m > 1:
        up = name == "sort"  # sort ascends, topk descends (largest first)
        order = "ascending" if up else "descending"
        pairs = [(f"Y_{j}", f"Y_{j + 1}") if up else (f"Y_{j + 1}", f"Y_{j}")
                 for j in range(m - 1)]
        props.append(Property("ordered", f"the outputs are in {order} order", box,
                              [[(a, b, MARGIN)] for a, b in pairs], "unsat", how))
        x = [lo] + [hi] * (n - 1) if up else [hi] + [lo] * (n - 1)
        props.append(Property("reversed", "the outputs are in the opposite order (false)",
                              box, [[(b, a, MARGIN)] for a, b in pairs], "sat", how, x))
    if name in ("max", "topk", "sort"):  # the largest output dominates every input
        top = "Y_0" if name in ("max", "topk") else f"Y_{m - 1}"
        props.append(Property("dominates", f"{top} is at least every input", box,
                              [[(f"X_{i}", top, MARGIN)] for i in range(n)], "unsat", how))
        props.append(Property("at-most-first", f"{top} is at most X_0 (false)", box,
                              [[(top, "X_0", MARGIN)]], "sat", how, [lo] + [hi] * (n - 1)))
    if name in ("sort", "kth") and n <= 10:  # an output equals some input
        j = (m - 1) // 2 if name == "sort" else 0
        y = f"Y_{j}"
        signs = [[(y, f"X_{i}", MARGIN) if (s >> i) & 1 else (f"X_{i}", y, MARGIN)
                  for i in range(n)] for s in range(1 << n)]  # Y differs from every X_i
        props.append(Property("equals-an-input", f"{y} equals one of the inputs", box,
                              signs, "unsat", how))
        # the twin: it equals X_0; false where X_0 is not the middle (or k-th) value
        x = [hi] + [lo] * (n - 1) if name == "sort" or _kth_not_first(values, n) else \
            [lo] + [hi] * (n - 1)
        props.append(Property("equals-first", f"{y} equals X_0 (false)", box,
                              [[(y, "X_0", MARGIN)], [("X_0", y, MARGIN)]], "sat", how, x))
    if name == "min":
        props.append(Property("dominated", "Y_0 is at most every input", box,
                              [[("Y_0", f"X_{i}", MARGIN)] for i in range(n)], "unsat", how))
        props.append(Property("at-least-first", "Y_0 is at least X_0 (false)", box,
                              [[("X_0", "Y_0", MARGIN)]], "sat", how, [hi] + [lo] * (n - 1)))
    if not props:
        raise RelucError(f"no benchmark properties for '{name}' yet (sort, topk, max, min, "
                         "and one-input networks have them)")
    return props


def _kth_not_first(values, n) -> bool:
    """Whether X_0 largest (the others equal) puts something else at rank k."""
    return int(values.get("k", 1)) < n


def _one_input(net, ctor, values, box) -> list[Property]:
    """The exact pieces on the box: the network's extremes are at the pieces' ends."""
    from reluc.pieces import pieces

    (lo, hi), = box
    ps = pieces(net, lo, hi)
    ends = [[ps[0].t0]] + [[p.t1] for p in ps]
    ys = [ps[0].value(ps[0].t0)[0]] + [p.value(p.t1)[0] for p in ps]
    grid = [[lo + (hi - lo) * Fraction(i, 64)] for i in range(65)]
    return _range(ctor, values, box, ends, ys, grid,
                  f"the {len(ps)} exact linear pieces on the box")


def _two_inputs(net, ctor, values, box) -> list[Property]:
    """The exact planar subdivision of the box: the network is affine on each face, so
    its extremes are at the faces' vertices."""
    from reluc.analysis.planar import Slice, Subdivision

    (u0, u1), (v0, v1) = box
    sub = Subdivision(net, Slice((0, 0), ((1, 0), (0, 1)), (u0, u1, v0, v1)))
    verts = [list(sub.exact_point(v)) for v in sorted({v for f in sub.faces for v in f})]
    ys = [y[0] for y in exact.evaluate(net, verts)]
    grid = [[u0 + (u1 - u0) * Fraction(i, 16), v0 + (v1 - v0) * Fraction(j, 16)]
            for i in range(17) for j in range(17)]
    return _range(ctor, values, box, verts, ys, grid,
                  f"the exact subdivision of the box into {len(sub.faces)} regions")


def _range(ctor, values, box, points, ys, grid, source) -> list[Property]:
    """"Y_0 stays within [min f - bound, max f + bound]" (f the reference on the box,
    at ``points`` and ``grid``), which holds exactly when the network's exact range, the
    extremes of ``ys`` at ``points``, is inside it; and its twin, Y_0 below the true
    maximum less a sixteenth of the range, violated at the maximiser."""
    m, big = min(ys), max(ys)
    how = f"{source}: Y_0 ranges over [{format_number(m)}, {format_number(big)}]"
    bound = ctor.declared_error(values)
    from reluc.analysis.samples import reference_batch

    ref, _ = reference_batch(ctor, values, exact.Scaled.of(points + grid))
    fs = [row[0] for row in ref.rows()]
    low = _binary(min(fs) - bound, down=True)
    high = _binary(max(fs) + bound, down=False)
    inside = low - MARGIN < m and big < high + MARGIN
    props = [Property("within", f"Y_0 stays within [{decimal(low)}, {decimal(high)}] (the "
                      "reference on the box, widened by the declared bound)", box,
                      [[("Y_0", None, high + MARGIN)], [(None, "Y_0", MARGIN - low)]],
                      "unsat" if inside else "sat", how)]
    if not inside:
        props[0].counterexample = next(x for x, y in zip(points, ys)
                                       if y <= low - MARGIN or y >= high + MARGIN)
    cut = _binary(big - max((big - m) / 16, MARGIN), down=True)
    props.append(Property("below-max", f"Y_0 stays below {decimal(cut)} (false: the network "
                          f"reaches {format_number(big)})", box, [[("Y_0", None, cut)]],
                          "sat", how, points[ys.index(big)]))
    return props


def _binary(v: Fraction, down: bool, bits: int = 40) -> Fraction:
    """``v`` rounded to a multiple of 2^-bits, down or up (exact if it is one)."""
    scaled = v * (1 << bits)
    k = scaled.numerator // scaled.denominator
    if not down and k != scaled:
        k += 1
    return Fraction(k, 1 << bits)


# -- the suite ----------------------------------------------------------------------------
def suite(source: str, out_dir: str, timeout: int = 300, box_text: str | None = None) -> dict:
    """Write the benchmark suite of a reluc file into ``out_dir``; the manifest."""
    from reluc import registry
    from reluc.analysis.regions_report import parse_box
    from reluc.spec import parse_text

    net, info = formats.read(source)
    if not info.spec:
        raise RelucError("reluc vnnlib needs a file reluc built: its spec is what makes the "
                         "answers known")
    spec = registry.resolve(parse_text(info.spec))
    ctor, values = registry.get(spec.name), spec.values
    n = net.n_in
    box = parse_box(box_text, n) if box_text else _default_box(info, ctor, n)
    if ctor.prove is not None and n > 1:
        props = _comparator(net, ctor, values, box)
    elif n in (1, 2):
        props = (_one_input if n == 1 else _two_inputs)(net, ctor, values, box)
    else:
        raise RelucError(f"no benchmark properties for '{spec.name}' with {n} inputs yet "
                         "(comparator networks and networks of one or two inputs have them)")
    for p in props:  # every counterexample, checked exactly on the file's weights
        if (p.expected == "sat") != (p.counterexample is not None):
            raise RelucError(f"property {p.name}: a violated property needs a counterexample")
        if p.counterexample is not None:
            y = exact.evaluate(net, [p.counterexample])[0]
            if not reaches(p, p.counterexample, y):
                raise RelucError(f"property {p.name}: the counterexample does not reach the "
                                 "unsafe set (a bug: please report it)")
    return _write(out_dir, net, info, spec.canonical(), props, timeout)


def _default_box(info, ctor, n):
    """The file's domain when bounded, else [-1, 1] per input; for an approximation of
    one input, the eighth of the domain around its middle (a small box)."""
    d = info.domain
    if d is None or any(v is None for v in (*d.lo, *d.hi)):
        return [(Fraction(-1), Fraction(1))] * n
    box = list(zip(d.lo, d.hi))
    if n <= 2 and not ctor.exact:  # a small box around the middle of the domain
        box = [((lo + hi) / 2 - (hi - lo) / 16, (lo + hi) / 2 + (hi - lo) / 16)
               for lo, hi in box]
    return box


def _write(out_dir, net, info, spec, props, timeout) -> dict:
    import dataclasses
    import shutil
    import tempfile

    parent = os.path.dirname(os.path.abspath(out_dir))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise RelucError(f"cannot write into '{out_dir}': it is not a directory")
    os.makedirs(parent, exist_ok=True)  # (as mkdir -p: a suite is a new directory tree)
    slug = "".join(c if c.isalnum() else "-" for c in spec).strip("-")
    tmp = tempfile.mkdtemp(prefix=".vnnlib-", dir=parent)
    try:
        os.makedirs(os.path.join(tmp, "onnx"))
        os.makedirs(os.path.join(tmp, "vnnlib"))
        onnx_name = f"onnx/{slug}.onnx"
        formats.write(SimpleNamespace(dtype=info.dtype or "float32", source=net),
                      os.path.join(tmp, onnx_name), "onnx", "dense",
                      info=dataclasses.replace(info, input_limit=None))
        rows, manifest = [], {"schema": SCHEMA, "spec": spec, "instances": []}
        for p in props:
            name = f"vnnlib/{slug}-{p.name}.vnnlib"
            with open(os.path.join(tmp, name), "w") as f:
                f.write(to_vnnlib(p, net.n_in, net.n_out, spec))
            rows.append([onnx_name, name, timeout])
            entry = {"onnx": onnx_name, "vnnlib": name, "timeout": timeout,
                     "expected": p.expected, "claim": p.claim, "established_by": p.established}
            if p.counterexample is not None:
                y = exact.evaluate(net, [p.counterexample])[0]
                entry["counterexample"] = {"x": [format_number(v) for v in p.counterexample],
                                           "y": [format_number(v) for v in y]}
            manifest["instances"].append(entry)
        with open(os.path.join(tmp, "instances.csv"), "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.write("\n")
        os.makedirs(out_dir, exist_ok=True)
        for sub in ("onnx", "vnnlib"):
            os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
        for rel in [onnx_name, *[r[1] for r in rows], "instances.csv", "manifest.json"]:
            os.replace(os.path.join(tmp, rel), os.path.join(out_dir, rel))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
