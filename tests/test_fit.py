"""The core of ``reluc fit`` (issue 16, in progress): the data partitions a hyperplane
induces, against brute force; and global optimality where the answer is known (data from
a network of the fitted width has loss 0)."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from scipy.optimize import linprog

from reluc.errors import RelucError
from reluc.fit import fit, partitions


def separable(x: np.ndarray, on: np.ndarray) -> bool:
    """Whether a hyperplane has the points ``on`` strictly on one side and the rest
    strictly on the other (an LP with margin 1, which scales to any positive margin)."""
    d, n = x.shape
    xb = np.hstack([x, np.ones((d, 1))])
    sign = np.where(on, -1.0, 1.0)[:, None]  # -(a.x + b) <= -1 on, (a.x + b) <= -1 off
    r = linprog(np.zeros(n + 1), A_ub=sign * xb, b_ub=-np.ones(d),
                bounds=[(None, None)] * (n + 1), method="highs")
    return r.status == 0


def brute_sets(x: np.ndarray) -> set[tuple[bool, ...]]:
    """Every subset of the points that a hyperplane separates, by trying all 2^D."""
    return {s for s in itertools.product([False, True], repeat=len(x))
            if separable(x, np.array(s))}


@pytest.mark.parametrize("n,d", [(1, 9), (2, 7), (2, 8)])
def test_the_partitions_are_every_separable_set_and_only_those(n, d):
    x = np.random.default_rng(n * 10 + d).normal(size=(d, n))
    sets = partitions(x)
    got = {tuple(s) for s in sets}
    assert len(got) == len(sets) == 2 * sum(comb(d - 1, k) for k in range(n + 1))  # Cover
    assert got == brute_sets(x)


def test_collinear_and_repeated_points_give_fewer_partitions():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [0.0, 1.0]])
    assert {tuple(s) for s in partitions(x)} == brute_sets(x)


@pytest.mark.parametrize("seed", range(12))
def test_in_the_plane_the_partitions_are_those_of_the_arrangement(seed):
    # integer grids: many collinear and repeated points; or points in general position
    from reluc.fit.partitions import _arrangement, _plane

    rng = np.random.default_rng(seed)
    d = 6 + seed % 5
    x = rng.integers(-2, 3, size=(d, 2)).astype(float) if seed % 3 else rng.normal(size=(d, 2))
    if np.linalg.matrix_rank(np.c_[x, np.ones(d)]) == 3:
        assert _plane(x) == _arrangement(x)
    else:  # all on one line: the arrangement search does it
        assert {tuple(s) for s in partitions(x)} == _arrangement(x)


def test_in_the_plane_sides_are_decided_exactly():
    # (0.1, 0.3), (0.3, 0.9), (0.7, 2.1) lie exactly on one line (as doubles), but the
    # float orientation of the third against the first two is -5.6e-17: trusting it
    # lets the ends be separated from the middle, which no line does
    from reluc.fit.partitions import _orientation

    x = np.array([[0.1, 0.3], [0.3, 0.9], [0.7, 2.1], [1.0, 0.0], [-0.3, 0.9], [0.5, 0.5]])
    assert list(_orientation(x, 0, 1)) == [0, 0, 0, -1, 1, -1]
    sets = partitions(x)
    assert not any(s[0] and s[2] and not s[1] for s in sets)
    assert {tuple(s) for s in sets} == brute_sets(x)


@pytest.mark.parametrize("seed", range(3))
def test_on_a_line_the_partitions_are_those_of_the_arrangement(seed):
    from reluc.fit.partitions import _arrangement

    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=(9, 1)).astype(float)  # repeated values
    assert {tuple(s) for s in partitions(x)} == _arrangement(x)


@pytest.mark.parametrize("n,d,width,loss", [(1, 8, 2, "l2"), (1, 6, 3, "l2"),
                                            (1, 8, 2, "l1"), (2, 6, 2, "l2")])
def test_the_bounds_prune_nothing_that_could_win(n, d, width, loss):
    rng = np.random.default_rng(d + width)
    for _ in range(2):
        x = rng.uniform(-1, 1, size=(d, n))
        y = np.maximum(x.sum(axis=1), 0) + 0.3 * rng.normal(size=d)
        pruned, every = fit(x, y, width, loss, workers=1), fit(x, y, width, loss, workers=1,
                                                             prune=False)
        assert every.programs == every.total and pruned.pruned > 0
        assert pruned.units == every.units and pruned.loss == every.loss


@pytest.mark.parametrize("loss", ["l2", "l1"])
def test_data_from_a_width_two_network_is_fitted_with_zero_loss(loss):
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(10, 1))
    y = np.maximum(x[:, 0] - 0.3, 0) - 2 * np.maximum(0.1 - x[:, 0], 0) + 0.5
    r = fit(x, y, 2, loss)
    assert r.loss < 1e-10
    assert np.abs(r.net.evaluate(x)[:, 0] - y).max() < 1e-6
    one = fit(x, y, 1, loss)  # one unit cannot make two kinks
    assert one.loss > 1e-3


def test_two_inputs_from_a_width_two_network_are_fitted_with_zero_loss():
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, size=(7, 2))
    y = np.maximum(x @ [1.0, -1.0] + 0.2, 0) - np.maximum(x @ [0.5, 1.0] - 0.1, 0)
    r = fit(x, y, 2)
    units = 2 * (len(partitions(x)) - 1)  # a sign and a nonempty set
    assert r.loss < 1e-10 and r.total == comb(units, 2)  # pairs of distinct units
    assert r.total - r.pruned <= r.programs and r.pruned > 0 and r.exact_loss == 0


def test_an_unknown_loss_is_refused():
    with pytest.raises(RelucError, match="unknown loss"):
        fit(np.zeros((2, 1)), np.zeros(2), 1, "huber")


# -- reluc fit: a data file to a network file ---------------------------------------------


def test_fit_writes_the_network_that_reproduces_data_of_its_width(cli, tmp_path):
    import hashlib
    import json

    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, size=9)
    y = 2 * np.maximum(x - 0.2, 0) - np.maximum(-0.5 - x, 0) - 0.25
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y)))
    r = cli("fit", data, "--width", "2", "-o", tmp_path / "f.onnx")
    assert r.stdout.startswith("l2 loss ") and float(r.stdout.split()[2]) < 1e-10
    s = json.loads(cli("stats", tmp_path / "f.onnx", "--json").stdout)
    assert s["fit"]["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert (s["fit"]["width"], s["fit"]["rows"], s["widths"]) == (2, 9, [2])
    out = cli("eval", tmp_path / "f.onnx", input="\n".join(repr(float(v)) for v in x)).stdout
    assert np.abs(np.array([float(v) for v in out.split()]) - y).max() < 1e-6


def test_more_width_than_units_gets_idle_units_and_float32_says_what_it_loses(cli, tmp_path):
    import json

    data = tmp_path / "d.csv"
    data.write_text("0 1\n1 3\n")  # two points: six units there are, width 9
    cli("fit", data, "--width", "9", "-o", tmp_path / "f.onnx", "--dtype", "float32")
    s = json.loads(cli("stats", tmp_path / "f.onnx", "--json").stdout)
    assert s["widths"] == [9] and s["fit"]["value_exact"] == "0"
    assert float(s["fit"]["value_of_file"]) == 0.0  # 1 and 3 are floats32 too
    data.write_text("0 0.1\n1 0.7\n2 0.2\n")
    cli("fit", data, "--width", "2", "-o", tmp_path / "g.onnx", "--dtype", "float32")
    f = json.loads(cli("stats", tmp_path / "g.onnx", "--json").stdout)["fit"]
    assert f["value_exact"] == "0" and 0 < float(f["value_of_file"]) < 1e-12


def test_fit_reads_a_named_target_and_npy(cli, tmp_path):
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, size=(6, 2))
    y = np.maximum(x @ [1.0, 2.0] - 0.1, 0)
    np.save(tmp_path / "d.npy", np.c_[x, y])
    assert float(cli("fit", tmp_path / "d.npy", "--width", "1", "-o", tmp_path / "a.npz",
                     "-q").stdout.split()[2]) < 1e-10
    (tmp_path / "t.csv").write_text("y,a,b\n" + "".join(
        f"{float(t)!r},{float(a)!r},{float(b)!r}\n" for (a, b), t in zip(x, y)))
    r = cli("fit", tmp_path / "t.csv", "--width", "1", "--target", "y", "-o", tmp_path / "b.npz")
    assert float(r.stdout.split()[2]) < 1e-10


def test_fit_refuses_bad_data_in_one_line(cli, tmp_path):
    from conftest import assert_one_line_error

    cases = {"ragged.csv": ("1,2\n3\n", "row 2 has 1 values"),
             "words.csv": ("1,2\n3,abc\n", "'abc' is not a number"),
             "one.csv": ("1,2\n", "at least 2"),
             "column.csv": ("1\n2\n", "two columns")}
    for name, (text, fragment) in cases.items():
        (tmp_path / name).write_text(text)
        assert_one_line_error(cli("fit", tmp_path / name, "--width", "1", "-o",
                                  tmp_path / "x.onnx", ok=False), fragment)
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n3,4\n")
    for extra, fragment in ((["--width", "0"], "at least 1"),
                            (["--width", "1", "--target", "c"], "'c' is not a column")):
        assert_one_line_error(cli("fit", tmp_path / "ok.csv", *extra, "-o", tmp_path / "x.onnx",
                                  ok=False), fragment)
    big = tmp_path / "big.csv"
    big.write_text("".join(f"{i},{i % 7},{i % 5},{i}\n" for i in range(200)))
    assert_one_line_error(cli("fit", big, "--width", "3", "-o", tmp_path / "x.onnx", ok=False),
                          "--force", "convex programs")
    assert not (tmp_path / "x.onnx").exists()


def test_the_certificate_is_the_exact_optimum_and_refuses_a_point_that_is_not(cli, tmp_path):
    import json

    from reluc.fit.programs import matrices as _matrices
    from reluc.fit.certificate import certify_l2

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(12, 1))
    y = np.sin(3 * x[:, 0]) + 0.1 * rng.normal(size=12)
    r = fit(x, y, 2)
    assert r.exact_loss is not None and float(r.exact_loss) <= r.loss * (1 + 1e-12)
    data = tmp_path / "d.csv"
    data.write_text("".join(f"{float(a)!r} {float(b)!r}\n" for a, b in zip(x[:, 0], y)))
    out = cli("fit", data, "--width", "2", "-o", tmp_path / "f.onnx").stdout
    assert "certified exact optimum" in out
    fit_meta = json.loads(cli("stats", tmp_path / "f.onnx", "--json").stdout)["fit"]
    assert fit_meta["certificate"].startswith("exact") and "/" in fit_meta["value_exact"]
    # x = (0, 1), y = (1, 0), one unit s = +1 active on both: the optimum (loss 0) has
    # a + b = 0 tight and b > 0; from the point a = b = 0 both constraints look tight,
    # and there the multipliers would have to be negative: no certificate
    m, g = _matrices(np.array([[0.0], [1.0]]), [(1, np.array([True, True]))])
    assert certify_l2(m, g, np.array([1.0, 0.0]), np.array([0.0, 0.0, 0.5])) is None
    good = certify_l2(m, g, np.array([1.0, 0.0]), np.array([-1.0, 1.0, 0.0]))
    assert good is not None and good[1] == 0


def test_multipliers_must_be_nonnegative_exactly():
    # columns (0,-1,0) and (-1,-1,0), right side (-1,0,0): the only solution on both is
    # lambda = (-1, 1), which proves nothing; a float guess can point at that support
    from reluc.fit.certificate import _multipliers

    F = Fraction
    cols = [[F(0), F(-1), F(0)], [F(-1), F(-1), F(0)]]
    assert _multipliers(cols, [F(-1), F(0), F(0)], np.array([1.0, 1.0])) is None
    assert _multipliers(cols, [F(-1), F(-2), F(0)], np.array([1.0, 1.0])) == [F(1), F(1)]


def test_workers_do_not_change_the_answer():
    rng = np.random.default_rng(9)
    x = rng.uniform(-1, 1, size=(10, 1))
    y = np.abs(x[:, 0]) + 0.2 * rng.normal(size=10)
    one, two = fit(x, y, 2, workers=1), fit(x, y, 2, workers=2)
    assert one.total > 256  # more than one chunk, so two processes share them
    assert one.units == two.units and one.exact_loss == two.exact_loss
    assert one.complete and two.complete


def test_max_seconds_stops_with_the_best_so_far_and_says_it_is_not_proved(cli, tmp_path):
    import json

    rng = np.random.default_rng(10)
    x = rng.uniform(-1, 1, size=14)
    y = rng.normal(size=14)  # noise: the bounds rule out little
    data = tmp_path / "d.csv"
    data.write_text("".join(f"{float(a)!r} {float(b)!r}\n" for a, b in zip(x, y)))
    r = cli("fit", data, "--width", "3", "--max-seconds", "0", "--workers", "1", "-o",
            tmp_path / "f.onnx")
    assert "NOT optimal" in r.stderr and "--max-seconds" in r.stderr
    meta = json.loads(cli("stats", tmp_path / "f.onnx", "--json").stdout)["fit"]
    assert meta["certificate"].startswith("NOT optimal") and "value_exact" not in meta
    full = fit(x[:, None], y, 3, workers=1)
    assert full.complete and meta["solved"] < full.programs
    assert float(meta["value"]) >= full.loss


def test_the_l1_certificate_is_exact_and_refuses_what_proves_nothing(cli, tmp_path,
                                                                    monkeypatch):
    import json

    from reluc.fit.certificate import certify_l1, dual_bound, vertex
    from reluc.fit.programs import l1_program, matrices

    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(9, 1))
    y = np.abs(x[:, 0]) + 0.3 * rng.normal(size=9)
    data = tmp_path / "d.csv"
    data.write_text("".join(f"{float(a)!r} {float(b)!r}\n" for a, b in zip(x[:, 0], y)))
    out = cli("fit", data, "--width", "2", "--loss", "l1", "-o", tmp_path / "f.onnx").stdout
    assert "certified exact optimum" in out
    meta = json.loads(cli("stats", tmp_path / "f.onnx", "--json").stdout)["fit"]
    assert meta["certificate"].startswith("exact") and "dual" in meta["certificate"]
    assert sorted(r for u in meta["units"] for r in u["active_rows"]) and \
        {u["sign"] for u in meta["units"]} <= {1, -1}
    r = fit(x, y, 2, "l1", workers=1)
    sets = partitions(x)
    m, g = matrices(x, [(s, sets[k]) for s, k in r.units])
    value, theta, u, mu = l1_program(m, g, y, duals=True)
    assert certify_l1(m, g, y, theta, u, mu)[1] == r.exact_loss
    assert abs(float(r.exact_loss) - value) < 1e-12
    # theta = 0 is feasible but not optimal: no dual point reaches its loss
    assert certify_l1(m, g, y, np.zeros_like(theta), u, mu) is None
    # u = 0, mu = 0 is always dual feasible, with bound 0: below the loss, it proves nothing
    import reluc.fit.certificate as cert

    with monkeypatch.context() as p:
        p.setattr(cert, "_dual", lambda M, G, *a: ([Fraction(0)] * len(M),
                                                   [Fraction(0)] * len(G)))
        assert certify_l1(m, g, y, theta, u, mu) is None
    F = Fraction
    M, G, Y = [[F(1), F(0)], [F(1), F(1)]], [[F(0), F(-1)]], [F(0), F(1)]
    # the dual's points: u = (-t, t), mu = t for 0 <= t <= 1, bound -t
    assert dual_bound(M, G, Y, [F(1), F(1)], [F(1)]) is None  # M^T u + G^T mu != 0
    assert dual_bound(M, G, Y, [F(1), F(-1)], [F(-1)]) is None  # mu < 0
    assert dual_bound(M, G, Y, [F(-2), F(2)], [F(2)]) is None  # |u| > 1
    assert dual_bound(M, G, Y, [F(-1, 2), F(1, 2)], [F(1, 2)]) == F(-1, 2)
    # one unit active on x = 0 only, c = 0: solving b + c = 0.5 from theta = (-1, 0.5, 0)
    # with the free a = c = 0 gives a + b = 0.5 > 0 on x = 1, where it must be off
    m1, g1 = matrices(np.array([[0.0], [1.0]]), [(1, np.array([True, False]))])
    y1 = np.array([0.5, 7.0])
    as_f = lambda a: [[F(float(v)) for v in row] for row in a]  # noqa: E731
    assert vertex(as_f(m1), as_f(g1), [F(0.5), F(7)], m1, g1, y1,
                  np.array([-1.0, 0.5, 0.0]), 1e-7) is None


def test_near_ties_are_ranked_by_their_exact_optima():
    from reluc.fit.search import _select

    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0])
    sets = partitions(x)
    from reluc.fit.programs import solve

    cands = []
    for k in range(1, len(sets)):
        value, theta = solve(x, y, [(1, sets[k])], "l2")
        cands.append((value, k, theta, ((1, k),)))
    cands.sort()
    worst, best = cands[-1], cands[0]
    assert worst[0] > best[0] + 0.1
    # the float values say the worst is best (as a float error within NEAR could)
    lied = [(0.0, worst[1], worst[2], worst[3]), (1e-300, best[1], best[2], best[3])]
    exact, _, chosen, value, ties = _select(x, y, sets, "l2", lied)
    assert chosen == best[3] and ties == 2 and abs(value - best[0]) < 1e-12


def test_an_enumeration_cut_short_is_an_error_not_a_smaller_search(monkeypatch):
    import reluc.analysis.polytopes as polytopes

    monkeypatch.setattr(polytopes, "enumerate_regions",
                        lambda *a, **k: polytopes.Enumeration([], [], False))
    x = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(RelucError, match="too many to fit"):
        fit(x, x.sum(axis=1), 1)
