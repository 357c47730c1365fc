"""Constructions of Arora, Basu, Mianjy and Mukherjee (ICLR 2018): maxaffine, hard,
hardcomp, zonotope.

``maxaffine planes=a_1,..,a_n,b;...``: the convex piecewise-linear function
max_i (a_i . x + b_i) of n inputs, as the affine map x -> (a_i . x + b_i)_i merged into a
balanced tree of max gadgets: ceil(log2 m) hidden layers for m planes (depth
ceil(log2 m) + 1), the depth of Arora et al.'s Theorem 2.1 for a max of m affine terms.

``hard a=a_1,..,a_p M=``: the zig-zag h_a of Section 3.1 on [0, M], for 0 < a_1 < .. <
a_p < M: it is 0 on (-inf, 0] and affine between the points 0, a_1, .., a_p, M, going
alternately from 0 up to M and back (p + 1 pieces on [0, M]). One hidden layer of exactly
w = p + 1 neurons: one per kink, the flat left piece making the extra neuron unnecessary
(Corollary A.1).

``hardcomp a=a^1;a^2;..;a^k M=``: H = h_{a^k} o .. o h_{a^1}, k hidden layers of width
w; every h maps [0, M] onto [0, M] and each piece of the inner function is stretched over
the whole zig-zag of the next, so H has (p + 1)^k pieces on [0, M] (Lemma B.1,
Theorem 3.2): the deep side of the depth-size trade-off of Theorem 3.1 (a network with
k' < k hidden layers needs size at least k' w^(k/k') / 2 - 1).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reluc.calculus import affine, compose
from reluc.constructors.comparators.layout import tree_net
from reluc.constructors.pwl import interpolate, pwl_terms
from reluc.exact import is_double
from reluc.net import Layer, Net
from reluc.registry import Box, Built, Lazy, register
from reluc.spec import Number, NumberList, Param


def planes_check(p):
    if len(p["planes"][0]) < 2:
        raise ValueError("planes need at least one coefficient and a constant: a_1,..,a_n,b")


def affine_value(plane, x) -> Fraction:
    """a . x + b for a plane a_1,..,a_n,b."""
    return sum((a * v for a, v in zip(plane[:-1], x)), Fraction(0)) + plane[-1]


def plane_differences(planes) -> list[tuple[Fraction, Fraction, Fraction]]:
    """Two inputs: the lines where two of the planes are equal. A max or min of the
    planes (or a max of mins) is affine on every cell of their arrangement, since the
    order of the planes' values is the same all over a cell."""
    lines = set()
    for i, p in enumerate(planes):
        for q in planes[i + 1:]:
            d = tuple(Fraction(u) - Fraction(v) for u, v in zip(p, q))
            if len(d) == 3 and (d[0] or d[1]):
                lines.add(d)
    return sorted(lines)


@register(
    "maxaffine",
    summary="max of m affine functions of n inputs (convex PWL), ceil(log2 m) hidden layers.",
    params=[Param("planes", NumberList(rows=True, min_count=2), None,
                  "rows a_1,..,a_n,b separated by ';', one per affine function a.x + b")],
    inputs="len(planes[0]) - 1",
    outputs="1",
    domain=lambda p: Box.real(len(p["planes"][0]) - 1),
    reference=lambda p, x: [max(affine_value(r, x) for r in p["planes"])],
    formulas={"hidden_layers": "clog2(len(planes))"},
    check=planes_check,
    example="maxaffine planes=1,0,0;0,1,0;-1,-1,1",
    kink_lines=lambda p: plane_differences(p["planes"]),
)
def maxaffine(planes) -> Built:
    """max_i (a_i . x + b_i): the affine map to the m plane values merged into the first
    layer of a balanced max tree (3 neurons a pair), ceil(log2 m) hidden layers."""
    a = np.array([[float(v) for v in r[:-1]] for r in planes])
    b = np.array([float(r[-1]) for r in planes])
    rounded = not all(is_double(v) for r in planes for v in r)
    return Built(compose(affine(a, b), tree_net(len(planes), True), exact=not rounded), rounded)


def _zigzag_points(a, m):
    """(-1, 0), (0, 0), (a_1, M), (a_2, 0), ...: the flat left piece, then the zig-zag."""
    ys = [m if i % 2 == 0 else Fraction(0) for i in range(len(a) + 1)]
    return [(Fraction(-1), Fraction(0)), (Fraction(0), Fraction(0))] + \
        list(zip(list(a) + [m], ys))


def _zigzag_check(a, m):
    if not (0 < a[0] and a[-1] < m):
        raise ValueError(f"the breakpoints must lie strictly inside (0, M) = (0, {m})")


def _zigzag_terms(a, m):
    """h_a as one hidden layer in exact rationals: input weights w, biases b, output
    weights c and output constant, h_a(x) = const + sum_i c_i relu(w_i x + b_i)."""
    terms, _, const = pwl_terms(_zigzag_points(a, m))  # the flat left piece: no slope
    return ([s for _, s, _ in terms], [-s * xk for xk, s, _ in terms],
            [c for _, _, c in terms], const)


