"""``reluc vnnlib``: benchmark suites whose answers reluc establishes. Every property is
read back by an independent VNN-LIB parser (pip ``vnnlib``, the VNN-COMP-compatible
one), every counterexample is checked exactly against the ONNX file as written (its
initializers evaluated in rationals here, not by reluc's reader), and a file that does
not compute its spec gets no answers."""

from __future__ import annotations

import csv
import json
import warnings
from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from conftest import assert_one_line_error, build, edit_initializer, edit_onnx

vnnlib = pytest.importorskip("vnnlib")  # (installed by `make test`)
from vnnlib import parse_file  # noqa: E402
from vnnlib.compat import read_vnnlib_simple  # noqa: E402

SUITES = ["sort n=4", "max n=8", "sawtooth k=6", "square L=4", "kth n=5 k=2", "mul L=2"]


def exact_onnx(path, x: list[Fraction]) -> list[Fraction]:
    """The ONNX file's Gemm/Relu chain on ``x``, in rationals, from its initializers."""
    m = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    h = list(x)
    for node in m.graph.node:
        if node.op_type == "Relu":
            h = [max(v, Fraction(0)) for v in h]
        elif node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs.get("transB") == 1 and "alpha" not in attrs and "beta" not in attrs
            w, b = inits[node.input[1]], inits[node.input[2]]
            h = [sum((Fraction(float(a)) * v for a, v in zip(row, h)), Fraction(0)) +
                 Fraction(float(c)) for row, c in zip(w, b)]
        else:
            raise AssertionError(f"not a dense Gemm chain: {node.op_type}")
    return h


def suite(cli, tmp_path, spec):
    net = build(cli, tmp_path, spec, "n.onnx")
    out = tmp_path / "suite"
    cli("vnnlib", net, "-o", out, "--timeout", "60", "-q")
    return out, json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("spec", SUITES)
