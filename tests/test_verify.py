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

from conftest import build, edit_initializer, edit_onnx
from reluc import exact
from reluc.analysis.rounding import rounding_bound
from reluc.net import Layer, Net

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def verify(cli, *args, ok=None):
    r = cli("verify", *[str(a) for a in args], ok=False)
    if ok is not None:
        assert (r.exit_code == 0) == ok, r.output
    return r


def perturb_initializer(name, index, change):
    def fn(m):
        edit_initializer(m, name, lambda a: a.flat.__setitem__(index, change(a.flat[index])))
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


def test_large_sort_says_how_it_is_proved(cli, tmp_path, monkeypatch):
    import reluc.constructors.comparators.proofs as proofs

    path = build(cli, tmp_path, "sort n=32", "s.onnx")
    r = verify(cli, "--complete", path, ok=True)
    assert ": proved (" in r.stdout and "by merges" in r.stdout
    monkeypatch.setattr(proofs, "MAX_MERGE_WORK", 1000)  # as if n were far larger
    r = verify(cli, "--complete", path, ok=True)
    assert ": proved (" in r.stdout and "recognised as exactly Batcher's odd-even merge " \
        "sort of 32 wires pruned to 32: sorted by Batcher's theorem" in r.stdout


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


def test_quiet_verify_prints_only_what_fails(cli, tmp_path):
    # -q: nothing on success (the exit status says it), the failed file's report and
    # counterexample otherwise
    good = build(cli, tmp_path, "sort n=5", "good.npz")
    bad = changed_npz(build(cli, tmp_path, "sort n=5", "bad.npz"))
    r = cli("verify", "-q", good)
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    r = cli("verify", "-q", good, bad, ok=False)
    assert r.exit_code == 1 and "good.npz" not in r.stdout
    assert "bad.npz: FAILED (sort n=5" in r.stdout and "  input:" in r.stdout
    assert len(cli("verify", good, bad, ok=False).stdout.splitlines()) > len(r.stdout.splitlines())


def test_a_weight_at_float64_s_largest_fails_without_an_internal_error(cli, tmp_path):
    # found by make fuzz (seed 1796090323): outputs past float64's range made showing
    # the exact error, and rounding the exact outputs to floats, raise OverflowError
    path = build(cli, tmp_path, "pwl points=0:0,1:1,2:0", "t.onnx", "--dtype", "float64")
    edit_onnx(path, perturb_initializer("W0", 0, lambda v: np.finfo(np.float64).max))
    import warnings

    with warnings.catch_warnings():  # (pytest keeps warnings off stderr: make them fail)
        warnings.simplefilter("error", RuntimeWarning)
        r = verify(cli, path, "--complete", ok=False)
    assert r.exit_code == 1 and r.stderr == "", r.stderr  # no warning, no internal error
    assert "FAILED" in r.stdout and "max error ~3.59539e+308" in r.stdout
    assert "  actual:   -17976931348623157" in r.stdout


def test_exact_values_past_float64_s_range_show_and_round():
    from reluc.analysis.report import show

    big = Fraction(2**1100 + 1, 3)
    assert show(big) == "~4.52766e+330" and show(-big) == "~-4.52766e+330"
    assert show(Fraction(1, 3**60)) == "~2.35898e-29"  # as float's 6 digits
    batch = exact.Scaled(np.array([[2**1100, -(2**1100), 3]], dtype=object), 2)
    assert batch.approx().tolist() == [[np.inf, -np.inf, 1.5]]


def changed_npz(path):
    """The .npz file of sort n=5 at ``path`` with one weight moved by 1e-3; the path."""
    with np.load(path, allow_pickle=False) as z:
        arrays = dict(z)
    arrays["w2_data"] = arrays["w2_data"].copy()
    arrays["w2_data"][4] += np.float32(1e-3)
    np.savez(path, **arrays)
    return path


def test_a_changed_weight_in_an_npz_file_fails_too(cli, tmp_path):
    path = changed_npz(build(cli, tmp_path, "sort n=5", "s.npz"))
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
    edit_onnx(path2, set_spec("sort n=7"))
    r = verify(cli, path2)
    assert r.exit_code == 1 and "maps 8 -> 8 values but sort n=7 method=best maps 7 -> 7" \
        in r.stdout


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
    assert set(f["checks"]) == {"exact", "float", "limit", "complete"}
    assert f["schema"] == 3 and f["checks"]["limit"]["status"] == "pass"
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


