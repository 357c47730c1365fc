"""Constructors against their reference functions, in exact rational arithmetic, and
against their declared size formulas."""

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluc import exact, registry
from reluc.compiler import compile_spec
from reluc.constructors.comparators.schedules import (PUBLISHED_DEPTH, binary_inputs, bitonic_stages,
                                          oddeven_stages, run_stages, sort_stages)


def build(text):
    return compile_spec(text).net


def sort_inputs(n, rng):
    """Random dyadic rationals, small integers with many ties, and structured cases."""
    rows = [[Fraction(rng.randint(-10**6, 10**6), 2 ** rng.randint(0, 30)) for _ in range(n)]
            for _ in range(12)]
    rows += [[rng.randint(-2, 2) for _ in range(n)] for _ in range(12)]  # ties
    rows += [[7] * n, list(range(n)), list(range(n, 0, -1)), [0] * n]
    rows += [[(-1) ** i * Fraction(10**12 + i, 3 + i % 5) for i in range(n)]]  # non-dyadic, huge
    return rows


@pytest.mark.parametrize("method", ["bitonic", "oddeven", "best"])
@pytest.mark.parametrize("n", range(1, 34))
def test_sort_sorts_exactly_for_every_n(n, method):
    net = build(f"sort n={n} method={method}")
    rows = sort_inputs(n, random.Random(n))
    assert exact.evaluate(net, rows) == [sorted(r) for r in rows]


@pytest.mark.parametrize("n", [2, 3, 7, 16, 33])
def test_sort_on_a_bounded_domain_is_exact_and_narrower(n):
    lo, hi = Fraction(-5, 2), Fraction(7)
    net = build(f"sort n={n} method=bitonic domain=-2.5,7")
    wide = build(f"sort n={n} method=bitonic")
    rng = random.Random(n)
    rows = [[lo + (hi - lo) * Fraction(rng.randint(0, 2**20), 2**20) for _ in range(n)]
            for _ in range(40)] + [[lo] * n, [hi] * n]
    assert exact.evaluate(net, rows) == [sorted(r) for r in rows]
    stages = bitonic_stages(n)
    assert net.widths == tuple(n + s[0].size for s in stages)  # 3 per comparator, 1 per idle wire
    assert net.width < wide.width == 2 * n


def test_bounded_bitonic_1024_has_width_1536_from_its_schedule():
    stages = bitonic_stages(1024)
    assert max(1024 + s[0].size for s in stages) == 1536


@pytest.mark.parametrize("method", ["bitonic", "oddeven", "best"])
@pytest.mark.parametrize("n", range(1, 17))
def test_every_schedule_sorts_all_binary_inputs(n, method):
    """0-1 principle on the comparator schedule itself (not only on samples)."""
    x = run_stages(binary_inputs(n), sort_stages(n, method))
    assert np.all(np.diff(x, axis=1) >= 0)
    for lo, hi in sort_stages(n, method):
        assert np.all(lo < hi) and np.unique(np.concatenate([lo, hi])).size == 2 * lo.size


def test_comparator_counts_match_batcher():
    for p in range(1, 11):
        n = 2**p
        assert sum(s[0].size for s in bitonic_stages(n)) == n * p * (p + 1) // 4
        assert sum(s[0].size for s in oddeven_stages(n)) == (p * p - p + 4) * 2 ** (p - 2) - 1
        assert len(bitonic_stages(n)) == len(oddeven_stages(n)) == p * (p + 1) // 2


def test_best_reaches_the_published_depth():
    for n in range(1, 17):
        depth = len(sort_stages(n, "best"))
        if n in (11, 12):  # best available here: pruned from 16 inputs
            assert depth == PUBLISHED_DEPTH[n] + 1
        else:
            assert depth == PUBLISHED_DEPTH[n], n
        assert depth <= len(bitonic_stages(n))


