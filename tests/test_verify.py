"""reluc verify: verdicts, counterexamples, exit codes and the JSON report."""

import glob
import json
import os
from fractions import Fraction

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

from reluc import exact
from reluc.analysis.verify import rounding_bound
from reluc.net import Layer, Net

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(cli, tmp_path, spec, name, *extra):
    path = tmp_path / name
    cli("build", spec, "-o", path, "-q", *extra)
    return path


def verify(cli, *args, ok=None):
    r = cli("verify", *[str(a) for a in args], ok=False)
    if ok is not None:
        assert (r.exit_code == 0) == ok, r.output
    return r


def edit_onnx(path, fn):
    """Apply fn(model) to an ONNX file in place."""
    m = onnx.load(str(path))
    fn(m)
    onnx.save(m, str(path))


def perturb_initializer(name, index, change):
    def fn(m):
        t = next(t for t in m.graph.initializer if t.name == name)
        a = numpy_helper.to_array(t).copy()
        a.flat[index] = change(a.flat[index])
        t.CopyFrom(numpy_helper.from_array(a, name))
    return fn


def set_spec(text):
    def fn(m):
        for p in m.metadata_props:
            if p.key == "reluc.spec":
                p.value = text
    return fn


def test_every_example_spec_verifies(cli, tmp_path):
    paths = []
    for spec in sorted(glob.glob(os.path.join(ROOT, "specs", "*.spec"))):
        name = os.path.basename(spec).replace(".spec", ".onnx")
        paths.append(build(cli, tmp_path, spec, name))
    r = verify(cli, *paths, ok=True)
    assert f"{len(paths)} files: " in r.stdout and "0 failed" in r.stdout


@pytest.mark.parametrize("spec", ["sawtooth k=12", "pwl points=-1:0,0:1,1:0.5,2:0.5,3:0"])
def test_one_input_networks_are_proved_by_exact_pieces(cli, tmp_path, spec):
    path = build(cli, tmp_path, spec, "n.onnx")
    r = verify(cli, "--complete", path, ok=True)
    assert ": proved (" in r.stdout and "exact linear pieces" in r.stdout


def test_sort_16_is_proved_by_the_zero_one_principle(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=16", "s.onnx")
    r = verify(cli, "--complete", path, ok=True)
    assert ": proved (sort n=16 method=best)" in r.stdout
    assert "0-1 principle on 65536 inputs" in r.stdout
    r = verify(cli, path, ok=True)  # without --complete: only tested
    assert ": tested (sort n=16 method=best)" in r.stdout


def test_large_sort_says_why_it_is_not_proved(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=32", "s.onnx")
    r = verify(cli, "--complete", path, ok=True)
    assert ": tested (" in r.stdout and "no proof: comparator structure verified" in r.stdout


@pytest.mark.parametrize(
    "spec, tensor, index, change, dtype",
    [
        ("sort n=8", "W1", 5, lambda v: v + 1e-3, "float32"),
        ("sort n=8", "B2", 3, lambda v: v + 1e-3, "float32"),
        ("sort n=8", "W2", 7, lambda v: np.nextafter(v, np.inf), "float64"),
        ("sort n=8", "B3", 0, lambda v: np.nextafter(v, np.inf), "float64"),
        ("sawtooth k=6", "B2", 1, lambda v: np.nextafter(v, np.inf), "float64"),
        ("max n=6", "W0", 0, lambda v: v + 1e-3, "float32"),
    ],
)
def test_a_changed_weight_or_bias_fails_with_a_counterexample(cli, tmp_path, spec, tensor, index,
                                                              change, dtype):
    path = build(cli, tmp_path, spec, "n.onnx", "--dtype", dtype)
    m = onnx.load(str(path))
    a = numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == tensor))
    index = int(np.flatnonzero(a.ravel() != 0)[index % np.count_nonzero(a)]) if tensor[0] == "W" \
        else index
    edit_onnx(path, perturb_initializer(tensor, index, change))
    r = verify(cli, path, ok=False)
    assert r.exit_code == 1
    assert f"FAILED ({spec}" in r.stdout
    for line in ("  input:", "  expected:", "  actual:"):
        assert line in r.stdout
    # the counterexample is real: the file's own weights, exactly, miss the reference
    report = json.loads(verify(cli, path, "--json").stdout)["files"][0]
    cex = report["counterexample"]
    x = [Fraction(v) for v in cex["input"]]
    from reluc import formats

    net, _ = formats.read(str(path))
    got = exact.evaluate(net, [x])[0]
    assert [str(Fraction(v)) for v in cex["actual"]] == [str(v) for v in got]
    assert cex["expected"] != cex["actual"]