def test_verify_goes_on_after_a_file_its_runtime_refuses(cli, tmp_path):
    good = build(cli, tmp_path, "sort n=3", "good.onnx")
    bad = build(cli, tmp_path, "sort n=3", "bad.onnx")
    edit_onnx(bad, lambda m: m.opset_import[0].__setattr__("version", 99))
    r = verify(cli, good, bad, good)
    assert r.exit_code == 2
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{good}: tested") and lines[2].startswith(f"{good}: tested")
    assert lines[1].startswith(f"{bad}: ERROR: onnxruntime cannot load")
    reason = lines[1].split(f"cannot load '{bad}': ")[1]  # onnxruntime's, trimmed
    assert "Opset 99" in reason and len(reason) <= 240 and "/onnxruntime_src/" not in reason
    assert lines[3] == "3 files: 0 proved, 2 tested, 0 failed, 1 unreadable"


def counting(monkeypatch, name, hook):
    """Replace a registry hook of constructor ``name`` by a counting wrapper: calls of
    ``reference``; of ``breakpoints``, the breakpoints made (not the calls)."""
    import dataclasses

    from reluc import registry

    ctor = registry.get(name)
    calls = [0]
    original = getattr(ctor, hook)

    def count() -> None:
        calls[0] += 1

    def reference(*args):
        count()
        return original(*args)

    def breakpoints(p):
        seq = original(p)
        return registry.Lazy(len(seq), lambda i: (count(), seq[i])[1])

    wrapped = breakpoints if hook == "breakpoints" else reference
    monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(ctor, **{hook: wrapped}))
    return calls


def test_verify_makes_only_the_breakpoints_it_samples(cli, tmp_path, monkeypatch):
    path = build(cli, tmp_path, "sawtooth k=14", "s.onnx")
    made = counting(monkeypatch, "sawtooth", "breakpoints")
    verify(cli, path, ok=True)
    assert 0 < made[0] <= 100  # of 16385; 4 x samples/8 are drawn
    made[0] = 0
    r = verify(cli, "--complete", path, ok=True)  # a proof takes every one
    assert made[0] >= 2**14 and ": proved (" in r.stdout


def test_a_network_past_the_proof_limit_says_why_it_is_not_proved(cli, tmp_path, monkeypatch):
    from reluc.analysis import complete as verify_mod

    monkeypatch.setattr(verify_mod, "MAX_PROOF_PIECES", 1000)
    path = build(cli, tmp_path, "sawtooth k=12", "s.onnx")
    r = verify(cli, "--complete", path, ok=True)
    assert ": tested (" in r.stdout
    assert "no proof: the reference has 4097 breakpoints; the exact piece proof stops at 1000" \
        in r.stdout
    path = build(cli, tmp_path, "square L=12", "q.onnx")  # a sup-error rule: pieces counted
    r = verify(cli, "--complete", path, ok=True)
    assert "no proof: the network has more than 1000 linear pieces" in r.stdout


def test_a_rounded_bound_stops_at_its_piece_limit_and_falls_back_to_intervals(monkeypatch):
    """hardcomp with rows of thirds: 3^k pieces. The exact worst case gives up at the
    limit before the reference is evaluated, and the interval bound applies, because the
    weights are each one rounding of their exact rational value."""
    from fractions import Fraction as F

    from reluc import compiler
    from reluc.compiler import compile_spec

    refs = counting(monkeypatch, "hardcomp", "reference")
    rows = ";".join(["1/3,2/3"] * 9)  # 19683 pieces
    for dtype in ("float32", "float64"):
        c = compile_spec(f"hardcomp a={rows}", dtype)
        assert not c.exact and c.error_bound is not None and c.error_bound > 0
        assert refs[0] <= compiler.MAX_BOUND_PIECES
        net, ref = c.net, registry_reference("hardcomp", c.spec.values)
        xs = [F(j, 997) for j in range(998)]
        err = max(abs(g[0] - ref(x)) for g, x in zip(exact.evaluate(net, [[x] for x in xs]), xs))
        assert 0 < err <= c.error_bound
    small = compile_spec("hardcomp a=1/3,2/3;1/3,2/3", "float64")  # within the limit: exact
    assert small.error_bound < F(1, 2**45)


def registry_reference(name, values):
    from reluc import registry

    ctor = registry.get(name)
    return lambda x: ctor.reference(values, [x])[0]