@pytest.mark.parametrize("method", ["bitonic", "oddeven", "best"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 16, 31, 32, 33, 64])
def test_sort_matches_its_size_formulas(n, method):
    ctor = registry.get("sort")
    net = build(f"sort n={n} method={method}")
    f = ctor.formula_values({"n": n, "method": method, "domain": (None, None)})
    assert net.hidden_layers == f["hidden_layers"] == len(sort_stages(n, method))
    assert net.width == f["width"]
    assert net.neurons == 2 * n * net.hidden_layers
    if f["nonzero_params"] is not None:
        assert net.nonzero_params == f["nonzero_params"]


def test_oddeven_has_fewer_nonzeros_than_bitonic():
    for n in (8, 16, 64, 100):
        a, b = build(f"sort n={n} method=oddeven"), build(f"sort n={n} method=bitonic")
        assert a.nonzero_params < b.nonzero_params and a.depth == b.depth


def test_sort_1024_depth_from_the_schedule_alone():
    """The n = 1024 network has 55 stages (55 hidden layers, 57 Julia layers): checked on
    the schedule so that the unit suite does not build the 0.9 GB network."""
    stages = bitonic_stages(1024)
    assert len(stages) == 55
    assert sum(s[0].size for s in stages) == 28160  # N L (L+1) / 4 comparators


