"""The float rounding of evaluating an approximation in its dtype over its whole domain:
recorded in the file, shown by stats, recomputed by verify, and a build-time warning
when it dominates the approximation's bound."""

import json
from fractions import Fraction

import numpy as np
import pytest

from conftest import build, edit_onnx
from reluc import exact, formats
from test_hostile import set_prop


def ort_output(path, x):
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return float(sess.run(None, {name: np.array([x], dtype=np.float32)})[0][0][0])


def rounding_of(cli, path):
    return json.loads(cli("stats", "--json", str(path)).stdout)


def test_float32_rounding_that_dominates_the_bound_is_warned_at_build(cli, tmp_path):
    r = cli("build", "mul L=24", "-o", str(tmp_path / "m.onnx"), "-q")
    assert "warning: float32 rounding dominates" in r.stderr
    assert "use --dtype float64 or a smaller L" in r.stderr
    s = rounding_of(cli, tmp_path / "m.onnx")
    bound = Fraction(s["error_bound"])  # 1/2^50
    assert s["rounding"]["at_least"] > bound
    assert s["rounding"]["at_least"] <= s["rounding"]["at_most"]
    text = cli("stats", str(tmp_path / "m.onnx")).stdout
    assert "float32 rounding: at least " in text and "far from every float32 number" in text
    # the floor is real: at the recorded input the runtime's output is that far off
    witness = s["rounding"]["at"]
    got = ort_output(tmp_path / "m.onnx", witness)
    want = exact.evaluate(formats.read(str(tmp_path / "m.onnx"))[0],
                          [[Fraction(v) for v in witness]])[0][0]
    assert abs(Fraction(got) - want) >= Fraction(s["rounding"]["at_least"])
    f = np.float32(float(want))  # the figure is the exact output's distance to float32
    gap = min(abs(want - Fraction(float(c))) for c in (
        f, np.nextafter(f, np.float32(np.inf)), np.nextafter(f, np.float32(-np.inf))))
    assert float(gap) == pytest.approx(s["rounding"]["at_least"], rel=1e-9)
    assert float(want) == pytest.approx(s["rounding"]["near"], rel=1e-12)
    r = cli("build", "mul L=24", "-o", str(tmp_path / "d.onnx"), "--dtype", "float64", "-q")
    assert "rounding dominates" not in r.stderr
    assert rounding_of(cli, tmp_path / "d.onnx")["rounding"]["at_least"] < bound
    r = cli("build", "mul L=8", "-o", str(tmp_path / "e.onnx"), "-q")
    assert "rounding dominates" not in r.stderr


@pytest.mark.parametrize("spec", ["mul L=6", "square L=10", "norm2 levels=6",
                                  "disk levels=5 radius=2", "exp L=4", "sincos L=5",
                                  "monomials L=6 d=3"])
def test_the_rounding_bound_holds_on_what_verify_measures(cli, tmp_path, spec):
    path = build(cli, tmp_path, spec, "a.onnx")
    r = cli("verify", "--json", str(path), ok=False)
    f = json.loads(r.stdout)["files"][0]
    check = f["checks"]["rounding"]
    assert check["status"] == "pass", check["detail"]
    assert check["measured"] <= check["recomputed"]["at_most"]
    assert 0 < check["recomputed"]["at_least"] <= check["recomputed"]["at_most"]


def test_exact_constructions_record_no_rounding_figures(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=4", "s.onnx")
    assert rounding_of(cli, path)["rounding"] is None
    assert "rounding" not in json.loads(cli("verify", "--json", str(path)).stdout)[
        "files"][0]["checks"]


@pytest.mark.parametrize("field, factor", [("at_most", 0.5), ("at_least", 2.0)])
def test_recorded_rounding_figures_are_recomputed_by_verify(cli, tmp_path, field, factor):
    path = build(cli, tmp_path, "mul L=5", "m.onnx")
    figures = rounding_of(cli, path)["rounding"]
    figures[field] *= factor
    edit_onnx(path, set_prop("reluc.rounding", json.dumps(figures, sort_keys=True)))
    r = cli("verify", str(path), ok=False)
    assert r.exit_code == 1
    assert "rounding check: the recorded float32 rounding figures" in r.stdout


def test_changed_weights_get_their_own_rounding_figures_recomputed(cli, tmp_path):
    """Weights that are not the build's: verify recomputes the figures from them, and
    the figures the file still records (the build's) are not the file's."""
    from conftest import edit_initializer

    path = build(cli, tmp_path, "mul L=5", "m.onnx")
    edit_onnx(path, lambda m: edit_initializer(m, "W0", lambda a: a * 1.5))
    f = json.loads(cli("verify", "--json", str(path), ok=False).stdout)["files"][0]
    check = f["checks"]["rounding"]
    assert check["status"] == "fail" and "are not the file's" in check["detail"]
    assert check["recomputed"] != check["recorded"]


def test_the_rounding_bound_is_the_same_in_parts_of_any_size(monkeypatch):
    # wide rows go in more parts than cores (each part's arrays under PIECE_BYTES): the
    # per-row bounds must not depend on how the rows are split
    from reluc.analysis import cores, rounding
    from reluc.compiler import compile_spec
    from reluc.spec import parse_text

    net = compile_spec(parse_text("norm n=4 levels=5"), "float32").net
    x = np.random.default_rng(4).uniform(-1, 1, size=(37, 4))
    whole = rounding.rounding_bound(net, x, "float32")
    monkeypatch.setattr(cores, "PIECE_BYTES", 8 * 4 * net.width)  # 4 rows a part
    assert len(rounding.RoundingBound.parts(x, "float32", net.width)) == 10
    assert np.array_equal(rounding.rounding_bound(net, x, "float32"), whole)
    assert whole.shape == (37,) and np.all(whole > 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_rounding_bound_is_its_formula_layer_by_layer(dtype):
    # e' = |W| e + gamma_k (|W| (|h| + e) + |b|), h the exact activations (ReLU between
    # layers), on weights and inputs of both signs, written out densely here
    import scipy.sparse as sp

    from reluc.analysis import rounding
    from reluc.compiler import UNIT_ROUNDOFF
    from reluc.net import Layer, Net

    rng = np.random.default_rng(11)
    sizes, layers = [5, 7, 6, 3], []
    for n_in, n_out in zip(sizes, sizes[1:]):
        w = rng.integers(-3, 4, size=(n_out, n_in)) * (rng.random((n_out, n_in)) < 0.6)
        b = rng.integers(-2, 3, size=n_out) * (rng.random(n_out) < 0.5)
        layers.append(Layer(sp.csr_array(w.astype(np.float64)), b.astype(np.float64)))
    x = rng.uniform(-4, 4, size=(9, 5))
    u, h, e = UNIT_ROUNDOFF[dtype], x.T, np.zeros((5, 9))
    for i, layer in enumerate(layers):
        w, b = layer.weight.toarray(), layer.bias
        h = np.maximum(h, 0) if i else h
        k = (w != 0).sum(axis=1) + (b != 0) + 1
        gamma = (k * u / (1 - k * u))[:, None]
        e = np.abs(w) @ e + gamma * (np.abs(w) @ (np.abs(h) + e) + np.abs(b)[:, None])
        h = w @ h + b[:, None]
    got = rounding.rounding_bound(Net(layers), x, dtype)
    assert np.allclose(got, e.max(axis=0) * 1.01, rtol=1e-12, atol=0)
