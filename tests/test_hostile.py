"""Hostile input and faults (issue 11): what a user, a file or the machine can throw at
reluc makes it neither hang, eat memory, crash nor lie. Cases that could hang or blow up
run in a subprocess with a time and memory limit, so that a regression fails cleanly."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest

from conftest import assert_one_line_error, build, data_file, edit_onnx
from reluc import formats
from reluc.formats import atomic

LIMIT_BYTES = 3 << 30  # address space of a reluc subprocess


def run_reluc(*args, input=None, timeout=60, cwd=None):
    """``python -m reluc ARGS`` with at most 3 GiB of address space and ``timeout``
    seconds: a hang or a blow-up fails the test instead of the machine."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))

    return subprocess.run([sys.executable, "-m", "reluc", *map(str, args)], input=input,
                          capture_output=True, timeout=timeout, preexec_fn=limit, cwd=cwd,
                          text=isinstance(input, str) or input is None)


def assert_one_line(r, *fragments, code=2):
    """A subprocess run: exit ``code``, one ``Error:`` line, no traceback."""
    err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode()
    lines = err.strip().splitlines()
    assert r.returncode == code, (r.returncode, err)
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


# -- external data: the model and its data change together ------------------------------


def sort_rows(n, rows=6, seed=0):
    return np.random.default_rng(seed).integers(-99, 99, (rows, n)).astype(float)


def eval_rows(cli, path, x):
    text = "\n".join(" ".join(str(int(v)) for v in row) for row in x) + "\n"
    r = cli("eval", path, input=text)
    return np.array([[float(v) for v in line.split()] for line in r.stdout.splitlines()])


def test_a_fault_between_the_two_renames_leaves_the_old_pair_readable(cli, tmp_path,
                                                                      monkeypatch):
    m = build(cli, tmp_path, "sort n=12", "m.onnx", "--external-data")
    old_data = data_file(m)
    real_replace = os.replace

    def fail_on_model(src, dst, *a, **k):
        if os.fspath(dst) == str(m):  # the data file is in place; the model not yet
            raise OSError(28, "No space left on device", str(m))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(atomic.os, "replace", fail_on_model)
    r = cli("build", "sort n=12 method=bitonic", "-o", m, "--external-data", ok=False)
    assert_one_line_error(r, "No space left")
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    # the old model still reads its own data: right answers, not garbage with exit 0
    x = sort_rows(12)
    assert np.array_equal(eval_rows(cli, m, x), np.sort(x, axis=1))
    assert old_data.exists()
    assert cli("verify", m).exit_code == 0
    # the next build that succeeds leaves exactly one data file, the new model's own
    cli("build", "sort n=12 method=bitonic", "-o", m, "--external-data", "-q")
    assert data_file(m) != old_data and not old_data.exists()
    assert np.array_equal(eval_rows(cli, m, x), np.sort(x, axis=1))


def test_a_model_never_reads_data_that_is_not_its_own(cli, tmp_path):
    m = build(cli, tmp_path, "sort n=12", "m.onnx", "--external-data")
    (tmp_path / "o").mkdir()
    other = build(cli, tmp_path / "o", "sort n=12 method=bitonic", "m.onnx", "--external-data")
    assert data_file(other).name != data_file(m).name  # the name carries the digest
    data_file(m).unlink()
    # the old way (<model>.data) would now find another build's bytes; the digest
    # name finds nothing, and says so
    (tmp_path / "m.onnx.data").write_bytes(data_file(other).read_bytes())
    for cmd in (("stats", m), ("verify", m), ("eval", m)):
        assert_one_line_error(cli(*cmd, input="1 " * 12 + "\n", ok=False))


def test_a_directory_as_target_gets_nothing_written(cli, tmp_path):
    (tmp_path / "d.onnx").mkdir()
    r = cli("build", "sort n=8", "-o", tmp_path / "d.onnx", "--external-data", ok=False)
    assert_one_line_error(r, "is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.onnx"]
    assert list((tmp_path / "d.onnx").iterdir()) == []


KILL_AT_LAYER = """
import os, signal, sys
from reluc.formats import onnxwrite
real = onnxwrite.RangeBound.add
count = [0]
def add(self, layer):
    count[0] += 1
    if count[0] == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, layer)
onnxwrite.RangeBound.add = add
from reluc.cli import main
main(sys.argv[1:], prog_name="reluc")
"""


@pytest.mark.parametrize("extra", [(), ("--external-data",)])
def test_kill_9_during_a_build_leaves_nothing_behind(tmp_path, extra):
    target = tmp_path / "s.onnx"
    target.write_bytes(b"old")
    r = subprocess.run([sys.executable, "-c", KILL_AT_LAYER, "build", "sort n=16", "-o",
                        str(target), *extra], capture_output=True)
    assert r.returncode == -signal.SIGKILL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.onnx"]
    assert target.read_bytes() == b"old"


def test_temporary_files_of_killed_processes_are_cleaned_up(cli, tmp_path, monkeypatch):
    # where the system has no unnamed files, a temporary is named after its process
    monkeypatch.delattr(atomic.os, "O_TMPFILE", raising=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".reluc-{dead}-abc.tmp"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".reluc-{os.getpid()}-abc.tmp"  # a write in progress: kept
    live.write_bytes(b"y")
    build(cli, tmp_path, "sort n=4", "s.onnx")
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "s.onnx"]


