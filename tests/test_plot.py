"""``reluc plot``: pictures checked against ``reluc regions`` (the regions an SVG fills and
the breakpoints it marks are the exact ones), their size, their bytes (the same on every
run), the optional matplotlib, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction

import numpy as np
import pytest

from conftest import assert_one_line_error, build
from test_bounds import foreign

pytest.importorskip("matplotlib")  # (installed by `make test`: the plot extra)

SVG = "{http://www.w3.org/2000/svg}"


def groups(path) -> dict[str, ET.Element]:
    """The drawing's named parts (a group of paths or markers, or an image), by id."""
    return {e.get("id"): e for e in ET.parse(path).getroot().iter()
            if e.tag in (SVG + "g", SVG + "image") and e.get("id")}


def fills(group) -> list[str]:
    """The fill colour of each region drawn (matplotlib writes one path per polygon)."""
    out = []
    for p in group.iter(SVG + "path"):
        style = dict(kv.split(":", 1) for kv in p.get("style", "").replace(" ", "").split(";")
                     if ":" in kv)
        out.append(style.get("fill"))
    return out


def marks(group) -> list[tuple[float, float]]:
    return [(float(u.get("x")), float(u.get("y"))) for u in group.iter(SVG + "use")]


def regions_json(cli, path, *args):
    return json.loads(cli("regions", path, "--json", *args).stdout)


def png_size(path) -> tuple[int, int]:
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_a_png_is_a_picture_of_the_asked_size(cli, tmp_path):
    import matplotlib.image

    net = build(cli, tmp_path, "hardcomp a=0.25,0.5,0.75;0.5", "h.onnx")
    out = tmp_path / "h.png"
    r = cli("plot", net, "-o", out, "--size", "640x480")
    assert "wrote" in r.stderr and "8 regions" in r.stderr
    assert png_size(out) == (640, 480)
    pixels = matplotlib.image.imread(out)
    assert pixels.shape[:2] == (480, 640)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 10  # not blank


@pytest.mark.parametrize("spec,args", [
    ("zonotope b=1,0;0,1;1,1;1,-2 a=0.25,0.5;0.5", []),
    ("sort n=3", ["--plane", "0,0,0", "1,0,0", "0,1,0", "--box", "-1:1"]),
    ("minmax", ["--box", "-2:1,-1:3"]),
])
def test_the_svg_fills_exactly_the_regions_counted(cli, tmp_path, spec, args):
    net = build(cli, tmp_path, spec, "n.onnx")
    out = tmp_path / "n.svg"
    cli("plot", net, "-o", out, *args)
    counted = regions_json(cli, net, *args)["counts"]
    assert len(fills(groups(out)["regions"])) == counted["full_dimensional_activation_regions"]


def test_a_random_network_in_the_plane_fills_its_regions(cli, tmp_path):
    rng = np.random.default_rng(3)
    net = foreign(tmp_path / "r.npz", [(rng.normal(size=(12, 2)), rng.normal(size=12)),
                                        (rng.normal(size=(8, 12)), rng.normal(size=8)),
                                        (rng.normal(size=(1, 8)), rng.normal(size=1))])
    out = tmp_path / "r.svg"
    cli("plot", net, "-o", out, "--box", "-1:1")
    n = regions_json(cli, net, "--box", "-1:1")["counts"]["full_dimensional_activation_regions"]
    assert n > 20 and len(fills(groups(out)["regions"])) == n


def test_affine_colours_join_regions_with_one_map(cli, tmp_path):
    # the identity carried through a hidden layer: four activation regions (the
    # quadrants), one affine map
    net = build(cli, tmp_path, "identity n=2 depth=2", "i.onnx")
    by_pattern, by_map = tmp_path / "p.svg", tmp_path / "m.svg"
    cli("plot", net, "-o", by_pattern, "--box", "-1:1", "--output", "0")
    cli("plot", net, "-o", by_map, "--box", "-1:1", "--output", "0", "--color", "affine")
    assert len(set(fills(groups(by_pattern)["regions"]))) == 4
    assert fills(groups(by_map)["regions"]) == [fills(groups(by_map)["regions"])[0]] * 4
    g = groups(by_map)  # no edge bends the function: all are pattern changes
    assert len(list(g["breaks"].iter(SVG + "path"))) == 0
    assert len(list(g["switches"].iter(SVG + "path"))) == 4


