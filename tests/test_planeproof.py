"""verify --complete at every size a user builds: every constructor's example proved, the
exact 2-D proofs and worst-case errors, elementwise networks, and tampered files refused
by the complete check itself with a counterexample that reproduces."""

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import build, edit_initializer, edit_onnx
from reluc import exact, formats
from reluc import polygons as pg
from reluc.registry import _REGISTRY, get

# mul's example (L=8, 33024 faces, about 20 s) is proved in bench/proofs.py; here L=4
SLOW = {"mul": "mul L=4"}
NOT_PROVED: set[str] = set()


def complete(cli, path, ok=None):
    r = cli("verify", "--complete", "--json", str(path), ok=False)
    report = json.loads(r.stdout)["files"][0]
    if ok is not None:
        assert (r.exit_code == 0) == ok, r.output
    return report


def examples():
    get("sort")  # loads the families
    return sorted((name, SLOW.get(name, c.example)) for name, c in _REGISTRY.items())


@pytest.mark.parametrize("name, spec", examples())
def test_every_constructors_example_is_proved(cli, tmp_path, name, spec):
    path = build(cli, tmp_path, spec, "e.onnx")
    report = complete(cli, path, ok=True)
    check = report["checks"]["complete"]
    if name in NOT_PROVED:
        assert report["verdict"] == "tested" and check["result"] == "unsupported"
    else:
        assert report["verdict"] == "proved", check["detail"]
        assert check["detail"]  # the method is said


def test_two_input_pwl_proofs_say_how(cli, tmp_path):
    path = build(cli, tmp_path, "maxaffine planes=1,0,0;0,1,0;-1,-1,1", "m.onnx")
    detail = complete(cli, path, ok=True)["checks"]["complete"]["detail"]
    assert "exact faces on five squares of the perspective" in detail
    assert "3 kink lines" in detail and "on the plane" in detail
    path = build(cli, tmp_path, "pwl2d xs=0,1,3 ys=0,2,3 values=0,1,0;1,2,1;0,1,5", "p.onnx")
    detail = complete(cli, path, ok=True)["checks"]["complete"]["detail"]
    assert "agree with the reference on the box [0, 3] x [0, 3]" in detail


def reproduces(path, report, bound=Fraction(0)):
    """The counterexample of the report is real: the file's own weights, exactly, miss
    the reference by more than the bound."""
    cex = report["counterexample"]
    x = [Fraction(v) for v in cex["input"]]
    net, _ = formats.read(str(path))
    got = exact.evaluate(net, [x])[0]
    spec = report["spec"]
    c = get(spec.split()[0])
    from reluc.spec import parse_text

    values = c.bind(parse_text(spec)).values
    want = [Fraction(v) for v in c.reference(values, x)]
    assert [str(v) for v in got] == [str(Fraction(v)) for v in cex["actual"]]
    assert max(abs(g - w) for g, w in zip(got, want)) > bound
    return x


def nudge(path, tensor, k):
    """One ulp up on the k-th nonzero of an initializer."""
    def fn(m):
        def change(a):
            i = np.flatnonzero(a.ravel() != 0)[k]
            a.ravel()[i] = np.nextafter(a.ravel()[i], np.inf)
        edit_initializer(m, tensor, change)
    edit_onnx(path, fn)


@pytest.mark.parametrize("spec, tensor, k", [
    ("maxaffine planes=1,0,0;0,1,0;-1,-1,1", "W0", 1),
    ("lattice planes=1,0,0;0,1,0;-1,-1,1;0,0,0 groups=1,2,3;4", "W1", 3),
    ("pwl2d xs=0,1,2 ys=0,1,2 values=0,1,0;1,2,1;0,1,0", "W0", 3),
    ("zonotope b=1,0;0,1;1,1 a=0.5;0.5", "W0", 0),
    ("relu n=3", "W0", 1),
    ("abs n=2", "W1", 2),
])
def test_one_ulp_off_is_refused_by_the_complete_check(cli, tmp_path, spec, tensor, k):
    path = build(cli, tmp_path, spec, "t.onnx", "--dtype", "float64")
    nudge(path, tensor, k)
    report = complete(cli, path, ok=False)
    assert report["verdict"] == "failed"
    assert report["checks"]["complete"]["result"] == "failed"
    reproduces(path, report)