# -- numbers in specs and in files: limits on size and exponent ---------------------------


@pytest.mark.parametrize("spec, fragment", [
    ("sort n=3 domain=0,1e5000", "out of range"),
    ("pwl points=0:0,1:1e400", "out of range"),
    ("max n=2 domain=-1e5000,1e5000", "out of range"),
    ("sort n=8 domain=0,1e100000000", "out of range"),
    ("sort n=8 domain=0,1e-100000000", "out of range"),
    ("pwl points=0:0,1:" + "7" * 5000, "too long"),
    ("sort n=٣", "must be an integer"),
    ("sort n=" + "9" * 5000, "must be an integer"),
])
def test_spec_numbers_out_of_range_are_refused_quickly(spec, fragment, tmp_path):
    r = run_reluc("build", spec, "-o", tmp_path / "x.onnx", timeout=30)
    assert_one_line(r, fragment)
    assert len(r.stderr) < 400  # a bad token is quoted in part, never whole
    assert not (tmp_path / "x.onnx").exists()


def test_a_spec_file_with_a_byte_order_mark_builds(cli, tmp_path):
    f = tmp_path / "s.spec"
    f.write_bytes("\ufeffsort n=4\n".encode())
    cli("build", f, "-o", tmp_path / "a.onnx", "-q")
    cli("build", "sort n=4", "-o", tmp_path / "b.onnx", "-q")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def set_prop(key, value):
    def fn(m):
        for p in m.metadata_props:
            if p.key == key:
                p.value = value
                return
        m.metadata_props.add(key=key, value=value)
    return fn


@pytest.mark.parametrize("key, value", [
    ("reluc.domain", '{"dim":600000000,"lo":"0","hi":"1"}'),
    ("reluc.domain", '{"dim":1e400,"lo":"0","hi":"1"}'),
    ("reluc.domain", '{"dim":4,"lo":["0"],"hi":"1"}'),
    ("reluc.domain", '[1, 2]'),
    ("reluc.error_bound", "1e100000000"),
    ("reluc.error_bound", "1e5000"),
    ("reluc.params", "[1]"),
    ("reluc.input_limit", "-5"),
    ("reluc.rounding", '{"at_least": -1, "at_most": 1, "near": 0, "at": null}'),
    ("reluc.rounding", '{"at_least": 1, "at_most": 1, "near": 0, "at": [1e999]}'),
    ("reluc.rounding", '{"at_least": 1, "at_most": 1}'),
    ("reluc.rounding", "[1]"),
])
@pytest.mark.parametrize("command", ["stats", "verify"])
def test_damaged_metadata_is_refused_in_one_line_and_quickly(cli, tmp_path, key, value,
                                                             command):
    path = build(cli, tmp_path, "sort n=4", "s.onnx")
    edit_onnx(path, set_prop(key, value))
    r = run_reluc(command, path, timeout=30)
    assert_one_line(r, key)


