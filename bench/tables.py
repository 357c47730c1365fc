"""README tables from the registry: ``make tables`` rewrites them in README.md.

- sizes: each constructor at a few sizes (depth, width, neurons, nonzeros, error bound)
  beside what AlgorithmicNeuralNets.jl reports for the same construction and known lower
  bounds; ``tests/test_readme.py`` regenerates this table and compares it with the README.
- errors: the measured worst-case error of the approximations for L = 4..16 against the
  declared bound (exact, from the networks' linear pieces for square; on sample points
  for mul: x = y at cell midpoints, where the error peaks, and random points; and for
  L <= 8 mul's exact worst case from its exact faces, as ``verify --complete`` finds it).
- plane: norm2 and disk, the exact worst case over the exact faces (enclosed) against the
  declared bound, in float64 and float32 files.
"""

from __future__ import annotations

import os
import re
import sys
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")

# spec, what the seed paper's Julia code reports for it (or a lower bound), and a note
SIZE_ROWS = [
    ("sort n=1024 method=bitonic", "57 layers (55 hidden), width 2048, 503808 nnz", ""),
    ("sort n=1024 method=oddeven", "", "fewer comparators: fewer nonzeros"),
    ("sort n=1024 method=bitonic domain=0,1", "", "bounded inputs: 3 neurons a comparator"),
    ("sort n=16 method=bitonic", "", ""),
    ("sort n=16 method=best", "optimal depth 9 (Bundala, Zavodny)", "best published network"),
    ("topk n=16 k=2", "", "pruned sort"),
    ("median n=15", "", "pruned sort"),
    ("max n=16", "lower bound: ceil(log2 n) = 4 hidden layers", ""),
    ("square L=10", "12 layers (10 hidden), width 4", "same function, one neuron less"),
    ("mul L=24", "74 layers (72 hidden), width 102", "polarisation: 3x shallower"),
    ("exp L=10", "22 layers (20 hidden), width 24", "x_i carried with 1 neuron, not 2"),
    ("sincos L=10", "22 layers (20 hidden), width 24", "x_i carried with 1 neuron, not 2"),
    ("monomials L=10 d=5", "22 layers (20 hidden), width 28, 1206 nnz",
     "x_i carried with 1 neuron, not 2"),
    ("norm2 levels=10", "13 layers (11 hidden), width 6", "coordinates >= 0 after one fold: "
     "1 neuron each"),
    ("norm n=4 levels=10", "24 layers (22 hidden), width 12", "tree levels share layers"),
    ("norm n=8 levels=10", "35 layers (33 hidden), width 24", "tree levels share layers"),
    ("disk levels=10", "14 layers (12 hidden), width 6", ""),
    ("sawtooth k=10", "", "2^k pieces; depth-k' nets need ~k' 2^(k/k')/2 neurons"),
    ("pwl points=-1:0,0:1,1:0.5,2:0.5,3:0", "Arora Thm 2.2: <= p neurons for p pieces", ""),
    ("hardcomp a=0.25,0.5,0.75;0.25,0.5,0.75;0.25,0.5,0.75",
     "Arora Thm 3.2: w^k = 64 pieces with k layers of width w = 4", ""),
    ("maxaffine planes=1,0,0;0,1,0;-1,-1,1;1,1,-1",
     "Arora Thm 2.1: depth ceil(log2 m) + 1 = 3", ""),
    ("zonotope b=1,0;0,1;1,1;1,-1 a=0.25,0.5,0.75;0.25,0.5,0.75",
     "Arora Thm 3.9: depth k + 2 = 4, size 2m + wk = 16", ""),
    ("lattice planes=1,0,0;0,1,0;-1,-1,1 groups=1,2,3", "Arora Thm 2.1: depth "
     "ceil(log2(n+1)) + 1 = 3", "one group of n + 1 planes"),
    ("pwl2d xs=0,1,2,3 ys=0,1,2,3 values=0,0,0,0;0,1,2,0;0,2,1,0;0,0,0,0",
     "Arora Thm 2.1: depth 3 (2 hidden) possible", "hat-function sum: 3 hidden layers"),
]


def _error_cell(c) -> str:
    from reluc.spec import format_number

    if c.exact:
        return "exact"
    b = c.error_bound
    if b.denominator & (b.denominator - 1) == 0 and len(format_number(b)) <= 24:
        return format_number(b)
    return f"{float(b):.3g}"


def size_table() -> str:
    from reluc.compiler import compile_spec

    lines = ["| spec | hidden layers | width | neurons | nonzero params | error bound "
             "| AlgorithmicNeuralNets.jl / bound | note |",
             "|---|---|---|---|---|---|---|---|"]
    for spec, julia, note in SIZE_ROWS:
        c = compile_spec(spec, "float64")
        n = c.net
        err = _error_cell(c)
        lines.append(f"| `{c.spec.canonical()}` | {n.hidden_layers} | {n.width} | {n.neurons} "
                     f"| {n.nonzero_params} | {err} | {julia} | {note} |")
    return "\n".join(lines) + "\n"