def test_a_reference_kink_inside_a_face_of_the_network_is_cut_in(cli, tmp_path):
    """The file computes max(x, y); its spec says max(x, y, -10). They differ only where
    x, y < -10, far out, inside one face of the file's network: only the reference's
    kink lines cut there. The counterexample lies in that corner."""
    path = build(cli, tmp_path, "maxaffine planes=1,0,0;0,1,0", "m.onnx")
    other = build(cli, tmp_path, "maxaffine planes=1,0,0;0,1,0;0,0,-10", "o.onnx")
    spec = "maxaffine planes=1,0,0;0,1,0;0,0,-10"
    net, _ = formats.read(str(path))
    from reluc.analysis.complete import complete_check

    c = get("maxaffine")
    from reluc.spec import parse_text

    values = c.bind(parse_text(spec)).values
    check, cex = complete_check(net, c, values, c.domain(values), Fraction(0))
    assert check.status == "fail", check.detail
    x = [Fraction(v) for v in cex["input"]]
    assert x[0] < -10 and x[1] < -10
    assert complete(cli, other, ok=True)["verdict"] == "proved"


def test_an_approximation_out_of_its_bound_fails_with_the_worst_point(cli, tmp_path):
    path = build(cli, tmp_path, "mul L=3", "m.onnx", "--dtype", "float64")
    edit_onnx(path, lambda m: edit_initializer(m, "B3", lambda a: a + 2.0**-9))
    report = complete(cli, path, ok=False)
    check = report["checks"]["complete"]
    assert check["result"] == "failed" and "exceeds the bound" in check["detail"]
    reproduces(path, report, Fraction(1, 2**8))


@pytest.mark.parametrize("spec, bound, worst", [
    ("mul L=4", "1/1024", "1/1024"),
    ("norm2 levels=6", None, 0.00162567240080),
    ("disk levels=6 radius=1", None, 0.00120454379483),
])
def test_exact_worst_case_errors_are_within_and_close_to_the_bound(cli, tmp_path, spec, bound,
                                                                  worst):
    path = build(cli, tmp_path, spec, "a.onnx", "--dtype", "float64")
    check = complete(cli, path, ok=True)["checks"]["complete"]
    w = Fraction(check["worst_error"])
    declared = get(spec.split()[0]).declared_error(
        get(spec.split()[0]).bind(__import__("reluc.spec").spec.parse_text(spec)).values)
    assert w <= declared and w >= declared * Fraction(85, 100)
    if bound:
        assert check["worst_error"] == worst == bound
    else:
        assert float(w) == pytest.approx(worst, rel=1e-4)


def test_elementwise_needs_each_output_to_read_its_own_input(cli, tmp_path):
    path = build(cli, tmp_path, "relu n=2", "r.onnx", "--dtype", "float64")

    def cross(m):  # output 0 now reads hidden neuron 1 (input 1) too
        def change(a):
            a.ravel()[np.flatnonzero(a.ravel() == 0)[0]] = 2.0**-30
        edit_initializer(m, "W1", change)
    edit_onnx(path, cross)
    check = complete(cli, path)["checks"]["complete"]
    assert check["result"] != "proved"
    assert "reads other inputs than its own" in check["detail"]