def test_the_input_limit_is_recorded_and_reported(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=2", "s.onnx")
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    limit = float(props["reluc.input_limit"])
    # sort n=2 in float32: outputs reach 2|x| at most inside, so about max / 4
    assert 1e37 < limit < np.finfo(np.float32).max / 2
    s = cli("stats", path, "--json").stdout
    assert f'"input_limit": {limit}' in s
    npz = build(cli, tmp_path, "sort n=2", "s.npz")
    assert formats.read(str(npz))[1].input_limit == limit


def test_verify_samples_at_the_input_limit_and_proves_it(cli, tmp_path):
    import json

    path = build(cli, tmp_path, "sort n=4", "s.onnx")
    report = json.loads(cli("verify", path, "--json").stdout)["files"][0]
    check = report["checks"]["limit"]
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert check["status"] == "pass" and report["verdict"] == "tested"
    assert check["input_limit"] == check["recorded"] == float(props["reluc.input_limit"])
    assert check["inputs_at_limit"] >= 5
    # those rows went through the float check too (which counts only rows it could run)
    plain = json.loads(cli("verify", path, "--json", "--samples", "8").stdout)["files"][0]
    assert plain["checks"]["float"]["max_bound"] > 1e30  # the bound at |x| ~ 5e36


def set_npz_prop(path, key: str, value: str) -> None:
    """One entry of a reluc .npz file's metadata changed, the rest as it was."""
    import json

    with np.load(path, allow_pickle=False) as z:
        arrays = dict(z)
    meta = json.loads(str(arrays["meta"]))
    meta["metadata"][key] = value
    arrays["meta"] = np.array(json.dumps(meta, separators=(",", ":")))
    np.savez(path, **arrays)


@pytest.mark.parametrize("name", ["s.onnx", "s.npz"])
def test_verify_fails_a_recorded_input_limit_the_weights_do_not_prove(cli, tmp_path, name):
    """The float check runs the rows at the recorded limit through the file's runtime
    as they are (onnxruntime, or scipy, which would otherwise refuse rows past the
    limit its own read proves) and reports the overflow."""
    import json

    path = build(cli, tmp_path, "sort n=4", name)
    if name.endswith(".onnx"):  # max(a, b) = b + relu(a - b)
        edit_onnx(path, set_prop("reluc.input_limit", "3e38"))
    else:
        set_npz_prop(path, "reluc.input_limit", "3e38")
    r = cli("verify", path, "--json", ok=False)  # overflows in a - b at 3e38
    assert r.exit_code == 1
    report = json.loads(r.stdout)["files"][0]
    assert report["verdict"] == "failed"
    assert report["checks"]["limit"]["status"] == "fail"
    assert report["checks"]["float"]["status"] == "fail"  # inf at the recorded limit
    line = cli("verify", path, ok=False).stdout
    assert "FAILED" in line and "overflow to inf or NaN" in line and "3e+38" in line


def test_verify_refuses_a_limit_a_little_too_large_even_without_an_overflow(cli, tmp_path):
    import json

    path = build(cli, tmp_path, "sort n=4", "s.onnx")
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    edit_onnx(path, set_prop("reluc.input_limit", repr(float(props["reluc.input_limit"]) * 2)))
    r = cli("verify", path, "--json", ok=False)
    report = json.loads(r.stdout)["files"][0]
    assert r.exit_code == 1 and report["checks"]["limit"]["status"] == "fail"
    assert report["checks"]["float"]["status"] == "pass"  # it proves, not overflows


def write_foreign_npz(path, layers, dtype="float32"):
    """A network file without reluc metadata, as another tool would write it."""
    from reluc.formats.metadata import FileInfo
    from reluc.formats.npzfile import write_npz
    from reluc.net import Layer, Net

    with open(path, "wb") as f:
        write_npz(Net([Layer(np.array(w, float), np.array(b, float)) for w, b in layers]),
                  FileInfo(), f, dtype)
    return path


def cancelling(k):
    """x -> 2^k relu(x) - 2^k relu(x): zero everywhere, but its partial sums reach 2^k |x|."""
    return [([[1], [1]], [0, 0]), ([[2.0**k, -(2.0**k)]], [0])]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_input_limit_is_sound_where_partial_sums_overflow_before_they_cancel(
        cli, tmp_path, dtype):
    import json

    k = 100 if dtype == "float32" else 1000
    path = write_foreign_npz(tmp_path / "c.npz", cancelling(k), dtype)
    limit = json.loads(cli("stats", path, "--json").stdout)["input_limit"]
    big = float(np.finfo(dtype).max)
    # the true answer: |x| * 2^k must stay below the largest number (with a small margin)
    assert big / 2.0**k / 4 < limit <= big / 2.0**k
    # at the limit the computation does not overflow, a little past it does
    x = np.array([[limit]], dtype=dtype)
    with np.errstate(over="ignore"):
        for r, ok in ((x, True), (x * 8, False)):
            h = np.maximum(r @ np.array([[1, 1]], dtype=dtype), 0)
            parts = h * np.array([2.0**k, -(2.0**k)], dtype=dtype)
            assert bool(np.all(np.isfinite(parts))) == ok


@pytest.mark.parametrize("layers, true_limit", [
    # relu(-x) * 2^100: the negative weight must widen the interval, not vanish
    ([([[-1]], [0]), ([[2.0**100]], [0])], float(np.finfo(np.float32).max) / 2.0**100),
    # relu(x) + 3e38: the bias of a later layer leaves 3.4e38 - 3e38 for x
    ([([[1]], [0]), ([[1]], [3e38])], float(np.finfo(np.float32).max) - 3e38),
    # 2^27 relu(x + 2^100): a bias multiplied on the way (half of the room is its)
    ([([[1]], [2.0**100]), ([[2.0**27]], [0])], float(np.finfo(np.float32).max) / 2.0**27
     - 2.0**100),
])
def test_the_input_limit_counts_negative_weights_and_biases(cli, tmp_path, layers,
                                                             true_limit):
    import json

    path = write_foreign_npz(tmp_path / "c.npz", layers, "float32")
    limit = json.loads(cli("stats", path, "--json").stdout)["input_limit"]
    assert true_limit / 4 < limit <= true_limit


def plain_intervals_safe(layers, dtype):
    """The plain interval bounds at each candidate radius, one radius at a time (the
    definition :class:`reluc.ranges.RangeBound` shortcuts while the biases are zero): which
    radii keep every partial sum and every value finite."""
    from reluc.ranges import RangeBound, _Parts, dot_gamma

    bound = RangeBound(dtype)
    safe = []
    for r in bound.radii:
        lo = hi = None
        ok = True
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in layers:
                parts, gamma = _Parts(layer), dot_gamma(layer, bound.unit)
                if lo is None:
                    lo, hi = np.full(layer.n_in, -r), np.full(layer.n_in, r)
                size = parts.sizes(np.maximum(np.abs(lo), np.abs(hi))) + np.abs(layer.bias)
                ok &= bool(np.all(size * (1 + gamma) < bound.max))
                zlo, zhi = parts.ends(lo, hi)
                zlo, zhi = zlo + layer.bias - gamma * size, zhi + layer.bias + gamma * size
                ok &= bool(np.all(np.isfinite(zlo) & np.isfinite(zhi)))
                lo, hi = np.maximum(zlo, 0), np.maximum(zhi, 0)
        safe.append(ok)
    return np.array(safe)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("first_bias", [None, 0, 2])  # the first layer with a bias (None: none)
@pytest.mark.parametrize("paired", [False, True])
def test_the_input_limit_at_candidate_radii_is_the_plain_interval_bound_at_each(
        dtype, first_bias, paired):
    """While every bias is zero the bound keeps radius 1's intervals and scales them; it
    must say the same radii are safe as running each radius on its own."""
    from reluc.net import Layer
    from reluc.ranges import RangeBound

    rng = np.random.default_rng(len(dtype) + 3 * (first_bias or 5) + paired)
    scale = 30 if dtype == "float32" else 200  # several radii safe, several not
    mixed = 0
    for trial in range(8):
        widths = rng.integers(2, 7, size=rng.integers(3, 6))
        layers, n_in = [], 3
        for i, width in enumerate(widths):
            w = rng.integers(-3, 4, size=(width, n_in)) * 2.0 ** rng.integers(0, scale,
                                                                              size=(width, n_in))
            b = np.zeros(width)
            if first_bias is not None and i >= first_bias:
                b = rng.integers(-3, 4, size=width) * 2.0 ** rng.integers(0, 2 * scale, size=width)
            if paired:
                layers.append(Layer.from_pairs(w, np.repeat(b, 2)))
                n_in = 2 * width
            else:
                layers.append(Layer(w, b))
                n_in = width
        bound = RangeBound(dtype)
        for layer in layers:
            bound.add(layer)
        want = plain_intervals_safe(layers, dtype)
        assert np.array_equal(bound.safe, want), (trial, bound.safe, want)
        mixed += 0 < want.sum() < len(want)
    assert mixed >= 4  # the cases reach radii both ways


# -- eval: the floating-point range, and every network read the same way ------------------


@pytest.fixture
def sort2(cli, tmp_path):
    return build(cli, tmp_path, "sort n=2", "s2.onnx")


@pytest.mark.parametrize("row, fragments", [
    ("1.8e38 -1.8e38", ("input limit", "would overflow in layer 1")),
    ("1e39 0", ("beyond the range of float32",)),
    ("0 -1e39", ("beyond the range of float32",)),  # as far below zero
    ("1e308 1", ("beyond the range of float32",)),
    ("1 2\n3 4\n1.8e38 -1.8e38", ("input row 3",)),
    ("1 2\n1.8e38 -1.8e38\n3 4\n-1.8e38 1.8e38", ("input row 2:",)),  # the first of two
])
def test_eval_refuses_rows_that_could_overflow(cli, sort2, row, fragments):
    r = cli("eval", sort2, input=row + "\n", ok=False)
    assert_one_line_error(r, "input row", "float32", *fragments)
    assert r.stdout == ""


def test_rows_past_the_limit_that_cannot_overflow_are_evaluated(cli, tmp_path):
    # a deep sawtooth: the interval bound cannot rule out overflow even at 0 (its limit
    # is 0), yet its values stay in [0, 1]: each row is checked as it is computed
    path = build(cli, tmp_path, "sawtooth k=200", "saw.onnx")
    assert "|x| <= 0 " in cli("stats", path).stdout
    r = cli("eval", path, input="0\n0.25\n1\n")
    assert r.stdout == "0\n0\n0\n"
    sort2 = build(cli, tmp_path, "sort n=2", "s2.onnx")
    assert cli("eval", sort2, input="1e38 -1e38\n2 1\n").stdout == "-1e+38 1e+38\n1 2\n"


def test_eval_of_a_float64_file_refuses_what_float64_cannot_hold(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=2", "s.onnx", "--dtype", "float64")
    assert cli("eval", path, input="1e300 -1e300\n").stdout == "-1e+300 1e+300\n"
    assert_one_line_error(cli("eval", path, input="1.7e308 -1.7e308\n", ok=False),
                          "would overflow")


def test_eval_warns_once_when_inputs_round_into_the_dtype(cli, sort2):
    r = cli("eval", sort2, input="16777217 1\n16777219 3\n")
    assert r.stdout == "1 16777216\n3 16777220\n"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: 2 input values rounded")
    assert "16777217" in lines[0]
    assert cli("eval", sort2, input="3 1\n").stderr == ""


def test_eval_counts_and_names_rounded_inputs_across_pieces(cli, sort2, monkeypatch):
    from reluc.analysis import cores

    monkeypatch.setattr(cores, "PIECE_BYTES", 16)  # a row of two float64 a piece
    r = cli("eval", sort2, input="1 2\n16777217 1\n3 4\n16777219 3\n5 6\n")
    assert r.stdout == "1 2\n1 16777216\n3 4\n3 16777220\n5 6\n"
    assert r.stderr.strip() == ("warning: 2 input values rounded to float32 (first: input "
                                "row 2, 16777217.0 -> 16777216.0)")


def test_eval_checks_rows_far_below_zero_as_well(cli, tmp_path):
    # 2^100 relu(-x): only a negative input can overflow it
    path = write_foreign_npz(tmp_path / "neg.npz", [([[-1]], [0]), ([[2.0**100]], [0])])
    assert cli("eval", path, input="1e10\n-1\n").stdout == "0\n1.2676506e+30\n"
    assert_one_line_error(cli("eval", path, input="1e10\n-1e10\n", ok=False),
                          "input row 2", "would overflow in layer 2")


def make_onnx(path, nodes, inits, batch="batch", n_in=2, n_out=1):
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n_out])],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_eval_refuses_what_stats_and_verify_refuse(cli, tmp_path):
    from onnx import helper

    sig = make_onnx(tmp_path / "sig.onnx",
                    [helper.make_node("Gemm", ["x", "W", "B"], ["z"], transB=1),
                     helper.make_node("Sigmoid", ["z"], ["y"])],
                    {"W": [[1, 2]], "B": [0]})
    nan = make_onnx(tmp_path / "nan.onnx", [helper.make_node("Gemm", ["x", "W", "B"], ["y"],
                                                             transB=1)],
                    {"W": [[1, np.nan]], "B": [0]})
    # a Sigmoid is sound but not reluc's to read: its own engine refuses it (the default
    # hands it to onnxruntime, tests/test_foreign.py); damaged weights every engine refuses
    for path, fragment, engines in ((sig, "Sigmoid", ["scipy"]),
                                    (nan, "finite", ["auto", "scipy", "ort"])):
        for cmd in [("stats", path)] + [("eval", path, "--runtime", e) for e in engines]:
            assert_one_line_error(cli(*cmd, input="1 2\n", ok=False), fragment)
        assert_one_line_error(cli("verify", path, "--spec", "max n=2", ok=False), fragment)