@pytest.mark.parametrize("n", [1, 2, 5, 8, 9, 16])
def test_selection_networks_are_exact_and_strictly_smaller_than_sort(n):
    rows = sort_inputs(n, random.Random(7 * n))
    full = build(f"sort n={n}")
    for k in range(1, n + 1):
        top, kth = build(f"topk n={n} k={k}"), build(f"kth n={n} k={k}")
        assert exact.evaluate(top, rows) == [sorted(r, reverse=True)[:k] for r in rows]
        assert exact.evaluate(kth, rows) == [[sorted(r)[k - 1]] for r in rows]
        if n > 1:
            assert kth.nonzero_params < full.nonzero_params and kth.neurons < full.neurons
            if k < n:
                assert top.neurons < full.neurons
    med = build(f"median n={n}")
    want = [[sorted(r)[n // 2] if n % 2 else (sorted(r)[n // 2 - 1] + sorted(r)[n // 2]) / 2]
            for r in rows]
    assert exact.evaluate(med, rows) == want
    if n > 2:
        assert med.neurons < full.neurons


@pytest.mark.parametrize("name", ["argmax", "step", "sign"])
def test_discontinuous_functions_are_refused_with_the_reason(name):
    from reluc.errors import SpecError

    with pytest.raises(SpecError, match="continuous"):
        compile_spec(name)


@pytest.mark.parametrize("n", range(1, 18))
def test_max_and_min(n):
    rng = random.Random(100 + n)
    rows = sort_inputs(n, rng)
    mx, mn = build(f"max n={n}"), build(f"min n={n}")
    assert exact.evaluate(mx, rows) == [[max(r)] for r in rows]
    assert exact.evaluate(mn, rows) == [[min(r)] for r in rows]
    f = registry.get("max").formula_values({"n": n, "domain": (None, None)})
    assert mx.hidden_layers == f["hidden_layers"] == (n - 1).bit_length()
    assert mx.width == f["width"] and mn.width == f["width"]


def test_minmax_gadget():
    net = build("minmax")
    assert net.widths == (4,) and net.nonzero_params == 12
    assert build("minmax domain=0,1").widths == (3,)
    rows = [[3, -1], [-1, 3], [2, 2], [Fraction(1, 3), Fraction(-5, 7)]]
    assert exact.evaluate(net, rows) == [[min(r), max(r)] for r in rows]


def test_elementwise_and_identity():
    rows = [[-3, 0, Fraction(5, 2)]]
    assert exact.evaluate(build("relu n=3"), rows) == [[0, 0, Fraction(5, 2)]]
    assert exact.evaluate(build("abs n=3"), rows) == [[3, 0, Fraction(5, 2)]]
    ident = build("identity n=3 depth=4")
    assert ident.depth == 4 and ident.widths == (6, 6, 6)
    assert exact.evaluate(ident, rows) == rows


def slope_changes(values):
    d = np.diff(np.array(values, dtype=object))
    return sum(1 for a, b in zip(d, d[1:]) if a != b)


@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_sawtooth_has_2_to_the_k_pieces_on_the_dyadic_grid(k):
    net = build(f"sawtooth k={k}")
    assert (net.hidden_layers, net.width, net.nonzero_params, net.params) == (k, 2, 5 * k, 6 * k + 1)
    grid = [Fraction(j, 2 ** (k + 2)) for j in range(2 ** (k + 2) + 1)]
    ys = [v[0] for v in exact.evaluate(net, [[x] for x in grid])]
    ref = registry.get("sawtooth").reference
    assert ys == [ref({"k": k}, [x])[0] for x in grid]
    # linear between grid points 2^-k apart; pieces = slope changes + 1
    assert slope_changes(ys) + 1 == 2**k


def tent(x):
    return 1 - abs(2 * x - 1)


def test_sawtooth_is_the_composed_tent_map():
    x = Fraction(37, 101)
    net = build("sawtooth k=4")
    y = x
    for _ in range(4):
        y = tent(y)
    assert exact.evaluate(net, [[x]]) == [[y]]


points_strategy = st.lists(
    st.tuples(st.integers(-40, 40).map(lambda k: Fraction(k, 4)),
              st.integers(-40, 40).map(lambda k: Fraction(k, 8))),
    min_size=2, max_size=9, unique_by=lambda p: p[0],
).map(sorted)


def text_of(points):
    return ",".join(f"{x}:{y}" for x, y in points)


@settings(max_examples=80, deadline=None)
@given(points_strategy)
def test_pwl_interpolates_exactly_with_at_most_one_neuron_per_kink_plus_one(points):
    from reluc.constructors.pwl import interpolate

    compiled = compile_spec(f"pwl points={text_of(points)}")
    net = compiled.net
    slopes = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(points, points[1:])]
    dyadic = all(s.denominator & (s.denominator - 1) == 0 for s in slopes)
    assert compiled.exact == dyadic
    kinks = sum(1 for s, t in zip(slopes, slopes[1:]) if s != t)
    assert net.hidden_layers == (1 if kinks else 0)
    assert net.neurons <= kinks + 1 and net.neurons <= len(points) - 1
    if slopes[0] == 0 or slopes[-1] == 0:
        assert net.neurons == kinks  # Arora et al., Cor. A.1
    xs = [p[0] for p in points]
    probes = xs + [(a + b) / 2 for a, b in zip(xs, xs[1:])] + [xs[0] - 3, xs[-1] + Fraction(7, 3)]
    got = [g[0] for g in exact.evaluate(net, [[x] for x in probes])]
    want = [interpolate(points, x) for x in probes]
    lo, hi = compiled.spec.values["domain"]
    for x, g, w in zip(probes, got, want):
        if lo <= x <= hi:
            assert abs(g - w) <= compiled.error_bound  # zero when exact
    if dyadic:
        assert got == want  # also outside the domain: linear extension


def test_pwl_with_non_binary_data_is_rounded_and_says_how_much():
    c = compile_spec("pwl points=0:0,3:1,6:0", "float64")  # slopes +-1/3
    assert not c.exact and not c.dtype_rounded
    assert 0 < c.error_bound < Fraction(1, 2**50)
    c32 = compile_spec("pwl points=0:0,3:1,6:0", "float32")
    assert c.error_bound < c32.error_bound < Fraction(1, 2**20)
    from reluc.constructors.pwl import interpolate

    pts = c.spec.values["points"]
    for x in [Fraction(j, 7) for j in range(0, 43)]:
        err = abs(exact.evaluate(c.net, [[x]])[0][0] - interpolate(pts, x))
        assert err <= c.error_bound


def test_every_constructor_declares_its_metadata_and_matches_its_reference():
    for ctor in registry.all_constructors():
        spec = compile_spec(ctor.example)
        values = spec.spec.values
        assert ctor.dims(values) == (spec.net.n_in, spec.net.n_out)
        box = ctor.domain(values)
        assert box.dim == spec.net.n_in
        rng = random.Random(ctor.name)
        lo = [Fraction(-3) if b is None else b for b in box.lo]
        hi = [Fraction(3) if b is None else b for b in box.hi]
        xs = [[a + (b - a) * Fraction(rng.randint(0, 64), 64) for a, b in zip(lo, hi)]
              for _ in range(20)]
        got = exact.evaluate(spec.net, xs)
        want = [list(ctor.reference(values, x)) for x in xs]
        if ctor.exact:
            assert got == want, ctor.name
        else:
            err = max(abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr))
            assert err <= spec.error_bound, ctor.name
        for key, value in ctor.formula_values(values).items():
            if value is not None and hasattr(spec.net, key):
                assert getattr(spec.net, key) == value, (ctor.name, key)