def test_a_large_sort_one_ulp_off_is_refused_with_a_reproducing_counterexample(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=64", "s.onnx", "--dtype", "float64")
    for k in (3, 400):
        nudge(path, f"W{k % 7 + 1}", k)
    report = complete(cli, path, ok=False)
    check = report["checks"]["complete"]
    assert check["result"] == "failed"
    assert "not recognised as a comparator network" in check["detail"]
    x = reproduces(path, report)
    assert len(x) == 64


def test_a_carry_weight_one_ulp_off_shows_only_on_ties(cli, tmp_path):
    """A weight (nonzero 31 of W2) that no permutation of distinct values exposes (its
    neuron sits at its kink only when two values tie): the rows with ties do."""
    path = build(cli, tmp_path, "sort n=16", "s.onnx", "--dtype", "float64")
    nudge(path, "W2", 31)
    report = complete(cli, path, ok=False)
    assert report["checks"]["complete"]["result"] == "failed"
    x = reproduces(path, report)
    assert len(set(x)) < len(x)  # a row with ties


# -- the polygon rules against dense sampling ------------------------------------------------
def _polygon(draw_points):
    pts = sorted(set(draw_points))
    if len(pts) < 3:
        return None

    def chain(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) - \
                    (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0]) <= 0:
                out.pop()
            out.append(p)
        return out
    hull = chain(pts)[:-1] + chain(pts[::-1])[:-1]
    return hull if len(hull) >= 3 else None


coord = st.integers(-8, 8).map(lambda v: Fraction(v, 4))
points = st.lists(st.tuples(coord, coord), min_size=3, max_size=6)
affine = st.tuples(st.integers(-6, 6), st.integers(-6, 6), st.integers(-6, 6)).map(
    lambda t: ((Fraction(t[0], 4), Fraction(t[1], 4)), Fraction(t[2], 4)))


def _samples(verts, k=24):
    """Points of the polygon: a grid of barycentric combinations of a fan of triangles."""
    out = []
    for i in range(1, len(verts) - 1):
        a, b, c = verts[0], verts[i], verts[i + 1]
        for s in range(k + 1):
            for t in range(k + 1 - s):
                u = Fraction(s, k), Fraction(t, k)
                out.append(tuple(float(a[j] + u[0] * (b[j] - a[j]) + u[1] * (c[j] - a[j]))
                                 for j in range(2)))
    return np.array(out)


def _check(e, verts, err_at, lip):
    """The enclosure ``e`` of the worst error on the polygon against dense sampling."""
    xy = _samples(verts)
    sampled = err_at(xy).max()
    assert e.lo <= e.hi
    assert sampled <= float(e.hi) + 1e-12  # sound
    assert float(e.lo) >= sampled - lip / 12 - 1e-12  # tight, up to the grid
    assert err_at(np.array([[float(v) for v in e.where]]))[0] >= float(e.lo) - 1e-12
    assert pg._inside(verts, e.where)


@settings(max_examples=60, deadline=None)
@given(points, affine)
def test_product_error_is_exact_on_polygons(pts, aff):
    verts = _polygon(pts)
    if verts is None:
        return
    (a, c) = aff
    e = pg.product_error(verts, a, c)
    assert e.lo == e.hi
    _check(e, verts,
           lambda xy: np.abs(float(a[0]) * xy[:, 0] + float(a[1]) * xy[:, 1] + float(c)
                             - xy[:, 0] * xy[:, 1]), 8)


@settings(max_examples=60, deadline=None)
@given(points, affine)
def test_norm_error_encloses_the_worst_case(pts, aff):
    verts = _polygon(pts)
    if verts is None:
        return
    (a, c) = aff
    e = pg.norm_error(verts, a, c)
    assert float(e.hi - e.lo) < 1e-9
    _check(e, verts,
           lambda xy: np.abs(float(a[0]) * xy[:, 0] + float(a[1]) * xy[:, 1] + float(c)
                             - np.hypot(xy[:, 0], xy[:, 1])), 6)


@settings(max_examples=60, deadline=None)
@given(points, affine, st.integers(1, 8).map(lambda v: Fraction(v, 4)))
def test_disk_error_encloses_the_worst_case(pts, aff, r):
    verts = _polygon(pts)
    if verts is None:
        return
    (a, c) = aff
    e = pg.disk_error(verts, a, c, r)
    assert float(e.hi - e.lo) < 1e-9
    _check(e, verts,
           lambda xy: np.abs(float(a[0]) * xy[:, 0] + float(a[1]) * xy[:, 1] + float(c)
                             - np.maximum(0, float(r) - np.hypot(xy[:, 0], xy[:, 1]))), 6)