@pytest.mark.parametrize("spec,extra", [
    ("sawtooth k=4", []),
    ("pwl points=0:0,1:2,2:2,3:3,4:0", ["--box", "-1:5"]),
    ("identity n=1 depth=3", []),
    ("median n=3", ["--line", "-1,0,1/3", "2,1/2,-1", "--box", "-1:2"]),  # a line in R^3
])
def test_the_marked_breakpoints_are_the_ones_regions_lists(cli, tmp_path, spec, extra):
    net = build(cli, tmp_path, spec, "n.onnx", "--dtype", "float64")
    out = tmp_path / "n.svg"
    cli("plot", net, "-o", out, *extra)
    pieces = regions_json(cli, net, "--map", *extra)["regions"]
    ends = [Fraction(p["interval"][1]) for p in pieces[:-1]]
    slopes = [p["slope"] for p in pieces]
    kinks = [e for e, a, b in zip(ends, slopes, slopes[1:]) if a != b]
    flat = [e for e, a, b in zip(ends, slopes, slopes[1:]) if a == b]
    g = groups(out)
    got = marks(g["breakpoints-0"]) if "breakpoints-0" in g else []
    switched = marks(g["switches-0"]) if "switches-0" in g else []
    assert len(got) == len(kinks) and len(switched) == len(flat)
    # at their exact places: the picture's x is an affine image of t
    placed = sorted([(t, x) for t, (x, _) in zip(kinks, got)] +
                    [(t, x) for t, (x, _) in zip(flat, switched)])
    if len(placed) >= 2:
        (t0, x0), (t1, x1) = placed[0], placed[-1]
        for t, x in placed:
            assert abs(x - (x0 + float((t - t0) / (t1 - t0)) * (x1 - x0))) < 0.01
    if spec.startswith("identity"):
        assert len(flat) == 1 and not kinks  # relu(x) - relu(-x): a switch, no kink


def test_an_approximation_is_drawn_with_its_reference_and_error(cli, tmp_path):
    net = build(cli, tmp_path, "square L=3", "s.onnx")
    out = tmp_path / "s.svg"
    cli("plot", net, "-o", out)
    g = groups(out)
    assert {"graph-0", "breakpoints-0", "reference-0", "error-0"} <= set(g)
    exact = build(cli, tmp_path, "sawtooth k=3", "t.onnx")
    cli("plot", exact, "-o", tmp_path / "t.svg")
    assert "reference-0" not in groups(tmp_path / "t.svg")  # exact: nothing to compare


def test_a_plane_approximation_gets_its_surface_and_error(cli, tmp_path):
    net = build(cli, tmp_path, "mul L=2", "m.onnx")
    out = tmp_path / "m.svg"
    cli("plot", net, "-o", out, "--surface")
    g = groups(out)
    assert {"regions", "surface-0", "error-0"} <= set(g)
    n = regions_json(cli, net)["counts"]["full_dimensional_activation_regions"]
    assert len(fills(g["regions"])) == n
    cli("plot", net, "-o", tmp_path / "plain.svg")
    assert "surface-0" not in groups(tmp_path / "plain.svg")


def test_several_outputs_get_a_panel_each_or_one_by_output(cli, tmp_path):
    net = build(cli, tmp_path, "sincos L=3", "sc.onnx")
    cli("plot", net, "-o", tmp_path / "all.svg")
    assert {"graph-0", "graph-1", "error-0", "error-1"} <= set(groups(tmp_path / "all.svg"))
    cli("plot", net, "-o", tmp_path / "one.svg", "--output", "1")
    g = groups(tmp_path / "one.svg")
    assert "graph-0" in g and "graph-1" not in g


def test_same_file_same_options_same_svg_bytes(cli, tmp_path):
    net = build(cli, tmp_path, "zonotope b=1,0;0,1;1,1 a=0.5;0.5", "z.onnx")
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    cli("plot", net, "-o", a, "--color", "affine", "--surface")
    subprocess.run([sys.executable, "-m", "reluc", "plot", str(net), "-o", str(b), "--color",
                    "affine", "--surface", "-q"], check=True)
    assert a.read_bytes() == b.read_bytes()
    assert b"<dc:date>" not in a.read_bytes()


def test_svg_to_stdout(cli, tmp_path):
    net = build(cli, tmp_path, "sawtooth k=2", "s.onnx")
    r = cli("plot", net, "-o", "-")
    assert r.stdout.lstrip().startswith("<?xml") and "</svg>" in r.stdout


def test_without_matplotlib_plot_says_what_to_install_and_the_rest_works(cli, tmp_path,
                                                                          monkeypatch):
    net = build(cli, tmp_path, "sawtooth k=2", "s.onnx")
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    r = cli("plot", net, "-o", tmp_path / "s.png", ok=False)
    assert_one_line_error(r, "pip install 'reluc[plot]'")
    assert not (tmp_path / "s.png").exists()
    assert regions_json(cli, net)["counts"]["affine_regions"] == 4
    cli("stats", net)


def test_bad_input_is_one_line(cli, tmp_path):
    saw = build(cli, tmp_path, "sawtooth k=2", "s.onnx")
    mm = build(cli, tmp_path, "minmax", "m.onnx")
    s3 = build(cli, tmp_path, "sort n=3", "t.onnx")
    cases = [
        (["plot", saw, "-o", tmp_path / "x.jpg"], "x.jpg"),
        (["plot", mm, "-o", tmp_path / "x.png"], "--box"),
        (["plot", s3, "-o", tmp_path / "x.png"], "--line A B or --plane"),
        (["plot", saw, "-o", tmp_path / "x.png", "--output", "1"], "--output 1"),
        (["plot", saw, "-o", tmp_path / "x.png", "--size", "0x10"], "16 to 20000"),
        (["plot", tmp_path / "missing.onnx", "-o", tmp_path / "x.png"], "missing.onnx"),
    ]
    for args, fragment in cases:
        assert_one_line_error(cli(*args, ok=False), fragment)
        assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.jpg").exists()
    r = cli("plot", saw, "-o", tmp_path / "x.png", "--size", "wide", ok=False)
    assert r.exit_code == 2 and "WIDTHxHEIGHT" in r.stderr