def error_table(levels=range(4, 17)) -> str:
    from reluc import exact
    from reluc.pieces import pieces
    from reluc.compiler import compile_spec
    from reluc.constructors.approx import _square_piece_error

    import random

    lines = ["| L | square: bound 2^(-2L-2) | square: measured (exact sup) | mul: bound "
             "| mul: measured (max on 600 points) | mul: exact worst case (`--complete`) |",
             "|---|---|---|---|---|---|"]
    rng = random.Random(0)
    for L in levels:
        # x = y at cell midpoints of the 2^-L grid (where the square's error peaks), and
        # random binary fractions
        mids = [Fraction(2 * rng.randrange(2**L) + 1, 2 ** (L + 1)) for _ in range(100)]
        rows = [[m, m] for m in mids] + [[Fraction(rng.randrange(2**30), 2**30),
                                          Fraction(rng.randrange(2**30), 2**30)]
                                         for _ in range(500)]
        sq = compile_spec(f"square L={L}", "float64")
        worst = max(max(_square_piece_error({}, p.t0, p.t1, p.slope, p.intercept))
                    for p in pieces(sq.net, Fraction(0), Fraction(1)))
        mu = compile_spec(f"mul L={L}", "float64")
        got = exact.evaluate(mu.net, rows)
        m = max(abs(v[0] - x * y) for v, (x, y) in zip(got, rows))
        full = f"{float(_plane_worst(mu)):.3e}" if L <= 8 else "-"
        lines.append(f"| {L} | {float(sq.error_bound):.3e} | {float(worst):.3e} | "
                     f"{float(mu.error_bound):.3e} | {float(m):.3e} | {full} |")
    return "\n".join(lines) + "\n"


def _plane_worst(c):
    """The exact worst-case error of a compiled 2-D approximation, from its exact faces."""
    from reluc.analysis.planeproof import prove_plane
    from reluc.registry import get

    ctor = get(c.spec.name)
    proof = prove_plane(c.net, ctor, c.spec.values, c.domain, Fraction(1))
    assert proof.status == "proved", proof.method
    return proof.worst


def plane_table(levels=range(4, 13)) -> str:
    """norm2 and disk: the exact worst case over the exact faces against the bound."""
    from reluc.compiler import compile_spec

    lines = ["| levels | norm2: bound | norm2: exact worst case | ratio | float32 file: bound "
             "| exact worst case | disk (radius 1): bound | exact worst case | ratio | "
             "float32 file: bound | exact worst case |", "|" + "---|" * 11]
    for lv in levels:
        cells = [str(lv)]
        for spec in (f"norm2 levels={lv}", f"disk levels={lv} radius=1"):
            c = compile_spec(spec, "float64")
            w = _plane_worst(c)
            cells += [f"{float(c.error_bound):.4e}", f"{float(w):.4e}",
                      f"{float(w / c.error_bound):.4f}"]
            c32 = compile_spec(spec, "float32")
            cells += [f"{float(c32.error_bound):.4e}", f"{float(_plane_worst(c32)):.4e}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def unfolding_table(levels=range(4, 15)) -> str:
    """exp and sincos: the exact worst case over the network's linear pieces (each piece
    bounded by the reference's sup-error rule) against the declared bound."""
    from reluc.pieces import pieces
    from reluc.compiler import compile_spec
    from reluc.registry import get

    lines = ["| L | exp: bound e 4^-L / 8 + 2^-40 | exp: measured | sincos: bound "
             "pi^2 4^-L / 8 + 2^-40 | sincos: measured |", "|---|---|---|---|---|"]
    for L in levels:
        cells = [str(L)]
        for name in ("exp", "sincos"):
            c = compile_spec(f"{name} L={L}", "float64")
            ctor, v = get(name), c.spec.values
            lo, hi = c.domain.lo[0], c.domain.hi[0]
            worst = max(max(ctor.sup_error(v, p.t0, p.t1, p.slope, p.intercept))
                        for p in pieces(c.net, lo, hi))
            cells += [f"{float(c.error_bound):.3e}", f"{float(worst):.3e}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def replace_section(text: str, name: str, table: str) -> str:
    pattern = re.compile(rf"(<!-- table:{name} -->\n).*?(<!-- end table:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- table:{name} --> section")
    return pattern.sub(lambda m: m.group(1) + table + m.group(2), text)


def main() -> None:
    with open(README, encoding="utf-8") as f:
        text = f.read()
    text = replace_section(text, "sizes", size_table())
    if "--sizes-only" not in sys.argv:
        text = replace_section(text, "errors", error_table())
        text = replace_section(text, "unfolding", unfolding_table())
        text = replace_section(text, "plane", plane_table())
    with open(README, "w", encoding="utf-8") as f:
        f.write(text)
    print("README.md tables updated")


if __name__ == "__main__":
    main()