def test_square_roots_and_signs_are_exact():
    assert pg.sqrt_bounds(Fraction(9, 4)) == (Fraction(3, 2), Fraction(3, 2))
    lo, hi = pg.sqrt_bounds(Fraction(2))
    assert lo * lo < 2 < hi * hi and hi - lo <= Fraction(1, 2**pg.SQRT_BITS)
    with pytest.raises(ValueError):
        pg.sqrt_bounds(Fraction(-1))
    s = pg._sign_minus_sqrt
    assert s(Fraction(3), Fraction(1), Fraction(9)) == 0
    assert s(Fraction(3), Fraction(1), Fraction(8)) == 1
    assert s(Fraction(3), Fraction(1), Fraction(10)) == -1
    assert s(Fraction(-3), Fraction(-1), Fraction(8)) == -1
    assert s(Fraction(-3), Fraction(-1), Fraction(10)) == 1
    assert s(Fraction(1), Fraction(-1), Fraction(10)) == 1
    assert s(Fraction(-1), Fraction(1), Fraction(10)) == -1


def test_a_tolerance_is_checked_at_the_faces_vertices(cli, tmp_path):
    """A first-layer weight moved by 2^-20 makes the error grow across faces; the worst
    error the proof reports is at a vertex (no sample exceeds it), and a tolerance just
    below it fails with a point where it is exceeded."""
    from reluc.analysis.planeproof import prove_plane
    from reluc.net import Layer, Net
    from reluc.spec import parse_text

    spec = "pwl2d xs=0,1,2 ys=0,1,2 values=0,1,0;1,2,1;0,1,0"
    path = build(cli, tmp_path, spec, "p.onnx", "--dtype", "float64")
    net, _ = formats.read(str(path))
    w = net.layers[0].weight.toarray()
    w[np.nonzero(w)[0][0], np.nonzero(w)[1][0]] += 2.0**-20
    bent = Net([Layer(w, net.layers[0].bias)] + list(net.layers[1:]))
    c = get("pwl2d")
    values = c.bind(parse_text(spec)).values
    box = c.domain(values)
    loose = prove_plane(bent, c, values, box, Fraction(1))
    assert loose.status == "proved" and loose.worst > 0
    xy = np.random.default_rng(0).uniform(0, 2, (400, 2))
    got = exact.evaluate(bent, [[Fraction(a), Fraction(b)] for a, b in xy])
    sampled = max(abs(g[0] - Fraction(c.reference(values, [Fraction(a), Fraction(b)])[0]))
                  for g, (a, b) in zip(got, xy))
    assert sampled <= loose.worst
    tight = prove_plane(bent, c, values, box, loose.worst * Fraction(9, 10))
    assert tight.status == "failed"
    x = [Fraction(v) for v in tight.counterexample]
    y = exact.evaluate(bent, [x])[0][0]
    assert abs(y - Fraction(c.reference(values, x)[0])) > loose.worst * Fraction(9, 10)


# -- the kink lines the constructors declare: the reference is affine on every cell -------
def _cells_are_affine(name, spec, box):
    """Cut the box by the declared lines alone (a network of probe neurons and a zero
    output) and check the reference is affine on every cell: a fourth point inside each
    cell lies on the plane through three others."""
    from reluc.analysis.planeproof import _box_slice, exact_faces, with_probes
    from reluc.net import Layer, Net
    from reluc.spec import parse_text

    c = get(name)
    values = c.bind(parse_text(spec)).values
    zero = Net([Layer([[0.0, 0.0]], [0.0]), Layer([[0.0]], [0.0])])
    cut = with_probes(zero, c.kink_lines(values))
    cells = 0
    for verts, _, inner in exact_faces(cut, _box_slice(box)):
        cells += 1
        p4 = (sum(p[0] for p in inner) / 3, sum(p[1] for p in inner) / 3)
        ref = [Fraction(c.reference(values, list(p))[0]) for p in inner + [p4]]
        (u0, v0), (u1, v1), (u2, v2) = inner
        d = (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0)
        a = ((ref[1] - ref[0]) * (v2 - v0) - (ref[2] - ref[0]) * (v1 - v0)) / d
        b = ((u1 - u0) * (ref[2] - ref[0]) - (u2 - u0) * (ref[1] - ref[0])) / d
        assert ref[0] + a * (p4[0] - u0) + b * (p4[1] - v0) == ref[3], (spec, verts)
    return cells