def _rational_net(first, inner_rows, m, first_out=None, first_const=Fraction(0)) -> Built:
    """The zig-zags of ``inner_rows`` composed after ``first`` (a hidden layer (W, b) in
    rationals whose output is ``first_out . h + first_const``; None: the input itself),
    every affine map merged in exact rational arithmetic and each weight rounded to
    float64 once, at the end: ``rounded_once`` holds, so the compiler can bound the
    effect of the rounding on the domain whatever the number of pieces."""
    layers = [] if first is None else [first]
    out, const = first_out, first_const
    for a in inner_rows:
        w, b, c, k = _zigzag_terms(a, m)
        if out is None:  # the input x: a 1-column layer
            layers.append(([[wi] for wi in w], b))
        else:  # w (out . h + const) + b: the outer product w out
            layers.append(([[wi * o for o in out] for wi in w],
                           [wi * const + bi for wi, bi in zip(w, b)]))
        out, const = c, k
    layers.append(([list(out)], [const]))
    exact_values = [v for mat, bias in layers for row in mat for v in row] + \
        [v for _, bias in layers for v in bias]
    net = Net([Layer(np.array([[float(v) for v in row] for row in mat]),
                     np.array([float(v) for v in bias])) for mat, bias in layers])
    rounded = not all(is_double(v) for v in exact_values)
    return Built(net, rounded, rounded_once=rounded)


def _hard_net(rows, m) -> Built:
    return _rational_net(None, rows, m)


def _compose_reference(rows, m, x):
    for a in rows:
        x = interpolate(_zigzag_points(a, m), x)
    return x