@pytest.mark.parametrize(
    "text, neurons",
    [
        ("0:0,1:1,2:3", 2),  # slopes 1, 2: no slope change cancels the first slope: 1 + 1
        ("0:0,1:1,2:0", 2),  # tent: slope change -2 cannot cancel the first slope 1
        ("0:0,1:0,2:1", 1),  # first slope 0: one neuron per kink (Arora Cor. A.1)
        ("0:1,1:0,2:0", 1),  # last slope 0
        ("0:0,1:1,2:1,3:0", 2),  # middle slope 0 splits the kinks left | right
        ("0:5,1:5,2:5", 0),  # constant: an affine network
    ],
)
def test_pwl_neuron_counts(text, neurons):
    from reluc.constructors.pwl import interpolate

    c = compile_spec(f"pwl points={text}")
    pts = c.spec.values["points"]
    probes = [Fraction(j, 4) for j in range(-12, 21)]
    assert [v[0] for v in exact.evaluate(c.net, [[x] for x in probes])] == [
        interpolate(pts, x) for x in probes
    ]
    assert c.net.neurons == neurons


@pytest.mark.parametrize("L", [1, 2, 3, 5, 8])
def test_square_is_the_interpolant_of_x_squared(L):
    from reluc.pieces import merge, pieces

    c = compile_spec(f"square L={L}", "float64")
    net = c.net
    assert (net.hidden_layers, net.width) == (L, 3 if L > 1 else 2)
    assert c.error_bound == Fraction(1, 2 ** (2 * L + 2)) and not c.exact
    ps = merge(pieces(net, Fraction(0), Fraction(1)))
    assert len(ps) == 2**L  # one affine piece per grid cell
    for p in ps:
        for t in (p.t0, p.t1):
            assert t.denominator <= 2**L and p.value(t)[0] == t * t  # exact at the grid


@pytest.mark.parametrize("L", [1, 3, 6])
def test_mul_error_is_within_its_bound_on_a_grid(L):
    c = compile_spec(f"mul L={L}", "float64")
    assert c.net.hidden_layers == L and c.net.width == 6
    g = [Fraction(j, 16) for j in range(17)]
    rows = [[x, y] for x in g for y in g]
    got = exact.evaluate(c.net, rows)
    errs = [abs(v[0] - x * y) for v, (x, y) in zip(got, rows)]
    assert max(errs) <= Fraction(1, 2 ** (2 * L + 2))
    assert max(errs) > 0 or L >= 4


@pytest.mark.parametrize("rows", [["0.25,0.5,0.75"], ["0.5"] * 5, ["0.25,0.5,0.75", "0.5", "0.25,0.75"],
                                  ["0.125,0.25,0.5,0.75", "0.25,0.5"]])
def test_hard_compositions_multiply_their_pieces(rows):
    from reluc.pieces import merge, pieces

    c = compile_spec(f"hardcomp a={';'.join(rows)}", "float64")
    assert c.exact
    widths = [len(r.split(",")) + 1 for r in rows]
    assert c.net.hidden_layers == len(rows) and c.net.widths == tuple(widths)
    ps = merge(pieces(c.net, Fraction(0), Fraction(1)))
    assert len(ps) == int(np.prod(widths))
    ctor = registry.get("hardcomp")
    xs = [Fraction(j, 97) for j in range(98)]
    got = exact.evaluate(c.net, [[x] for x in xs])
    assert [g[0] for g in got] == [ctor.reference(c.spec.values, [x])[0] for x in xs]


