"""``reluc regions``: exact counts under each definition, on networks whose counts are
known, hand-checked examples where the definitions differ, the paper's ordering on random
degenerate networks, agreement with sampling, and the certificate fed wrong input."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import assert_one_line_error, build
from test_bounds import foreign

EYE = ((1, 0), (0, 1))
ORDER = ["activation_regions", "full_dimensional_activation_regions", "convex_regions",
         "open_connected_regions", "closed_connected_regions", "affine_regions"]


def counts(cli, path, *args):
    return json.loads(cli("regions", path, "--json", *args).stdout)["counts"]


def low(c):
    return c[0] if isinstance(c, list) else c


def high(c):
    return c[1] if isinstance(c, list) else c


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_sawtooth_has_two_to_the_k_pieces(cli, tmp_path, k):
    c = counts(cli, build(cli, tmp_path, f"sawtooth k={k}", "s.onnx"))
    for key in ORDER[1:]:
        assert c[key] == 2 ** k, (key, c)
    assert c["activation_regions"] > 2 ** k  # the teeth's tips are patterns of their own


def test_hardcomp_has_the_product_of_pieces(cli, tmp_path):
    path = build(cli, tmp_path, "hardcomp a=0.25,0.5,0.75;0.5;0.25,0.75", "h.onnx")
    assert counts(cli, path)["open_connected_regions"] == 4 * 2 * 3


def test_pwl_with_p_pieces_has_p(cli, tmp_path):
    path = build(cli, tmp_path, "pwl points=0:0,1:2,2:1,3:3,4:0", "p.onnx", "--dtype", "float64")
    c = counts(cli, path)
    assert c["open_connected_regions"] == c["affine_regions"] == 4
    # the interpolant is linear outside its points: still 4 on a wider interval
    c = counts(cli, path, "--box", "-10:10")
    assert c["open_connected_regions"] == 4


def test_one_hidden_layer_in_general_position(cli, tmp_path):
    m = 6
    rng = np.random.default_rng(5)
    w = rng.integers(-9, 10, size=(m, 2)).astype(float)
    b = rng.integers(-9, 10, size=m).astype(float)
    # general position, checked exactly: no two lines parallel, no three through a point
    lines = [(Fraction(int(p)), Fraction(int(q)), Fraction(int(r))) for (p, q), r in zip(w, b)]
    points = []
    for i in range(m):
        for j in range(i):
            (a1, b1, c1), (a2, b2, c2) = lines[i], lines[j]
            det = a1 * b2 - a2 * b1
            assert det != 0
            points.append(((b1 * c2 - b2 * c1) / det, (a2 * c1 - a1 * c2) / det))
    assert len(set(points)) == len(points)
    for a, bb, c in lines:
        assert sum(1 for x, y in points if a * x + bb * y + c == 0) == m - 1
    r = math.ceil(max(max(abs(x), abs(y)) for x, y in points)) + 1
    path = foreign(tmp_path / "g.npz", [(w, b), (2.0 ** np.arange(m)[None, :], [0])])
    c = counts(cli, path, "--box", f"{-r}:{r}")
    assert c["full_dimensional_activation_regions"] == 1 + m + m * (m - 1) // 2


def test_identity_is_one_affine_region(cli, tmp_path):
    c = counts(cli, build(cli, tmp_path, "identity n=2", "i.onnx"), "--box", "-1:1")
    assert c["affine_regions"] == c["open_connected_regions"] == c["convex_regions"] == 1
    assert c["full_dimensional_activation_regions"] == 4  # relu(x) - relu(-x) per input
    assert c["activation_regions"] == 9  # and the axes, and the origin, where both are 0


def test_sort3_on_a_plane_has_the_weyl_chambers(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    out = cli("regions", path, "--plane", "0,0,0", "1,0,0", "0,1,0", "--box", "-1:1").stdout
    c = counts(cli, path, "--plane", "0,0,0", "1,0,0", "0,1,0", "--box", "-1:1")
    # sort(u, v, 0): the lines u = v, u = 0, v = 0 cut the plane into 6 chambers
    assert c["affine_regions"] == c["open_connected_regions"] == 6
    assert "the plane 0,0,0 + u (1,0,0) + v (0,1,0)" in out


# -- hand-checked examples where the definitions differ ------------------------------------

def test_closed_connected_joins_pieces_that_touch_at_a_point(cli, tmp_path):
    # f = relu(x + y) - relu(x) - relu(y) is 0 on the quadrants x, y > 0 and x, y < 0,
    # which touch only at the origin; the other two quadrants have two maps each
    # (x and -y, y and -x): 6 open connected regions, 5 closed, 5 maps
    path = foreign(tmp_path / "f.npz", [([[1, 1], [1, 0], [0, 1]], [0, 0, 0]),
                                        ([[1, -1, -1]], [0])])
    c = counts(cli, path, "--box", "-1:1")
    assert (c["open_connected_regions"], c["closed_connected_regions"],
            c["affine_regions"]) == (6, 5, 5)
    assert c["full_dimensional_activation_regions"] == 6 == c["activation_regions"]


def test_affine_regions_need_not_be_connected(cli, tmp_path):
    # f = relu(x) - 2 relu(x - 1) + relu(x - 2): 0, x, 2 - x, 0 on [-1, 3]
    path = foreign(tmp_path / "t.npz", [([[1], [1], [1]], [0, -1, -2]), ([[1, -2, 1]], [0])])
    c = counts(cli, path, "--box", "-1:3")
    assert c["open_connected_regions"] == c["closed_connected_regions"] == 4
    assert c["affine_regions"] == 3


def test_activation_regions_count_lower_dimensional_patterns(cli, tmp_path):
    # relu(x) + relu(-x): at x = 0 both neurons are off, a pattern of its own
    path = foreign(tmp_path / "a.npz", [([[1], [-1]], [0, 0]), ([[1, 1]], [0])])
    out = json.loads(cli("regions", path, "--json", "--map").stdout)  # the whole line
    c = out["counts"]
    assert c["activation_regions"] == 3 and c["full_dimensional_activation_regions"] == 2
    assert [r["interval"] for r in out["regions"]] == [[None, "0"], ["0", None]]
    assert out["domain"] == {"kind": "interval", "lo": None, "hi": None}


def test_a_non_convex_affine_region_gives_a_range_of_convex_counts(cli, tmp_path):
    # relu(relu(x) - relu(y)) is 0 on {x < 0} u {y > x}, an L-shaped region: at least two
    # convex pieces, so the convex count is not the connected count
    path = foreign(tmp_path / "l.npz", [([[1, 0], [0, 1]], [0, 0]), ([[1, -1]], [0]),
                                        ([[1]], [0])])
    c = counts(cli, path, "--box", "-1:1")
    assert c["open_connected_regions"] == 3
    assert isinstance(c["convex_regions"], list) and c["convex_regions"][0] == 3
    assert "between 3 and" in cli("regions", path, "--box", "-1:1").stdout


# -- the ordering, on random networks whose integer weights make degeneracies common ---------

def nets(n_in):
    def layer(n_out, n):
        return st.tuples(st.lists(st.lists(st.integers(-2, 2), min_size=n, max_size=n),
                                  min_size=n_out, max_size=n_out),
                         st.lists(st.integers(-2, 2), min_size=n_out, max_size=n_out))

    @st.composite
    def draw(d):
        widths = d(st.lists(st.integers(1, 3), min_size=1, max_size=2))
        sizes = [n_in, *widths, 1]
        return [d(layer(b, a)) for a, b in zip(sizes, sizes[1:])]
    return draw()


def ordered(c):
    return all(low(c[a]) >= high(c[b]) or (a, b) == ("full_dimensional_activation_regions",
                                                    "convex_regions")
               for a, b in zip(ORDER, ORDER[1:])) and \
        high(c["convex_regions"]) <= c["full_dimensional_activation_regions"] and \
        low(c["convex_regions"]) >= c["open_connected_regions"]


@settings(max_examples=40, deadline=None)
@given(layers=nets(2))
def test_counts_are_ordered_as_the_paper_proves_in_the_plane(tmp_path_factory, layers):
    from reluc.analysis.planar import Slice
    from reluc.analysis.regions import on_plane
    from reluc.net import Layer, Net

    net = Net([Layer(np.array(w, float), np.array(b, float)) for w, b in layers])
    r = on_plane(net, Slice((0, 0), EYE, (-2, 2, -2, 2)))
    assert ordered(r.counts), r.counts


@settings(max_examples=40, deadline=None)
@given(layers=nets(1))
def test_counts_are_ordered_as_the_paper_proves_on_the_line(layers):
    from reluc.analysis.regions import on_line
    from reluc.net import Layer, Net

    net = Net([Layer(np.array(w, float), np.array(b, float)) for w, b in layers])
    for lo, hi in [(None, None), (Fraction(-2), Fraction(3))]:
        assert ordered(on_line(net, lo, hi).counts)


# -- agreement with sampling --------------------------------------------------------------

def test_sampling_finds_only_patterns_of_the_exact_regions(cli, tmp_path):
    rng = np.random.default_rng(7)
    w1, b1 = rng.normal(size=(8, 2)), rng.normal(size=8)
    w2, b2 = rng.normal(size=(6, 8)) / np.sqrt(8), rng.normal(size=6)
    path = foreign(tmp_path / "r.npz", [(w1, b1), (w2, b2), (np.ones((1, 6)), [0])])
    out = json.loads(cli("regions", path, "--box", "-1:1", "--json", "--map").stdout)
    exact = {r["pattern"].replace("|", "") for r in out["regions"]}
    g = (np.arange(400) + 0.5) / 200 - 1  # a 400 x 400 grid inside [-1, 1]^2
    x = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    z1 = x @ w1.T + b1
    z2 = np.maximum(z1, 0) @ w2.T + b2
    seen = {"".join("1" if v > 0 else "0" for v in row) for row in np.hstack([z1, z2])}
    assert seen <= exact  # a lower bound: every sampled pattern is an exact region's
    assert len(seen) >= 0.9 * len(exact)
    assert out["counts"]["full_dimensional_activation_regions"] == len(exact)


# -- the certificate, fed wrong subdivisions -----------------------------------------------

def test_the_certificate_catches_wrong_subdivisions(monkeypatch):
    from reluc.analysis.certificate import CertificateError, certify
    from reluc.analysis.planar import Slice, Subdivision
    from reluc.compiler import compile_spec

    net = compile_spec("sort n=2").net
    sl = Slice((0, 0), EYE, (-1, 1, -1, 1))
    certify(net, Subdivision(net, sl))  # the real one passes
    sub = Subdivision(net, sl)
    sub.faces.pop()  # a hole
    with pytest.raises(CertificateError, match="one side only"):
        certify(net, sub)
    sub = Subdivision(net, sl)
    sub.faces[0].reverse()  # turning clockwise
    with pytest.raises(CertificateError, match="convex polygon"):
        certify(net, sub)
    sub = Subdivision(net, sl)
    sub.faces.append(list(sub.faces[0]))  # a face twice
    with pytest.raises(CertificateError, match="twice"):
        certify(net, sub)
    sub = Subdivision(net, sl)
    sub.P.view[:, 0] ^= 0x80  # the first neuron's bit, everywhere
    with pytest.raises(CertificateError, match="does not have its pattern"):
        certify(net, sub)
    import reluc.analysis.certificate as cert
    real = cert.float_maps

    def shifted(sub, pats):
        m, e = real(sub, pats)
        m[0, :, 2] += 1.0  # face 0's map, one higher
        return m, e
    monkeypatch.setattr(cert, "float_maps", shifted)
    with pytest.raises(CertificateError, match="does not have its map"):
        certify(net, Subdivision(net, sl))
    monkeypatch.undo()
    sub = Subdivision(net, sl)
    monkeypatch.setattr(Slice, "area", property(lambda self: Fraction(5)))  # not the box's
    with pytest.raises(CertificateError, match="sum to"):
        certify(net, sub)


# -- the filtered subdivision against an exact one in rationals ----------------------------

def reference_patterns(net, box):
    from planar_reference import Slice as RSlice, subdivide
    from reluc.analysis.patterns import pack

    sub = subdivide(net, RSlice((0, 0), EYE, box))
    widths = [layer.n_out for layer in net.layers[:-1]]
    return sorted(pack(sub.face_pattern(f), widths) for f in range(len(sub.faces)))


@settings(max_examples=40, deadline=None)
@given(layers=nets(2))
def test_the_filtered_subdivision_is_the_exact_one_on_degenerate_networks(layers):
    from reluc.analysis.planar import Slice, Subdivision
    from reluc.net import Layer, Net

    net = Net([Layer(np.array(w, float), np.array(b, float)) for w, b in layers])
    sub = Subdivision(net, Slice((0, 0), EYE, (-2, 2, -2, 2)))
    assert sorted(sub.face_patterns()) == reference_patterns(net, (-2, 2, -2, 2))


@pytest.mark.parametrize("spec", ["sort n=3", "sort n=4", "median n=3"])
def test_the_filtered_subdivision_is_exact_where_floats_round(spec):
    # a plane through points that are not binary fractions: vertices on x = y are not
    # floats, and y - x there rounds to about 1e-17 instead of 0 (a false cut if trusted)
    from planar_reference import Slice as RSlice, subdivide
    from reluc.analysis.patterns import pack
    from reluc.analysis.planar import Slice, Subdivision
    from reluc.compiler import compile_spec

    net = compile_spec(spec).net
    n = net.n_in
    p0 = [Fraction(1, 3), Fraction(0), Fraction(1, 7), Fraction(2, 9)][:n]
    a = [Fraction(1), Fraction(1, 3), Fraction(0), Fraction(1, 11)][:n]
    b = [Fraction(0), Fraction(1), Fraction(1, 5), Fraction(-1, 3)][:n]
    box = (-1, 1, -1, 1)
    sub = Subdivision(net, Slice(p0, (a, b), box))
    ref = subdivide(net, RSlice(p0, (a, b), box))
    widths = [layer.n_out for layer in net.layers[:-1]]
    assert sorted(sub.face_patterns()) == \
        sorted(pack(ref.face_pattern(f), widths) for f in range(len(ref.faces)))


@pytest.mark.parametrize("seed,widths", [(0, (12, 10)), (1, (12, 10)), (2, (12, 10)),
                                         (3, (8, 8, 6))])  # (a middle layer: whole rows)
def test_the_filtered_subdivision_is_the_exact_one_on_random_networks(seed, widths):
    from reluc.analysis.planar import Slice, Subdivision
    from reluc.net import Layer, Net

    rng = np.random.default_rng(seed)
    sizes = [2, *widths, 2]
    net = Net([Layer(rng.normal(size=(b, a)) / (1 if a == 2 else 3), rng.normal(size=b))
               for a, b in zip(sizes, sizes[1:])])
    box = (-1, 1, -1, 1)
    sub = Subdivision(net, Slice((0, 0), EYE, box))
    assert sorted(sub.face_patterns()) == reference_patterns(net, box)


def test_a_vertex_value_never_computed_is_not_read():
    # the last hidden layer keeps a new vertex's values only where a later cut reads
    # them; reading any other is a bug, caught here rather than read from a neighbour
    from reluc.analysis.slices import Store

    store = Store()
    store.add(np.array([3, 7, 9]), np.array([0.5, -1.0, 2.0]), np.array([1e-16] * 3))
    assert store.get(np.array([9, 3]))[0].tolist() == [2.0, 0.5]
    for missing in ([8], [10], [0]):
        with pytest.raises(RuntimeError, match="never computed"):
            store.get(np.array(missing))


# -- bad input ----------------------------------------------------------------------------

def test_bad_input_is_one_line(cli, tmp_path):
    s3 = build(cli, tmp_path, "sort n=3", "s3.onnx")
    m2 = build(cli, tmp_path, "max n=2", "m2.onnx")
    cases = [
        ((m2,), "unbounded"),
        ((s3,), "3-input network"),
        ((s3, "--plane", "0,0,0", "1,1,1", "2,2,2"), "collinear"),
        ((s3, "--plane", "0,0", "1,0", "0,1"), "coordinates"),
        ((s3, "--line", "0,0,0", "0,0,0"), "different"),
        ((m2, "--box", "1:0"), "empty"),
        ((m2, "--box", "a:b"), "--box"),
        ((m2, "--box", "-1:1", "--max-regions", "0"), "at least 1"),
        ((m2, "--box", "-1:1", "--max-regions", "2"), "more than 2 regions"),
    ]
    for args, fragment in cases:
        assert_one_line_error(cli("regions", *args, ok=False), fragment)


# -- n inputs: LP search in a box --------------------------------------------------------

@pytest.mark.parametrize("n", [3, 4, 5])
def test_sort_has_n_factorial_affine_regions_and_more_activation_regions(cli, tmp_path, n):
    path = build(cli, tmp_path, f"sort n={n}", "s.onnx")
    c = counts(cli, path, "--box", "-1:1")
    assert c["affine_regions"] == math.factorial(n)  # the Weyl chambers
    assert c["full_dimensional_activation_regions"] > math.factorial(n)


def test_the_lp_search_agrees_with_the_planar_subdivision(cli, tmp_path):
    rng = np.random.default_rng(3)
    layers = [(rng.integers(-2, 3, size=(5, 2)), rng.integers(-2, 3, size=5)),
              (rng.integers(-2, 3, size=(4, 5)), rng.integers(-2, 3, size=4)),
              (rng.integers(-2, 3, size=(1, 4)), [0])]
    from reluc.analysis.regions import in_box
    from reluc.net import Layer, Net

    net = Net([Layer(np.array(w, float), np.array(b, float)) for w, b in layers])
    path = foreign(tmp_path / "n.npz", layers)
    plane = counts(cli, path, "--box", "-2:2")
    lp = in_box(net, [-2, -2], [2, 2], workers=1).counts
    assert lp["full_dimensional_activation_regions"] == \
        plane["full_dimensional_activation_regions"]
    assert lp["affine_regions"] == plane["affine_regions"]


def test_max_regions_answers_at_least_and_says_it_stopped(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=4", "s.onnx")
    out = json.loads(cli("regions", path, "--box", "-1:1", "--max-regions", "10",
                         "--json").stdout)
    assert out["counts"]["full_dimensional_activation_regions"]["at_least"] > 10
    assert not out["certified"] and "stopped" in out["certificate"]
    text = cli("regions", path, "--box", "-1:1", "--max-regions", "10").stdout
    assert "at least" in text


def test_workers_do_not_change_the_answer(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=4", "s.onnx")
    one = counts(cli, path, "--box", "-1:1", "--workers", "1")
    two = counts(cli, path, "--box", "-1:1", "--workers", "2")
    assert one == two


def test_the_region_check_refuses_a_wrong_pattern_or_a_centre_on_a_boundary():
    from reluc.analysis.polytopes import certify_region
    from reluc.compiler import compile_spec
    from reluc.errors import NetworkError

    net = compile_spec("sort n=2").net  # at (2, 1): x > y > 0, no neuron at 0
    from reluc.analysis.patterns import Patterns
    bits = Patterns(net).at([[2, 1]])[0][0]
    widths = [layer.n_out for layer in net.layers[:-1]]
    on = [np.array([bits >> (sum(widths[:k]) + j) & 1 for j in range(w)], bool)
          for k, w in enumerate(widths)]
    certify_region(net, on, (Fraction(2), Fraction(1)))  # the right one passes
    wrong = [o.copy() for o in on]
    wrong[0][0] = not wrong[0][0]
    with pytest.raises(NetworkError, match="not strictly inside"):
        certify_region(net, wrong, (Fraction(2), Fraction(1)))
    with pytest.raises(NetworkError, match="not strictly inside"):
        certify_region(net, on, (Fraction(1), Fraction(1)))  # on the line x = y


# -- the vectorised line against exact pieces ------------------------------------------------

def pieces_counts(net, lo, hi, along=None):
    """The counts from exact pieces in rationals (the slow path, independent)."""
    from reluc.analysis.regions import on_line
    import reluc.analysis.regions as regions

    real = regions.line.cut
    regions.line.cut = lambda *a, **k: None  # force the exact pieces
    try:
        return on_line(net, lo, hi, along).counts
    finally:
        regions.line.cut = real


@settings(max_examples=40, deadline=None)
@given(layers=nets(1))
def test_the_vectorised_line_counts_as_exact_pieces_do(layers):
    from reluc.analysis.regions import on_line
    from reluc.net import Layer, Net

    net = Net([Layer(np.array(w, float), np.array(b, float)) for w, b in layers])
    lo, hi = Fraction(-3), Fraction(5, 2)
    assert on_line(net, lo, hi).counts == pieces_counts(net, lo, hi)


def test_a_line_through_rational_points_is_exact(cli, tmp_path):
    from reluc.analysis.regions import on_line
    from reluc.compiler import compile_spec

    net = compile_spec("sort n=3").net
    along = ((Fraction(1, 3), Fraction(0), Fraction(-1, 7)), (Fraction(1), Fraction(2, 3), Fraction(1, 5)))
    fast = on_line(net, Fraction(-4), Fraction(4), along).counts
    assert fast == pieces_counts(net, Fraction(-4), Fraction(4), along)
    # and through the CLI, a segment of R^3 from A to B
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    c = counts(cli, path, "--line", "-1,-2,-3", "3,2,1")  # x_i - x_j constant: one order
    assert c["affine_regions"] == 1


def test_the_line_check_catches_a_missing_point():
    from reluc.analysis import line
    from reluc.compiler import compile_spec
    from reluc.errors import NetworkError

    net = compile_spec("sawtooth k=3").net
    lp = line.cut(net, Fraction(0), Fraction(1))
    line.analyse(lp)  # the real one passes
    lp.p, lp.q = np.delete(lp.p, 3), np.delete(lp.q, 3)  # one breakpoint less
    with pytest.raises(NetworkError, match="midpoint"):
        line.analyse(lp)