def test_a_changed_weight_in_an_npz_file_fails_too(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=5", "s.npz")
    with np.load(path, allow_pickle=False) as z:
        arrays = dict(z)
    arrays["w2_data"] = arrays["w2_data"].copy()
    arrays["w2_data"][4] += np.float32(1e-3)
    np.savez(path, **arrays)
    assert verify(cli, path).exit_code == 1


def test_metadata_naming_the_wrong_spec_fails(cli, tmp_path):
    path = build(cli, tmp_path, "sawtooth k=5", "s.onnx")
    edit_onnx(path, set_spec("sawtooth k=6"))
    r = verify(cli, path)
    assert r.exit_code == 1 and "FAILED (sawtooth k=6): exact check" in r.stdout
    path2 = build(cli, tmp_path, "sort n=8", "t.onnx")
    edit_onnx(path2, set_spec("max n=8"))
    r = verify(cli, path2)
    assert r.exit_code == 1 and "maps 8 -> 8 values but max n=8 maps 8 -> 1" in r.stdout


def test_spec_option_verifies_a_foreign_file(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=6", "s.onnx")
    edit_onnx(path, lambda m: m.ClearField("metadata_props"))
    r = verify(cli, path)
    assert r.exit_code == 2 and "carries no reluc spec; pass --spec" in r.stdout
    assert verify(cli, "--spec", "sort n=6", path).exit_code == 0
    assert verify(cli, "--spec", "min n=6", path).exit_code == 1


def test_exit_codes_with_several_files(cli, tmp_path):
    good = build(cli, tmp_path, "sort n=4", "good.onnx")
    bad = build(cli, tmp_path, "sort n=4", "bad.onnx")
    edit_onnx(bad, set_spec("sort n=4 "))  # still sort n=4: passes
    edit_onnx(bad, perturb_initializer("W0", 0, lambda v: v + 1))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"garbage")
    assert verify(cli, good, good).exit_code == 0
    r = verify(cli, good, bad)
    assert r.exit_code == 1 and "2 files: 0 proved, 1 tested, 1 failed, 0 unreadable" in r.stdout
    r = verify(cli, good, bad, junk)
    assert r.exit_code == 2 and f"{junk}: ERROR:" in r.stdout
    r = verify(cli, good, "--spec", "sort n=-1")
    assert r.exit_code == 2 and "ERROR: sort: n must be >= 1" in r.stdout
    r = verify(cli, good, "--samples", "3")  # click's usage error
    assert r.exit_code == 2 and "Invalid value for '--samples'" in r.stderr


def test_json_report(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=8", "s.onnx", "--dtype", "float64")
    data = json.loads(verify(cli, path, "--complete", "--json", ok=True).stdout)
    assert data["schema"] == 1 and data["summary"]["proved"] == 1
    (f,) = data["files"]
    assert f["verdict"] == "proved" and f["passed"] and f["spec"] == "sort n=8 method=best"
    assert set(f["checks"]) == {"exact", "float", "complete"}
    assert f["checks"]["exact"]["max_error"] == "0" and f["checks"]["exact"]["same_weights_as_build"]
    fl = f["checks"]["float"]
    assert fl["dtype"] == "float64" and fl["max_abs_error"] <= fl["max_bound"]


def test_seed_and_samples_change_the_inputs(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=8", "s.onnx")
    a = json.loads(verify(cli, path, "--json", "--samples", "40").stdout)
    b = json.loads(verify(cli, path, "--json", "--samples", "400", "--seed", "3").stdout)
    assert a["files"][0]["checks"]["exact"]["inputs"] < b["files"][0]["checks"]["exact"]["inputs"]


def random_net(draw, n_in):
    widths = [n_in] + draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)) + [2]
    layers = []
    for a, b in zip(widths, widths[1:]):
        vals = draw(st.lists(st.floats(-2, 2, width=32), min_size=a * b + b, max_size=a * b + b))
        w = np.array(vals[: a * b]).reshape(b, a)
        layers.append(Layer(w, np.array(vals[a * b:])))
    return Net(layers)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_rounding_bound_holds_for_float32_evaluation(data):
    net = random_net(data.draw, 3)
    x = np.array(data.draw(st.lists(st.floats(-100, 100, width=32), min_size=3, max_size=3)))
    y32 = net.evaluate(x.reshape(1, -1).astype(np.float32), dtype=np.float32).astype(np.float64)
    ex = np.array([float(v) for v in exact.evaluate(net, [x.tolist()])[0]])
    bound = rounding_bound(net, x.reshape(1, -1), "float32")[0]
    assert np.all(np.abs(y32[0] - ex) <= bound)


def test_a_runtime_that_errs_beyond_the_rounding_bound_fails_the_float_check(cli, tmp_path):
    from reluc.analysis.evaluate import Runner
    from reluc.analysis.verify import verify_file

    path = build(cli, tmp_path, "sort n=4", "s.onnx")

    class Sloppy(Runner):
        def __call__(self, x):
            y = super().__call__(x)
            return y + np.float32(1e-2) * np.abs(y).max()

    report = verify_file(str(path), runner_factory=Sloppy)
    checks = {c.name: c for c in report.checks}
    assert checks["exact"].status == "pass" and checks["float"].status == "fail"
    assert report.verdict == "failed" and "OVER the rounding bound" in checks["float"].detail


def test_the_registry_refuses_a_constructor_without_its_promises():
    from reluc.registry import Box, register
    from reluc.spec import Int, Param

    def fn(n):
        return None

    common = dict(summary="x", params=[Param("n", Int(), 1)], inputs="n", outputs="n",
                  domain=lambda p: Box.real(p["n"]))
    with pytest.raises(ValueError, match="reference function"):
        register("nothing1", reference=None, **common)(fn)
    with pytest.raises(ValueError, match="exactly one of"):
        register("nothing2", reference=lambda p, x: x, exact=False, **common)(fn)
    with pytest.raises(ValueError, match="reserved"):
        register("nothing3", reference=lambda p, x: x, **{**common, "params": [
            Param("dtype", Int(), 1)]})(lambda dtype: None)
    with pytest.raises(ValueError, match="registered twice"):
        register("sort", reference=lambda p, x: x, **common)(fn)


# -- defects of issue 10, each reproduced ---------------------------------------------------


@pytest.mark.parametrize("spec", ["sort n=2 domain=9007199254740995,9007199254741011",
                                  "max n=3 domain=9007199254740995,9007199254741011"])
def test_a_shift_past_2_to_53_is_exact_and_passes_its_own_verify(cli, tmp_path, spec):
    path = build(cli, tmp_path, spec, "s.onnx", "--dtype", "float64")
    assert json.loads(cli("stats", path, "--json").stdout)["exact"] is True
    verify(cli, path, ok=True)