def test_maxaffine_is_a_max_tree_over_the_planes():
    c = compile_spec("maxaffine planes=1,0,0;0,1,0;-1,-1,1;0.5,0.5,-2;2,-1,0.25")
    assert c.net.hidden_layers == 3 and c.exact  # ceil(log2 5)
    rng = random.Random(3)
    rows = [[Fraction(rng.randint(-50, 50), 8) for _ in range(2)] for _ in range(100)]
    planes = c.spec.values["planes"]
    want = [[max(r[0] * x + r[1] * y + r[2] for r in planes)] for x, y in rows]
    assert exact.evaluate(c.net, rows) == want


def exp_recursion(L, x):
    """The seed paper's scalar algorithm for (e^x, e^-x), interpolating start, in exact
    arithmetic on the same float64 constants as the network."""
    import math

    F = lambda v: Fraction(float(v))  # noqa: E731
    piv = [Fraction(1, 2**j) for j in range(1, L + 1)]
    xs = [x]
    for s in piv:
        xs.append(s - abs(xs[-1] - s))
    d = piv[-1]
    t = xs[-1]
    u = 1 + F((math.exp(float(d)) - 1) / float(d)) * t
    v = 1 + F((math.exp(-float(d)) - 1) / float(d)) * t
    for j in range(L - 1, -1, -1):
        s = piv[j]
        if xs[j] > s:
            u, v = F(math.exp(2 * float(s))) * v, F(math.exp(-2 * float(s))) * u
    return [u, v]


@pytest.mark.parametrize("L", [1, 2, 3, 6, 10])
def test_exp_network_computes_its_recursion(L):
    """The branch gadget's wedge conditions hold: the network equals the recursion up to
    the rounding of its constants (the seed code's Taylor start is off by 1e-2 at L=3)."""
    import math

    c = compile_spec(f"exp L={L}", "float64")
    assert c.net.hidden_layers == 2 * L and c.net.width == L + 5
    xs = [Fraction(j, 257) for j in range(258)] + [Fraction(k, 2**L) for k in range(2**L + 1)]
    got = exact.evaluate(c.net, [[x] for x in xs])
    for x, g in zip(xs, got):
        want = exp_recursion(L, x)
        assert max(abs(a - b) for a, b in zip(g, want)) < Fraction(1, 2**45)
        assert abs(float(g[0]) - math.exp(x)) <= float(c.error_bound)
        assert abs(float(g[1]) - math.exp(-x)) <= float(c.error_bound)


@pytest.mark.parametrize("L", [1, 4, 8])
def test_sincos_error_is_within_its_bound(L):
    import math

    c = compile_spec(f"sincos L={L}", "float64")
    assert c.net.hidden_layers == 2 * L
    xs = [Fraction(math.pi) * j / 300 for j in range(301)]
    got = exact.evaluate(c.net, [[x] for x in xs])
    err = max(max(abs(float(g[0]) - math.cos(x)), abs(float(g[1]) - math.sin(x)))
              for x, g in zip(xs, got))
    assert err <= float(c.error_bound)
    assert err > float(c.error_bound) / 8  # and the bound is not loose


@pytest.mark.parametrize("b,a", [("1,0;0,1;1,1", "0.5;0.5"), ("1,2;-1,0.5;0.25,1;1,-1", "0.25,0.75"),
                                 ("1,0,0;0,1,0;0,0,1;1,1,1", "0.5")])