def _compose_breakpoints(rows, m) -> Lazy:
    """Every kink of H = h_{a^k} o .. o h_{a^1} on [0, M], in order, made on demand.

    Each h_a maps each of its p + 1 pieces affinely onto [0, M] (alternately up and
    down), so on piece q of the innermost h the function is H'(h(x)) with H' the
    composition of the others: its kinks there are the preimages of the kinks of H'.
    H has P = prod (p_j + 1) pieces; kink i (0..P) is found in mixed radix: piece
    q = i // P' of the innermost h (P' the pieces of H'), then kink i - q P' of H'
    (counted from the other end on a falling piece), pulled back through the piece."""
    knots = [[Fraction(0), *a, m] for a in rows]
    counts = [len(a) + 1 for a in rows]
    suffix = [1] * (len(rows) + 1)  # pieces of the composition of rows[j:]
    for j in range(len(rows) - 1, -1, -1):
        suffix[j] = suffix[j + 1] * counts[j]

    def at(i: int, j: int = 0) -> Fraction:
        if j == len(rows):
            return m if i else Fraction(0)
        inner = suffix[j + 1]
        q = min(i // inner, counts[j] - 1)
        r = i - q * inner
        x0, x1 = knots[j][q], knots[j][q + 1]
        if q % 2 == 0:  # rising piece: 0 -> M
            return x0 + (x1 - x0) * at(r, j + 1) / m
        return x0 + (x1 - x0) * (m - at(inner - r, j + 1)) / m

    return Lazy(suffix[0] + 1, at)


_M = Param("M", Number(min=Fraction(1, 2**20)), 1, "height and width of the zig-zag: [0, M]")


def _rows_check(p):
    for a in p["a"]:
        _zigzag_check(a, p["M"])


@register(
    "hard",
    summary="Arora et al.'s zig-zag h_a on [0, M]: p+1 pieces, one hidden layer of p+1.",
    params=[Param("a", NumberList(increasing=True), None, "breakpoints 0 < a_1 < .. < a_p < M"),
            _M],
    inputs="1",
    outputs="1",
    domain=lambda p: Box.uniform(1, 0, p["M"]),
    reference=lambda p, x: [_compose_reference([p["a"]], p["M"], x[0])],
    formulas={"hidden_layers": "1", "width": "len(a) + 1", "pieces": "len(a) + 1"},
    check=lambda p: _zigzag_check(p["a"], p["M"]),
    example="hard a=0.25,0.5,0.75",
    breakpoints=lambda p: _compose_breakpoints([p["a"]], p["M"]),
)
def hard(a, M) -> Built:
    """h_a: 0 left of 0, then affine through (0, 0), (a_1, M), (a_2, 0), ..., ending at M:
    one neuron per kink (0, a_1, .., a_p), width p + 1."""
    return _hard_net([a], M)


@register(
    "hardcomp",
    summary="Composition of k zig-zags h_a: (p+1)^k pieces on [0, M] with k layers of width p+1.",
    params=[Param("a", NumberList(rows=True, increasing=True, equal_rows=False), None,
                  "breakpoint lists a^1;a^2;..;a^k (each 0 < .. < M), innermost first"), _M],
    inputs="1",
    outputs="1",
    domain=lambda p: Box.uniform(1, 0, p["M"]),
    reference=lambda p, x: [_compose_reference(p["a"], p["M"], x[0])],
    formulas={"hidden_layers": "len(a)", "width": "max(len(r) for r in a) + 1"},
    check=_rows_check,
    example="hardcomp a=0.25,0.5,0.75;0.5;0.25,0.75",
    breakpoints=lambda p: _compose_breakpoints(p["a"], p["M"]),
)
def hardcomp(a, M) -> Built:
    """H = h_{a^k} o .. o h_{a^1}: k one-hidden-layer zig-zags composed (the affine maps
    between them merged), k hidden layers of width p + 1, prod (p_j + 1) pieces on [0, M]."""
    return _hard_net(a, M)


def _gamma(rows_b, r):
    return sum((abs(sum((bi * ri for bi, ri in zip(b, r)), Fraction(0))) for b in rows_b),
               Fraction(0))


def _zono_radius(p) -> Fraction:
    """Half-width R of the input box [-R, R]^n on which gamma_Z <= M."""
    g = sum(abs(v) for b in p["b"] for v in b)
    return p["M"] / g


def _zono_breakpoints(p) -> Lazy:
    """One input: gamma_Z(x) = G |x| with G = sum_i |b^i|, so the kinks are 0 and
    +-t / G for every kink t of H on [0, M] (t_0 = 0, .., t_N = M), in order."""
    g = sum(abs(b[0]) for b in p["b"])
    ts = _compose_breakpoints(p["a"], p["M"])
    n = len(ts) - 1
    return Lazy(2 * n + 1, lambda i: -ts[n - i] / g if i < n else ts[i - n] / g)


def _zono_lines(p) -> list[tuple[Fraction, Fraction, Fraction]]:
    """Two inputs: gamma_Z is linear on each cone between the lines <b^i, x> = 0, as
    w . x with w = sum_i s_i b^i for the cone's signs s; H has kinks t_0..t_N, so the
    reference is affine on every cell cut by those lines and the lines w . x = t_j.
    Each cone lies beside a ray +-b^i rotated a quarter turn; its signs are read just
    beside that ray (on a generator parallel to the ray's own, from its side)."""
    bs = [tuple(Fraction(v) for v in b) for b in p["b"] if any(b)]
    lines = {(b[0], b[1], Fraction(0)) for b in bs}
    signs = set()
    for b in bs:
        for r in ((-b[1], b[0]), (b[1], -b[0])):
            for side in (1, -1):
                s = []
                for g in bs:
                    on = g[0] * r[0] + g[1] * r[1]
                    across = side * (g[0] * b[0] + g[1] * b[1])
                    s.append(1 if (on or across) > 0 else -1)
                signs.add(tuple(s))
    for s in signs:
        w = (sum(si * g[0] for si, g in zip(s, bs)), sum(si * g[1] for si, g in zip(s, bs)))
        if w != (0, 0):
            lines.update((w[0], w[1], -t) for t in _compose_breakpoints(p["a"], p["M"]))
    return sorted(lines)


def _zono_check(p):
    if not any(v != 0 for b in p["b"] for v in b):
        raise ValueError("the generators b must not all be zero")
    _rows_check(p)


@register(
    "zonotope",
    summary="Arora et al.'s zonotope family: hardcomp composed with the support function "
    "of a zonotope.",
    params=[Param("b", NumberList(rows=True), None,
                  "generators b^1;..;b^m of the zonotope, each in R^n"),
            Param("a", NumberList(rows=True, increasing=True, equal_rows=False), None,
                  "zig-zag breakpoints a^1;..;a^k as for hardcomp"), _M],
    inputs="len(b[0])",
    outputs="1",
    domain=lambda p: Box.uniform(len(p["b"][0]), -_zono_radius(p), _zono_radius(p)),
    reference=lambda p, x: [_compose_reference(p["a"], p["M"], _gamma(p["b"], x))],
    formulas={"hidden_layers": "len(a) + 1", "width": "max(2*len(b), max(len(r) for r in a) + 1)",
              "neurons": "2*len(b) + sum(len(r) + 1 for r in a)"},
    check=_zono_check,
    example="zonotope b=1,0;0,1;1,1 a=0.5;0.5",
    breakpoints=_zono_breakpoints,
    kink_lines=_zono_lines,
    notes="The domain is the box on which the support function stays within [0, M]. For "
    "generators in general position the function has (sum_{i<n} C(m-1, i)) * prod(p_j + 1) "
    "pieces (Thm 3.9), with depth k + 2 and size 2m + sum(p_j + 1).",
)
def zonotope(b, a, M) -> Built:
    """H_{a^1..a^k}(gamma_Z(r)), gamma_Z(r) = sum_i |<r, b^i>| = sum_i relu(<r,b^i>) +
    relu(-<r,b^i>): one hidden layer of 2m neurons (Lemma 3.7), its output merged into
    the first zig-zag; k + 1 hidden layers in all."""
    split = [list(row) for row in b] + [[-v for v in row] for row in b]  # relu(+-<r, b^i>)
    return _rational_net((split, [Fraction(0)] * len(split)), a, M,
                         first_out=[Fraction(1)] * len(split))