def test_a_model_with_a_fixed_batch_of_one_takes_many_rows(cli, tmp_path):
    from onnx import helper

    # max(a, b) = b + relu(a - b), exported with a fixed batch of 1 (as torch.onnx does
    # without dynamic axes)
    path = make_onnx(tmp_path / "m.onnx",
                     [helper.make_node("Gemm", ["x", "W0", "B0"], ["z"], transB=1),
                      helper.make_node("Relu", ["z"], ["h"]),
                      helper.make_node("Gemm", ["h", "W1", "B1"], ["y"], transB=1)],
                     {"W0": [[1, -1], [0, 1], [0, -1]], "B0": [0, 0, 0],
                      "W1": [[1, 1, -1]], "B1": [0]}, batch=1)
    assert cli("eval", path, input="1 2\n5 -3\n0 0\n").stdout == "2\n5\n0\n"
    assert cli("verify", path, "--spec", "max n=2").exit_code == 0


def test_networks_come_from_stdin_and_from_pipes(cli, tmp_path):
    data = build(cli, tmp_path, "sort n=3", "s.onnx").read_bytes()
    rows = tmp_path / "rows.txt"
    rows.write_text("3 1 2\n")
    assert cli("eval", "-", "-i", rows, input=data).stdout == "1 2 3\n"
    assert "proved" in cli("verify", "--complete", "-", input=data).stdout
    assert "sort n=3" in cli("stats", "-", input=data).stdout
    assert_one_line_error(cli("eval", "-", input=data, ok=False), "both", "-i")
    # a pipe, as in reluc eval <(reluc build sort --n 3 -o -)
    r = subprocess.run(["bash", "-c", f"{sys.executable} -m reluc eval "
                        f"<({sys.executable} -m reluc build sort --n 3 -o - -q) -i {rows} && "
                        f"{sys.executable} -m reluc verify "
                        f"<({sys.executable} -m reluc build sort --n 3 -o - -q)"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "1 2 3" and "tested (sort n=3" in r.stdout


# -- eval input: bounded memory, short messages -------------------------------------------


@pytest.mark.parametrize("text, fragment", [
    ("1" * 10_000_000, "longer than"),
    ("1 2 " + "9" * 200, "too long for a number"),
    ("1\u00a02 3\n", "is not a number"),  # NBSP is not a separator
    ("1_000 2 3\n", "'1_000' is not a number"),
    ("\u0663 1 2\n", "is not a number"),
])
def test_bad_rows_are_refused_early_with_a_short_message(cli, tmp_path, text, fragment):
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    r = cli("eval", path, input=text, ok=False)
    assert_one_line_error(r, fragment)
    assert len(r.stderr) < 200


def test_a_long_comment_line_is_skipped(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    assert cli("eval", path, input="#" + "x" * 100_000 + "\n3 1 2\n").stdout == "1 2 3\n"


def test_a_rows_file_that_is_not_utf8_is_one_line(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    f = tmp_path / "rows.txt"
    f.write_bytes(b"3 1 2\n\xff\xfe 1 2\n")
    assert_one_line_error(cli("eval", path, "-i", f, ok=False), "row 2", "UTF-8")


def test_an_npy_header_claiming_more_than_the_file_holds_is_refused(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    f = tmp_path / "x.npy"
    with open(f, "wb") as out:
        np.lib.format.write_array_header_1_0(
            out, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 3)})
        out.write(b"\0" * 48)
    r = run_reluc("eval", path, "-i", f, timeout=60)
    assert_one_line(r, "1000000000000 rows", "holds 48 bytes")


# -- .npz files: sizes checked before anything is read ------------------------------------


def npz_members(path):
    with np.load(path, allow_pickle=False) as z:
        return dict(z)


def save_members(path, members, compress=False):
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for name, a in members.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                if isinstance(a, bytes):
                    f.write(a)
                else:
                    np.lib.format.write_array(f, np.asanyarray(a), allow_pickle=False)


def with_meta(members, **changes):
    import json

    meta = json.loads(str(members["meta"][()]))
    meta.update(changes)
    members["meta"] = np.array(json.dumps(meta))
    return members


def npy_header(shape, descr="<f4"):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("damage, fragment", [
    ("layers 1e400", "meta.layers"),
    ("layers huge", "meta.layers"),
    ("metadata a list", "meta.metadata"),
    ("dtype complex128", "meta.dtype"),
    ("dtype object", "meta.dtype"),
    ("complex weights", "complex"),
    ("header claims 10^12 floats", "w0_data"),
    ("bias too long", "b0"),
    ("spec not text", "reluc.spec"),
])
@pytest.mark.parametrize("command", ["stats", "eval", "verify"])
def test_a_damaged_npz_is_one_line_quickly(cli, tmp_path, damage, fragment, command):
    path = build(cli, tmp_path, "sort n=3", "s.npz")
    z = npz_members(path)
    if damage == "layers 1e400":
        raw = str(z["meta"][()]).replace('"layers":', '"layers":1e400,"x":')
        z["meta"] = np.array(raw)
    elif damage == "layers huge":
        with_meta(z, layers=10**12)
    elif damage == "metadata a list":
        with_meta(z, metadata=[1, 2])
    elif damage.startswith("dtype"):
        with_meta(z, dtype=damage.split()[1])
    elif damage == "complex weights":
        z["w0_data"] = z["w0_data"].astype(np.complex64) + 1j
    elif damage == "header claims 10^12 floats":
        z["w0_data"] = npy_header((10**12,)) + b"\0" * 64
    elif damage == "bias too long":
        z["b0"] = np.concatenate([z["b0"], z["b0"]])
    elif damage == "spec not text":
        import json

        meta = json.loads(str(z["meta"][()]))
        meta["metadata"]["reluc.spec"] = 5
        z["meta"] = np.array(json.dumps(meta))
    save_members(path, z)
    r = run_reluc(command, path, input="1 2 3\n", timeout=60)
    assert_one_line(r, fragment)


def test_a_zip_bomb_is_refused_before_it_inflates(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=3", "s.npz")
    z = npz_members(path)
    z["w0_data"] = npy_header((80 << 18,)) + bytes(80 << 20)  # 80 MiB of zeros
    save_members(path, z, compress=True)
    assert os.path.getsize(path) < 1 << 20
    assert_one_line(run_reluc("stats", path, timeout=60), "zip bomb")


# -- malformed foreign graphs: exit 2 with one line, never a crash -----------------------


def foreign_graphs(tmp_path):
    from onnx import helper

    g = helper.make_node
    yield "Add with one input", make_onnx(
        tmp_path / "a.onnx", [g("Gemm", ["x", "W", "B"], ["z"], transB=1), g("Add", ["z"], ["y"])],
        {"W": [[1, 2]], "B": [0]}), "Add"
    yield "bias of the wrong length", make_onnx(
        tmp_path / "b.onnx", [g("MatMul", ["x", "W"], ["z"]), g("Add", ["z", "C"], ["y"])],
        {"W": np.ones((2, 3)), "C": np.ones(5)}, n_out=3), "bias"
    yield "Gemm bias of the wrong length", make_onnx(
        tmp_path / "c.onnx", [g("Gemm", ["x", "W", "B"], ["y"], transB=1)],
        {"W": [[1, 2]], "B": [0, 1, 2]}), "bias"
    yield "MatMul with a 3-D weight", make_onnx(
        tmp_path / "d.onnx", [g("MatMul", ["x", "W"], ["y"])], {"W": np.ones((2, 1, 1))}
    ), "matrix"
    yield "MatMul without weights", make_onnx(
        tmp_path / "e.onnx", [g("MatMul", ["x"], ["y"])], {}), "MatMul with 1 input"


@pytest.mark.parametrize("case", range(5))
@pytest.mark.parametrize("command", ["stats", "eval", "verify"])
def test_malformed_foreign_graphs_are_one_line(cli, tmp_path, case, command):
    name, path, fragment = list(foreign_graphs(tmp_path))[case]
    extra = ("--spec", "max n=2") if command == "verify" else ()
    r = cli(command, path, *extra, input="1 2\n", ok=False)
    assert_one_line_error(r, fragment)


def test_invalid_utf8_in_the_metadata_is_one_line(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    data = path.read_bytes()
    at = data.rindex(b"sort n=3 method=best")
    path.write_bytes(data[:at] + b"\xff" + data[at + 1:])
    for cmd in ("stats", "verify", "eval"):
        assert_one_line_error(cli(cmd, path, input="1 2 3\n", ok=False))


def test_running_out_of_memory_says_so_and_how_much(tmp_path):
    # a network whose rows need more than the process may have: eval of 2^16 rows of a
    # network with 8192 outputs (2 GiB of float32 outputs), under a 1 GiB address-space
    # limit (eval's intermediate tensors are bounded by its chunks; its outputs are not)
    script = textwrap.dedent("""
        import resource, sys
        import numpy as np
        from reluc.cli import main
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        main(["eval", sys.argv[1], "-i", sys.argv[2]], prog_name="reluc")
    """)
    net = write_foreign_npz(tmp_path / "w.npz", [(np.ones((8192, 2)), np.zeros(8192))])
    np.save(tmp_path / "x.npy", np.ones((1 << 16, 2)))
    r = subprocess.run([sys.executable, "-c", script, net, tmp_path / "x.npy"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "out of memory" in lines[0] and "GiB" in lines[0], r.stderr


def test_the_program_caps_its_memory_at_what_the_machine_has(tmp_path):
    # the machine said to have 200 MB more: eval of a batch needing ~1 GB (its outputs)
    # must end as "out of memory", exit 2, not run on (or be killed by the kernel)
    script = textwrap.dedent("""
        import sys
        from reluc import budget, cli
        budget.available_memory = lambda: 200 << 20
        cli.run(["eval", sys.argv[1], "-i", sys.argv[2]])
    """)
    net = write_foreign_npz(tmp_path / "w.npz", [(np.ones((8192, 2)), np.zeros(8192))])
    np.save(tmp_path / "x.npy", np.ones((1 << 15, 2)))
    r = subprocess.run([sys.executable, "-c", script, net, tmp_path / "x.npy"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "out of memory" in r.stderr, r.stderr


def test_a_thread_that_cannot_start_is_out_of_memory(cli, tmp_path, monkeypatch):
    # under a low ulimit -v a thread's stack may be what no longer fits: Python says
    # RuntimeError("can't start new thread"), reluc says out of memory (exit 2); another
    # RuntimeError stays an internal error (exit 3)
    from concurrent.futures import ThreadPoolExecutor

    path = build(cli, tmp_path, "sort n=3", "s.onnx")
    for message, code, fragment in (("can't start new thread", 2, "out of memory"),
                                    ("something else", 3, "internal error")):
        def refuse(*args, message=message, **kwargs):
            raise RuntimeError(message)

        monkeypatch.setattr(ThreadPoolExecutor, "submit", refuse)
        assert_one_line_error(cli("eval", path, "--runtime", "scipy", input="3 1 2\n",
                                  ok=False), fragment, code=code)


# -- sizes before work: huge valid specs ----------------------------------------------------


def test_a_spec_too_big_for_the_machine_is_refused_before_building(tmp_path):
    r = run_reluc("build", "identity n=1000000 depth=1000", "-o", tmp_path / "i.onnx",
                  timeout=30)
    assert_one_line(r, "needs at least", "GiB of memory", "1999000000 nonzero weights")
    assert list(tmp_path.iterdir()) == []


def test_a_streamed_spec_too_big_for_the_memory_is_refused_before_building(tmp_path):
    # sort n=2^20 streams its layers, but its comparator schedule alone takes more than
    # the 3 GiB the subprocess may use (it used to run for minutes to "out of memory")
    r = run_reluc("build", "sort n=1048576", "-o", tmp_path / "s.onnx", timeout=30)
    assert_one_line(r, "needs at least", "neurons, streamed", "GiB available")
    assert list(tmp_path.iterdir()) == []


def test_the_stream_memory_estimate_stays_below_what_a_build_takes():
    from reluc import budget, registry
    from reluc.spec import parse_text

    spec = registry.resolve(parse_text("sort n=262144"))
    need, _ = budget.memory_at_least(spec, budget.nonzeros_at_least(spec))
    assert 0.3e9 < need < 1.1e9  # measured peak: 1.1 GB (README, Scale)


def test_a_wide_norm_is_built_in_its_nonzeros_not_its_width_squared(tmp_path):
    # dense rows would make the first layer 65536 x 16384 floats, 8 GiB, past the 3 GiB
    # the subprocess may use; its nonzeros are 131072
    r = run_reluc("build", "norm n=16384 levels=2", "-o", tmp_path / "n.onnx", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "width 32768" in r.stderr


@pytest.mark.parametrize("spec, size, fragment", [
    ("sort n=1024", "100K", "--max-size 100.0 KiB"),  # refused from the formulas
    ("pwl points=0:0,1:1,2:0", "20", "more than --max-size 20 bytes"),  # no formulas: shape
])
def test_max_size_refuses_before_writing(cli, tmp_path, spec, size, fragment):
    out = tmp_path / "x.onnx"
    r = cli("build", spec, "-o", out, "--max-size", size, ok=False)
    assert_one_line_error(r, fragment)
    assert not out.exists()
    cli("build", spec, "-o", out, "--max-size", "1G", "-q")
    assert out.exists()


@pytest.mark.parametrize("target", ["x.onnx", "x.npz", "-"])
def test_max_size_holds_while_the_file_is_written(cli, tmp_path, target):
    # sort n=1024 takes 2.7 MB sparse, 5.6 MB as .npz; its lower bounds before writing
    # (0.9 MB from the formulas, 1.1-2.2 MiB from the stream's shape) fit in 2.5M, so
    # the writer finds out as it writes
    out = tmp_path / target
    if target != "-":
        out.write_bytes(b"old")
    r = cli("build", "sort n=1024", "-o", "-" if target == "-" else out, "--layout", "sparse",
            "--max-size", "2.5M", ok=False)
    assert_one_line_error(r, "passed --max-size 2.5 MiB while it was written")
    assert r.stdout == "" if target == "-" else out.read_bytes() == b"old"  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if target == "-" else [target])


def test_max_size_lets_through_a_file_that_fits(cli, tmp_path):
    # the file stores one row of each negated pair: 451 158 bytes for 82 176 nonzeros,
    # under the 8 bytes a nonzero (657 408) that the formulas' bound took before
    out = tmp_path / "x.onnx"
    cli("build", "sort n=256 method=bitonic", "-o", out, "--layout", "sparse", "--max-size",
        "500K", "-q")
    assert 400_000 < out.stat().st_size <= 500 * 1024


@pytest.mark.parametrize("spec, fmt, layout", [
    ("sort n=64", "onnx", "sparse"), ("sort n=64 domain=0,1", "onnx", "sparse"),
    ("sort n=64", "npz", "auto"), ("sawtooth k=5", "onnx", "sparse"),
    ("topk n=12 k=3", "onnx", "sparse"), ("sort n=16", "onnx", "dense")])
def test_the_size_estimate_is_at_most_the_size_written(tmp_path, spec, fmt, layout):
    from reluc import budget, formats
    from reluc.compiler import compile_spec

    c = compile_spec(spec)
    out = tmp_path / f"x.{fmt}"
    chosen = formats.write(c, str(out), fmt, layout=layout).layout
    chosen = chosen if fmt == "onnx" else "csr"
    for source in (c.source, c.source.materialise()):  # as streamed, as held
        assert budget.file_size_estimate(source, "float32", fmt, chosen) <= out.stat().st_size
    if chosen == "dense":  # exact
        assert budget.file_size_estimate(c.net, "float32", fmt, chosen) > \
            out.stat().st_size - 4096


@pytest.mark.parametrize("size", ["12X", "-5", "G", "1e3"])
def test_a_bad_max_size_is_one_line(cli, tmp_path, size):
    r = cli("build", "sort n=4", "-o", tmp_path / "x.onnx", "--max-size", size, ok=False)
    assert_one_line_error(r, "cannot read the size")


@pytest.mark.parametrize("spec, free", [
    ("sort n=16", 500),  # refused from the formulas
    ("pwl points=0:0,1:1,2:0", 20),  # no formulas: refused from the network's shape
])
def test_a_full_file_system_is_found_before_writing(cli, tmp_path, monkeypatch, spec, free):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**6, 10**6 - free, free))
    r = cli("build", spec, "-o", tmp_path / "x.onnx", ok=False)
    assert_one_line_error(r, f"{free} bytes free")
    assert list(tmp_path.iterdir()) == []


def test_a_large_write_is_announced_with_its_size(cli, tmp_path, monkeypatch):
    from reluc import budget

    monkeypatch.setattr(budget, "LARGE_WRITE", 1000)
    r = cli("build", "sort n=16", "-o", tmp_path / "x.onnx", "--layout", "dense")
    assert "writing 37.2 KiB to " in r.stderr  # the weights; the file is 38.6 KiB
    r = cli("build", "sort n=16", "-o", tmp_path / "y.onnx", "--layout", "sparse")
    assert "writing at least " in r.stderr
    assert "writing" not in cli("build", "sort n=16", "-o", tmp_path / "z.onnx", "-q").stderr


# -- the fuzzer's own judge (make fuzz) -------------------------------------------------------

import hostile_cases as hc  # noqa: E402

FAKES = {
    "internal error": "import sys; sys.stderr.write('Traceback (most recent call last):\\n'); sys.exit(1)",
    "unclear error": "import sys; sys.stderr.write('Error: a\\nError: b\\n'); sys.exit(2)",
    "hang": "import time; time.sleep(30)",
    "crash (SIGKILL)": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    "lie": "print('1 nan 2')",
    "leftover": "open('out.onnx.tmp', 'w').write('x'); import sys; sys.stderr.write('Error: x\\n'); sys.exit(2)",
    "exit code": "import sys; sys.exit(5)",
    None: "import sys; sys.stderr.write('Error: fine\\n'); sys.exit(2)",
}


@pytest.mark.parametrize("promise", list(FAKES))
def test_the_fuzzers_judge_sees_each_broken_promise(tmp_path, promise):
    case = hc.Case("spec", ["eval" if promise == "lie" else "build"], build_target="out.onnx")
    fake = [sys.executable, "-c", FAKES[promise]]
    assert hc.judge(case, str(tmp_path), timeout=3, program=fake) == promise


@pytest.mark.parametrize("seed", range(3))
def test_a_sample_of_fuzz_cases_keeps_every_promise(tmp_path, seed):
    """Twelve cases of each generator (the make fuzz target runs them for minutes)."""
    import random

    rng = random.Random(seed)
    (tmp_path / "seeds").mkdir()
    (tmp_path / "run").mkdir()
    seeds = hc.seed_files(str(tmp_path / "seeds"))
    broken = []
    for make in (hc.spec_case, lambda r: hc.file_case(r, seeds), lambda r: hc.rows_case(r, seeds)):
        for _ in range(4):
            case = make(rng)
            promise = hc.judge(case, str(tmp_path / "run"))
            if promise:
                broken.append((promise, case.describe()))
    assert broken == []


@pytest.mark.parametrize("op", ["Gather", "Mul", "Gemm", "MatMul", "Sub"])
@pytest.mark.parametrize("command", ["stats", "eval"])
def test_an_operator_with_too_few_inputs_is_one_line(cli, tmp_path, op, command):
    # found by make fuzz (seed 7): a Relu of the sparse layout turned into a Gather
    path = build(cli, tmp_path, "sort n=4", "s.onnx", "--layout", "sparse")

    def fn(m):
        next(n for n in m.graph.node if n.op_type == "Relu").op_type = op

    edit_onnx(path, fn)
    assert_one_line_error(cli(command, path, input="1 2 3 4\n", ok=False), op)