def test_zonotope_is_the_zigzag_of_the_support_function(b, a):
    c = compile_spec(f"zonotope b={b} a={a}", "float64")
    m, n, rows = len(b.split(";")), len(b.split(";")[0].split(",")), a.split(";")
    assert c.exact and c.net.n_in == n
    # Lemma 3.7 + Prop 3.8: 2m neurons for gamma_Z, then the zig-zags; depth k + 2.
    assert c.net.depth == len(rows) + 2
    assert c.net.widths == (2 * m, *[len(r.split(",")) + 1 for r in rows])
    R = c.domain.hi[0]
    assert c.domain.lo[0] == -R and R == 1 / sum(abs(Fraction(v)) for v in b.replace(";", ",").split(","))
    rng = random.Random(n)
    xs = [[R * Fraction(rng.randint(-64, 64), 64) for _ in range(n)] for _ in range(300)]
    ctor = registry.get("zonotope")
    assert [g[0] for g in exact.evaluate(c.net, xs)] == \
        [ctor.reference(c.spec.values, x)[0] for x in xs]


def test_one_dimensional_zonotope_is_proved_piece_by_piece():
    from reluc.pieces import merge, pieces

    c = compile_spec("zonotope b=1;2 a=0.25,0.5,0.75;0.5", "float64")
    ps = merge(pieces(c.net, c.domain.lo[0], c.domain.hi[0]))
    assert len(ps) == 2 * 4 * 2  # |x| doubles the pieces of H on [0, M]


@pytest.mark.parametrize("L,d", [(1, 2), (2, 3), (3, 5), (5, 8)])
def test_monomials_are_the_grid_interpolants_of_the_powers(L, d):
    from reluc.pieces import merge, pieces

    c = compile_spec(f"monomials L={L} d={d}", "float64")
    assert not c.dtype_rounded  # dyadic constants: the network is its own recursion, exactly
    assert c.net.hidden_layers == 2 * L and c.net.n_out == d - 1
    assert c.net.width == (2 * d + L if L > 1 else 2 * d)
    assert c.net.width < 2 * (L + d - 1) or L <= 2  # the Julia package's width
    ps = merge(pieces(c.net, Fraction(0), Fraction(1)))
    assert [p.t0 for p in ps] == [Fraction(j, 2**L) for j in range(2**L)]
    for p in ps:
        for t in (p.t0, p.t1):
            assert list(p.value(t)) == [t**k for k in range(2, d + 1)]
    # the interpolation error of x^k on a grid of step h is at most k(k-1)/8 h^2
    ctor = registry.get("monomials")
    worst = [max(e) for e in zip(*(ctor.sup_error(c.spec.values, p.t0, p.t1, p.slope,
                                                  p.intercept) for p in ps))]
    for k, w in zip(range(2, d + 1), worst):
        assert w <= Fraction(k * (k - 1), 8 * 4**L) * (1 + Fraction(1, 10**8))
    assert worst[-1] > c.error_bound / 2


def _angles(count):
    return [2 * math.pi * j / count for j in range(count)]


@pytest.mark.parametrize("levels", [2, 4, 7])
def test_norm2_underestimates_by_at_most_cos_delta(levels):
    c = compile_spec(f"norm2 levels={levels}", "float64")
    assert (c.net.hidden_layers, c.net.width) == (levels, 4)
    delta = math.pi / 2**levels
    xs = [[Fraction(math.cos(t)), Fraction(math.sin(t))] for t in _angles(997)]
    got = [float(v[0]) for v in exact.evaluate(c.net, xs)]
    r = [math.hypot(*map(float, x)) for x in xs]
    ratio = [g / q for g, q in zip(got, r)]
    assert min(ratio) >= math.cos(delta) - 1e-12 and max(ratio) <= 1 + 1e-12
    assert min(ratio) < math.cos(delta / 2)  # the bound is approached, not loose
    # positively homogeneous: scaling the input scales the output
    scaled = exact.evaluate(c.net, [[3 * a, 3 * b] for a, b in xs[:50]])
    assert [s[0] for s in scaled] == [3 * g[0] for g in exact.evaluate(c.net, xs[:50])]


