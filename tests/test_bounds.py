"""``reluc stats``: the known bounds on activation regions for a network's shape (Serra
et al. 2018 above, Montufar et al. 2014 below), checked on shapes whose counts are known
and against a brute-force sum."""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np

from conftest import build
from reluc.analysis.bounds import montufar_lower, serra_upper, show_big


def foreign(path, layers):
    from reluc.formats.metadata import FileInfo
    from reluc.formats.npzfile import write_npz
    from reluc.net import Layer, Net

    with open(path, "wb") as f:
        write_npz(Net([Layer(np.array(w, float), np.array(b, float)) for w, b in layers]),
                  FileInfo(), f, "float64")
    return path


def bounds(cli, path):
    return json.loads(cli("stats", path, "--json").stdout)["activation_regions_bounds"]


def test_one_input_gives_the_product_of_widths_plus_one(cli, tmp_path):
    # 1 -> 2 -> 2 -> 1: at most 3 * 3 = 9 regions; some network of this shape has 2 * 3
    path = foreign(tmp_path / "a.npz", [(np.ones((2, 1)), [0, 1]), (np.ones((2, 2)), [0, 1]),
                                        (np.ones((1, 2)), [0])])
    b = bounds(cli, path)
    assert b["at_most"] == 9 and b["some_network_at_least"] == 6
    assert "at most 9 (Serra et al. 2018)" in cli("stats", path).stdout


def test_one_hidden_layer_in_the_plane_gives_the_arrangement_count(cli, tmp_path):
    m = 5  # m lines in general position cut the plane into 1 + m + m(m-1)/2 regions
    path = foreign(tmp_path / "p.npz", [(np.arange(2 * m).reshape(m, 2), np.arange(m)),
                                        (np.ones((1, m)), [0])])
    b = bounds(cli, path)
    assert b["at_most"] == b["some_network_at_least"] == 1 + m + m * (m - 1) // 2


def test_the_bounds_hold_the_known_counts(cli, tmp_path):
    saw = bounds(cli, build(cli, tmp_path, "sawtooth k=6", "s.onnx"))
    assert saw["at_most"] >= 2**6  # 2^k pieces, each at least one activation region
    sort = bounds(cli, build(cli, tmp_path, "sort n=4", "t.onnx"))
    assert sort["at_most"] >= math.factorial(4) >= 1  # n! affine regions on R^n
    assert sort["some_network_at_least"] <= sort["at_most"]
    wide = build(cli, tmp_path, "sort n=1024", "w.onnx")
    assert bounds(cli, wide)["at_most"] is None
    assert "not computed (too many inputs)" in cli("stats", wide).stdout


def brute_serra(n0, widths):
    total = 0
    for js in itertools.product(*[range(n + 1) for n in widths]):
        d, ok, prod = n0, True, 1
        for n, j in zip(widths, js):
            if j > min(d, n):
                ok = False
                break
            prod *= math.comb(n, j)
            d = min(d, n - j)
        total += prod if ok else 0
    return total


def test_the_dynamic_programme_is_the_sum_over_every_vector():
    rng = random.Random(3)
    for _ in range(60):
        n0 = rng.randint(1, 4)
        widths = [rng.randint(1, 5) for _ in range(rng.randint(1, 4))]
        assert serra_upper(n0, widths) == brute_serra(n0, widths), (n0, widths)
        assert montufar_lower(n0, widths) <= max(serra_upper(n0, widths), 1)


def test_large_bounds_are_shown_in_scientific_form():
    assert show_big(10**15 - 1) == 10**15 - 1
    assert show_big(3 * 10**800) == "3.00e+800"
    assert show_big(None) is None