small = st.integers(-3, 3).map(Fraction)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(small, small, small), min_size=2, max_size=5),
       st.randoms(use_true_random=False))
def test_declared_kink_lines_of_max_and_lattice_leave_the_reference_affine(planes, rnd):
    text = ";".join(",".join(str(v) for v in p) for p in planes)
    from reluc.domain import Box

    box = Box((Fraction(-4), Fraction(-4)), (Fraction(4), Fraction(4)))
    _cells_are_affine("maxaffine", f"maxaffine planes={text}", box)
    idx = list(range(1, len(planes) + 1))
    rnd.shuffle(idx)
    cut = rnd.randint(1, len(idx))
    groups = ";".join(",".join(map(str, g)) for g in (idx[:cut], idx[cut:]) if g)
    _cells_are_affine("lattice", f"lattice planes={text} groups={groups}", box)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3),
       st.lists(st.integers(1, 3), min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_declared_kink_lines_of_pwl2d_leave_the_reference_affine(dx, dy, rnd):
    xs = [0] + [sum(dx[:i + 1]) for i in range(len(dx))]
    ys = [0] + [sum(dy[:i + 1]) for i in range(len(dy))]
    vals = ";".join(",".join(str(rnd.randint(-3, 3)) for _ in xs) for _ in ys)
    spec = f"pwl2d xs={','.join(map(str, xs))} ys={','.join(map(str, ys))} values={vals}"
    from reluc.domain import Box

    box = Box((Fraction(0), Fraction(0)), (Fraction(xs[-1]), Fraction(ys[-1])))
    assert _cells_are_affine("pwl2d", spec, box) >= 2 * len(dx) * len(dy)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 2), st.integers(-2, 2)), min_size=1, max_size=3)
       .filter(lambda bs: any(b != (0, 0) for b in bs)),
       st.sampled_from(["0.5", "0.25,0.75", "0.5;0.5", "0.3,0.6;0.5"]))
def test_declared_kink_lines_of_the_zonotope_leave_the_reference_affine(bs, a):
    spec = f"zonotope b={';'.join(f'{u},{v}' for u, v in bs)} a={a}"
    c = get("zonotope")
    from reluc.spec import parse_text

    box = c.domain(c.bind(parse_text(spec)).values)
    _cells_are_affine("zonotope", spec, box)


@settings(max_examples=200, deadline=None)
@given(st.tuples(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6), st.integers(1, 10**6))
       .filter(lambda t: t[0] or t[1]))
def test_the_duality_vector_is_never_longer_than_one(t):
    """Weak duality needs |u| <= 1 (u . x <= ||x||); a unit vector rounded from floats is
    often 1e-17 too long, which no sampled maximum would show."""
    u = pg._unit((Fraction(t[0], t[2]), Fraction(t[1], t[2])))
    assert 1 - Fraction(1, 2**38) <= pg._sq(u) <= 1
    assert u[0] * t[1] - u[1] * t[0] == 0 or abs(float(u[0] * t[1] - u[1] * t[0])) < 1e-9 * (
        abs(t[0]) + abs(t[1]))


# -- norm n=4: a tree of two two-input blocks -------------------------------------------------
def _bent_merge_row(net, factor):
    """The network with the merged row's (the one reading both halves) weights on the
    first half's neurons scaled by ``factor``, all but the one its factor is read from:
    a row no longer proportional to the half's output form."""
    from reluc.analysis.treeproof import _labels
    from reluc.net import Layer, Net

    labels = _labels(net)
    k = next(i for i, lab in enumerate(labels) if np.any(lab == 3))
    row = int(np.flatnonzero(labels[k] == 3)[0])
    w = net.layers[k].weight.toarray()
    half = np.flatnonzero(labels[k - 1] == 1)
    u_row = int(np.flatnonzero(labels[k] == 1)[0])  # the half's output form
    keep = half[np.argmax(w[u_row, half])]
    w[row, half[half != keep]] *= factor
    layers = list(net.layers)
    layers[k] = Layer(w, net.layers[k].bias)
    return Net(layers)