def test_rounded_weights_on_an_unbounded_domain_promise_the_build_only(cli, tmp_path):
    path = tmp_path / "m.onnx"
    r = cli("build", "maxaffine planes=1/3,0;-1,0", "--dtype", "float64", "-o", path, "-q")
    assert "not binary fractions (like 1/3)" in r.stderr and "no error bound" in r.stderr
    assert "--dtype float64" not in r.stderr  # it is set: suggesting it was wrong
    r = cli("build", "maxaffine planes=1/3,0;-1,0", "-o", tmp_path / "m32.onnx", "-q")
    assert "float64" not in r.stderr  # float64 would not be exact either
    slope = "1.000000000931322574615478515625"  # 1 + 2^-30: float64 holds it, float32 not
    assert "try --dtype float64" in cli("build", f"pwl points=0:0,1:{slope}",
                                        "-o", tmp_path / "p.onnx", "-q").stderr
    assert json.loads(cli("stats", path, "--json").stdout)["exact"] is False
    r = verify(cli, path, ok=True)  # it was FAILED (promised: exact)
    assert "(promised: reluc's own build, no error bound), identical to reluc's build" in r.stdout
    # the error against max(x/3, -x) is reported: it grows with |x|, up to the input limit
    err = json.loads(verify(cli, path, "--json", ok=True).stdout)["files"][0]["checks"]
    limit = err["limit"]["input_limit"]
    assert 0 < float(Fraction(err["exact"]["max_error"])) <= limit * 2.0**-52
    edit_onnx(path, perturb_initializer("W0", 0, lambda v: v * (1 + 2**-40)))
    r = verify(cli, path, ok=False)
    assert r.exit_code == 1 and "differs from reluc's build" in r.stdout


def test_the_float_report_names_the_error_where_it_is_largest(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    line = verify(cli, path, ok=True).stdout
    assert "float32 runtime: largest error " in line and "where the output is " in line
    assert "ulp of it), within the rounding bound" in line and "output range" not in line
    f = json.loads(verify(cli, path, "--json").stdout)["files"][0]["checks"]["float"]
    ulp = float(np.spacing(np.float32(abs(f["output_at_max_error"]))))
    assert f["ulps_at_max_error"] == pytest.approx(f["max_abs_error"] / ulp)
    path = build(cli, tmp_path, "sincos L=4", "c.onnx")  # an approximation: both errors
    assert "; rounding error " in verify(cli, path, ok=True).stdout


def test_a_file_is_held_to_what_its_metadata_claims_never_trusted_for_less(cli, tmp_path):
    """The promise is the build's bound, tightened by the file's own claim: a file that
    claims exact: true (or a smaller bound) must deliver it; a larger recorded bound is
    ignored, so loosening the metadata does not hide changed weights."""
    path = build(cli, tmp_path, "pwl points=0:0,3:1,6:0", "p.onnx")  # slopes 1/3, rounded
    assert verify(cli, path, ok=True).exit_code == 0

    def set_prop(key, value):
        def fn(m):
            (p,) = [p for p in m.metadata_props if p.key == key] or [m.metadata_props.add()]
            p.key, p.value = key, value
        return fn

    claims_exact = tmp_path / "e.onnx"
    claims_exact.write_bytes(path.read_bytes())
    edit_onnx(claims_exact, set_prop("reluc.exact", "true"))
    r = verify(cli, claims_exact, ok=False)
    assert r.exit_code == 1 and "(promised: exact, as the file records)" in r.stdout
    assert "  input:" in r.stdout
    tight = tmp_path / "t.onnx"
    tight.write_bytes(path.read_bytes())
    edit_onnx(tight, set_prop("reluc.error_bound", "1/1000000000000"))
    assert verify(cli, tight, ok=False).exit_code == 1
    loose = tmp_path / "l.onnx"
    loose.write_bytes(path.read_bytes())
    edit_onnx(loose, set_prop("reluc.error_bound", "1000"))
    edit_onnx(loose, perturb_initializer("B1", 0, lambda v: v + 1e-3))
    r = verify(cli, loose, ok=False)
    assert r.exit_code == 1 and "as the file records" not in r.stdout
    # checked against another spec (--spec), the file's claims do not apply
    assert verify(cli, "--spec", "pwl points=0:0,3:1,6:0 domain=0,5", claims_exact).exit_code == 0


@pytest.mark.parametrize("spec", ["mul L=4", "sawtooth k=6", "sort n=7"])
def test_exact_batches_in_pieces_give_the_same_report(cli, tmp_path, monkeypatch, spec):
    # wide networks' exact batches go in pieces of a few rows (arrays under 24 MiB): here
    # pieces of 3 rows, put back together over one denominator: the same report, and a
    # changed weight fails with the same counterexample
    from reluc.analysis import verify as v

    path = build(cli, tmp_path, spec, "n.onnx", "--dtype", "float64")
    changed = build(cli, tmp_path, spec, "c.onnx", "--dtype", "float64")
    edit_onnx(changed, perturb_initializer("B0", 0, lambda b: b + 2.0**-20))

    def reports():
        return [json.loads(verify(cli, p, "--json").stdout)["files"][0]
                for p in (path, changed)]

    whole = reports()
    monkeypatch.setattr(v, "rows_per_piece", lambda width: 3)
    assert reports() == whole
    assert whole[0]["verdict"] != "failed" and whole[1]["verdict"] == "failed"