@pytest.mark.parametrize("n,levels", [(4, 3), (8, 5)])
def test_norm_tree_shares_layers_and_multiplies_the_factors(n, levels):
    c = compile_spec(f"norm n={n} levels={levels}", "float64")
    j = int(math.log2(n))
    assert c.net.hidden_layers == levels + (j - 1) * (levels - 1) and c.net.width == 2 * n
    rng = random.Random(n)
    xs = [[Fraction(rng.randint(-64, 64), 64) for _ in range(n)] for _ in range(200)]
    got = [float(v[0]) for v in exact.evaluate(c.net, xs)]
    for g, x in zip(got, xs):
        r = math.sqrt(sum(float(v) ** 2 for v in x))
        assert math.cos(math.pi / 2**levels) ** j * r - 1e-12 <= g <= r + 1e-12


def test_disk_is_a_bump_inside_the_disk():
    c = compile_spec("disk levels=6 radius=2", "float64")
    pts = [[Fraction(0), Fraction(0)], [Fraction(2), Fraction(0)], [Fraction(0), Fraction(-3)],
           [Fraction(1), Fraction(1)]]
    got = [v[0] for v in exact.evaluate(c.net, pts)]
    assert got[0] == 2 and got[2] == 0  # centre: the radius; outside: zero
    assert 0 <= got[1] <= c.error_bound  # on the rim: zero up to the bound
    assert abs(float(got[3]) - (2 - math.sqrt(2))) <= float(c.error_bound)


def test_rounding_to_float32_widens_the_bound_soundly():
    c64, c32 = compile_spec("norm2 levels=6", "float64"), compile_spec("norm2 levels=6")
    assert c32.dtype_rounded and c32.error_bound > c64.error_bound
    rng = random.Random(0)
    xs = [[Fraction(rng.randint(-256, 256), 256) for _ in range(2)] for _ in range(300)]
    got = exact.evaluate(c32.net, xs)
    err = max(abs(float(g[0]) - math.hypot(*map(float, x))) for g, x in zip(got, xs))
    assert err <= c32.error_bound


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 4), st.integers(2, 4), st.data())
def test_pwl2d_is_the_triangulated_interpolant_exactly(nx, ny, data):
    from reluc.constructors.lattice import interpolate2d

    steps = st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(2)])
    xs = [Fraction(-1)]
    for _ in range(nx - 1):
        xs.append(xs[-1] + data.draw(steps))
    ys = [Fraction(0)]
    for _ in range(ny - 1):
        ys.append(ys[-1] + data.draw(steps))
    vals = [[Fraction(data.draw(st.integers(-8, 8)), 4) for _ in xs] for _ in ys]
    fmt = lambda r: ",".join(str(float(v)) for v in r)  # noqa: E731
    c = compile_spec(f"pwl2d xs={fmt(xs)} ys={fmt(ys)} values={';'.join(fmt(r) for r in vals)}",
                     "float64")
    assert c.exact and c.net.hidden_layers == (3 if any(v for r in vals for v in r) else 0)
    rng = random.Random(nx * 10 + ny)
    pts = [[x, y] for x in xs for y in ys]  # the nodes
    pts += [[(xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2] for i in range(nx - 1)
            for j in range(ny - 1)]  # cell centres, on the diagonals
    pts += [[xs[0] + (xs[-1] - xs[0]) * Fraction(rng.randint(0, 128), 128),
             ys[0] + (ys[-1] - ys[0]) * Fraction(rng.randint(0, 128), 128)] for _ in range(100)]
    got = [g[0] for g in exact.evaluate(c.net, pts)]
    assert got == [interpolate2d(xs, ys, vals, x, y) for x, y in pts]
    assert all(g == vals[ys.index(y)][xs.index(x)] for g, (x, y) in zip(got, pts[: nx * ny]))


def test_pwl2d_triangles_follow_the_rising_diagonal():
    # one cell, value 1 at (1, 0) only: the hat's support is the lower-right triangle
    c = compile_spec("pwl2d xs=0,1 ys=0,1 values=0,1;0,0", "float64")
    got = [g[0] for g in exact.evaluate(c.net, [[Fraction(1, 2), Fraction(1, 2)],
                                                [Fraction(3, 4), Fraction(1, 4)],
                                                [Fraction(1, 4), Fraction(3, 4)]])]
    assert got == [0, Fraction(1, 2), 0]
    # zero nodes cost nothing: one non-zero node, a handful of neurons
    assert c.net.neurons <= 8


def test_pwl2d_with_non_binary_cells_states_a_sound_bound():
    c = compile_spec("pwl2d xs=0,3,4 ys=0,1 values=1,2,0;3,5,1", "float64")
    assert not c.exact and 0 < c.error_bound < Fraction(1, 10**12)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.data())