@pytest.mark.parametrize("levels, dtype, bend", [(3, "float64", 1), (5, "float32", 1),
                                                 (6, "float64", 1), (4, "float64", 1.3), (4, "float64", 0.7)])
def test_the_norm_tree_bound_holds_on_samples(tmp_path, levels, dtype, bend):
    """The proof's ratio interval [low, high] for f(x) / ||x|| contains the exact ratio at
    random points (float32 files too, whose merged row is rounded, and a merged row bent
    by 30%, which only the rounding term covers)."""
    from reluc.analysis.treeproof import prove_norm_tree
    from reluc.compiler import compile_spec

    c = compile_spec(f"norm n=4 levels={levels}", dtype)
    net = c.net if bend == 1 else _bent_merge_row(c.net, bend)
    proof = prove_norm_tree(net, c.domain, c.error_bound)
    assert proof.status == ("proved" if bend == 1 else "unsupported"), proof.method
    low, high = (Fraction(v) for v in proof.method.split("in [")[1].split("]")[0].split(", "))
    rng = np.random.default_rng(levels)
    xs = [[Fraction(int(v), 2**20) for v in row] for row in rng.integers(-2**20, 2**20, (300, 4))]
    for x, (y,) in zip(xs, exact.evaluate(net, xs)):
        n2 = sum(v * v for v in x)
        lo2, hi2 = (low * 0.999999) ** 2 * n2, (high * 1.000001) ** 2 * n2
        assert lo2 <= y * y <= hi2, (x, float(y))


@pytest.mark.parametrize("edit, why", [
    ("bias", "a bias is not zero"),
    ("cross", "the merging layer is not [one row of each half, one row of both]"),
])
def test_the_norm_tree_is_checked_on_the_file(edit, why):
    from reluc.analysis.treeproof import prove_norm_tree
    from reluc.compiler import compile_spec
    from reluc.net import Layer, Net

    c = compile_spec("norm n=4 levels=4", "float64")
    layers = list(c.net.layers)
    w, b = layers[1].weight.toarray(), layers[1].bias.copy()
    if edit == "bias":
        b[0] = 2.0**-30
    else:
        w[0, -1] = 2.0**-30  # the first row of block A reads a neuron of block B
    layers[1] = Layer(w, b)
    proof = prove_norm_tree(Net(layers), c.domain, c.error_bound)
    assert proof.status == "unsupported" and why in proof.method


def test_a_norm_tree_out_of_its_bound_is_not_proved(cli, tmp_path):
    path = build(cli, tmp_path, "norm n=4 levels=6", "n.onnx", "--dtype", "float64")
    edit_onnx(path, lambda m: edit_initializer(m, "W0", lambda a: a * 1.01))
    report = complete(cli, path, ok=False)
    assert report["checks"]["complete"]["result"] != "proved"
    assert "more than the bound" in report["checks"]["complete"]["detail"]
    reproduces(path, report, get("norm").declared_error(
        get("norm").bind(__import__("reluc.spec").spec.parse_text("norm n=4 levels=6")).values))


def test_a_block_ratio_largest_inside_a_face_is_found():
    """x + y on the quadrant: one face, ratio 1 on both edges and sqrt(2) along the
    diagonal, inside the face."""
    from reluc.analysis.treeproof import _ratios
    from reluc.net import Layer, Net

    net = Net([Layer([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), Layer([[1.0, 1.0]], [0.0])])
    low, high, faces = _ratios(net, (Fraction(0), Fraction(1), Fraction(0), Fraction(1)))
    assert faces == 1 and low == 1
    assert 2 <= high * high <= 2 + Fraction(1, 2**80)