def test_a_suite_has_holding_and_violated_properties_an_independent_parser_reads(cli,
                                                                                   tmp_path,
                                                                                   spec):
    out, manifest = suite(cli, tmp_path, spec)
    instances = manifest["instances"]
    assert {i["expected"] for i in instances} == {"sat", "unsat"}
    rows = list(csv.reader(open(out / "instances.csv")))
    assert [(r[0], r[1], r[2]) for r in rows] == \
        [(i["onnx"], i["vnnlib"], "60") for i in instances]
    model = out / instances[0]["onnx"]
    onnx.checker.check_model(onnx.load(str(model)))
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    n_in = sess.get_inputs()[0].shape[1]
    n_out = sess.get_outputs()[0].shape[1]
    rng = np.random.default_rng(0)
    for inst in instances:
        prop = out / inst["vnnlib"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ("-0.5" for (- 0.5): as VNN-COMP writes)
            parse_file(str(prop), strict=False)  # the full grammar reads every property
        text = prop.read_text()
        if "X_" in text.split("; the unsafe set")[1]:
            continue  # (constraints mixing inputs and outputs: beyond the legacy reader)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (box, disjuncts), = read_vnnlib_simple(str(prop), n_in, n_out)
        box = np.array(box, float)

        def unsafe(y):
            return any(np.all(a @ y <= b.ravel()) for a, b in disjuncts)
        if inst["expected"] == "sat":
            x = [Fraction(v) for v in inst["counterexample"]["x"]]
            assert all(lo <= float(v) <= hi for v, (lo, hi) in zip(x, box))
            y = exact_onnx(model, x)
            assert [str(v) for v in y] == [str(Fraction(v)) for v in
                                          inst["counterexample"]["y"]]
            assert unsafe(np.array([float(v) for v in y]))
        else:  # a sanity check (the answer itself is reluc's proof): samples stay safe
            xs = box[:, 0] + rng.random((2000, n_in)) * (box[:, 1] - box[:, 0])
            ys = sess.run(None, {sess.get_inputs()[0].name: xs.astype(np.float32)})[0]
            assert not any(unsafe(y) for y in ys.astype(float))


def test_mixed_properties_hold_on_samples_and_their_twins_fail_exactly(cli, tmp_path):
    out, manifest = suite(cli, tmp_path, "max n=8")
    model = out / manifest["instances"][0]["onnx"]
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    xs = np.random.default_rng(1).uniform(-1, 1, size=(2000, 8)).astype(np.float32)
    ys = sess.run(None, {sess.get_inputs()[0].name: xs})[0]
    assert np.all(xs.max(axis=1) - ys[:, 0] < 1 / 1024)  # dominates: no sample is unsafe
    twin = next(i for i in manifest["instances"] if i["expected"] == "sat")
    x = [Fraction(v) for v in twin["counterexample"]["x"]]
    assert exact_onnx(model, x)[0] - x[0] >= Fraction(1, 1024)  # Y_0 - X_0 >= margin


def test_a_file_that_does_not_compute_its_spec_gets_no_answers(cli, tmp_path):
    # the answers come from reluc's proof on the file, not from the spec's promise
    net = build(cli, tmp_path, "sort n=4", "s.onnx", "--layout", "dense")
    edit_onnx(net, lambda m: edit_initializer(m, m.graph.node[0].input[1],
                                              lambda w: w * 0.5))
    r = cli("vnnlib", net, "-o", tmp_path / "suite", ok=False)
    assert_one_line_error(r, "cannot establish the answers")
    assert not (tmp_path / "suite" / "manifest.json").exists()


def test_bad_input_is_one_line(cli, tmp_path):
    from test_bounds import foreign

    plain = foreign(tmp_path / "f.npz", [([[1.0]], [0.0]), ([[1.0]], [0.0])])
    assert_one_line_error(cli("vnnlib", plain, "-o", tmp_path / "a", ok=False), "reluc built")
    norm = build(cli, tmp_path, "norm n=4 levels=2", "m.onnx")
    assert_one_line_error(cli("vnnlib", norm, "-o", tmp_path / "b", ok=False), "'norm'")
    saw = build(cli, tmp_path, "sawtooth k=2", "s.onnx")
    (tmp_path / "file").write_text("x")
    assert_one_line_error(cli("vnnlib", saw, "-o", tmp_path / "file", ok=False),
                          "not a directory")
    assert_one_line_error(cli("vnnlib", saw, "-o", tmp_path / "c", "--box", "0:1/3", ok=False),
                          "binary fraction")


def test_a_one_input_file_outside_its_bound_gets_a_violated_property_with_its_witness(
        cli, tmp_path):
    # square L=4 with its last bias moved by 1/64: outside the declared bound, so
    # "within" is violated, at a point reluc finds and this test checks exactly
    net = build(cli, tmp_path, "square L=4", "s.onnx", "--layout", "dense")
    edit_onnx(net, lambda m: edit_initializer(m, m.graph.node[-1].input[2],
                                              lambda b: b + np.float32(1 / 64)))
    out = tmp_path / "suite"
    cli("vnnlib", net, "-o", out, "-q")
    manifest = json.loads((out / "manifest.json").read_text())
    within = next(i for i in manifest["instances"] if i["vnnlib"].endswith("within.vnnlib"))
    assert within["expected"] == "sat"
    x = [Fraction(v) for v in within["counterexample"]["x"]]
    y = exact_onnx(out / within["onnx"], x)
    text = (out / within["vnnlib"]).read_text()
    high = Fraction(text.split("(>= Y_0 ")[1].split(")")[0])
    assert y[0] >= high


def test_a_wrong_counterexample_is_caught_before_anything_is_written(cli, tmp_path,
                                                                     monkeypatch):
    from reluc.analysis import vnnlib as mod

    real = mod._comparator

    def wrong(*args):
        props = real(*args)
        for p in props:
            if p.counterexample is not None:  # every input equal: sorted, nothing unsafe
                p.counterexample = [p.box[0][0]] * len(p.counterexample)
        return props

    monkeypatch.setattr(mod, "_comparator", wrong)
    net = build(cli, tmp_path, "sort n=4", "s.onnx")
    r = cli("vnnlib", net, "-o", tmp_path / "suite", ok=False)
    assert_one_line_error(r, "does not reach the unsafe set")
    assert not (tmp_path / "suite").exists()