def test_lattice_is_max_of_mins(n, data):
    m = data.draw(st.integers(1, 6))
    planes = [[data.draw(st.integers(-3, 3)) for _ in range(n + 1)] for _ in range(m)]
    groups = [data.draw(st.lists(st.integers(1, m), min_size=1, max_size=5))
              for _ in range(data.draw(st.integers(1, 4)))]
    text = (f"lattice planes={';'.join(','.join(map(str, r)) for r in planes)} "
            f"groups={';'.join(','.join(map(str, g)) for g in groups)}")
    c = compile_spec(text, "float64")
    clog2 = lambda k: (k - 1).bit_length()  # noqa: E731
    assert c.net.hidden_layers <= clog2(max(map(len, groups))) + clog2(len(groups))
    rng = random.Random(m)
    xs = [[Fraction(rng.randint(-40, 40), 8) for _ in range(n)] for _ in range(60)]
    want = [max(min(sum(a * v for a, v in zip(planes[i - 1][:-1], x)) + planes[i - 1][-1]
                    for i in g) for g in groups) for x in xs]
    assert [g[0] for g in exact.evaluate(c.net, xs)] == want


def test_lattice_with_one_group_of_n_plus_1_planes_has_aroras_depth():
    # a max-min of one group of n + 1 = 3 planes: depth ceil(log2(n + 1)) + 1 = 3
    c = compile_spec("lattice planes=1,0,0;0,1,0;-1,-1,1 groups=1,2,3", "float64")
    assert c.net.depth == 3


@pytest.mark.parametrize("text", ["norm2 levels=2", "norm2 levels=5", "norm n=2 levels=3",
                                  "norm n=4 levels=2", "norm n=8 levels=3", "disk levels=2",
                                  "disk levels=4 radius=3", "monomials L=1 d=2",
                                  "monomials L=4 d=7", "zonotope b=1,2;3,-1 a=0.5;0.25,0.75"])
def test_size_formulas_hold_beyond_the_examples(text):
    c = compile_spec(text, "float64")
    ctor = registry.get(c.spec.name)
    for key, value in ctor.formula_values(c.spec.values).items():
        if value is not None and hasattr(c.net, key):
            assert getattr(c.net, key) == value, key


# zig-zag breakpoints (in 16ths) whose gaps are powers of two: every slope is a binary
# fraction, so the float64 network is exact and its kinks are the true ones
DYADIC_ZIGZAGS = [(8,), (4, 8), (8, 12), (4, 12), (4, 8, 12), (2, 4, 8), (8, 10, 12), (4, 6, 8)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(DYADIC_ZIGZAGS), min_size=1, max_size=3))
def test_hardcomp_breakpoints_made_on_demand_are_exactly_its_kinks(rows):
    """The breakpoints the piece proof relies on, indexed in mixed radix, are in order
    and are exactly where the network's exact pieces change (plus the two ends)."""
    from reluc.pieces import merge, pieces

    spec = "hardcomp a=" + ";".join(",".join(f"{v}/16" for v in r) for r in rows)
    c = compile_spec(spec, "float64")
    bps = registry.get("hardcomp").breakpoints(c.spec.values)
    pts = list(bps)
    assert len(pts) == math.prod(len(r) + 1 for r in rows) + 1
    assert all(a < b for a, b in zip(pts, pts[1:])) and (pts[0], pts[-1]) == (0, 1)
    ends = [p.t0 for p in merge(pieces(c.net, Fraction(0), Fraction(1)))] + [Fraction(1)]
    assert ends == pts
    assert bps[-1] == pts[-1] and bps[1:3] == pts[1:3]
