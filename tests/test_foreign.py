"""Networks reluc did not write: one ONNX file per exporter pattern, as torch (both
exporters), Keras through tf2onnx and the VNN-COMP benchmarks write them, built here
with onnx.helper (so the suite needs neither torch nor tensorflow). Each reads to the
right shape (``stats``) and evaluates (``eval``) to what onnxruntime computes on the
original file; graphs that are not ReLU networks are refused in one line naming the
node."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_one_line_error, edit_onnx

RNG = np.random.default_rng(11)
N_IN, HID, N_OUT = 6, 5, 3
W1 = RNG.normal(size=(HID, N_IN))  # (out, in), as torch.nn.Linear stores it
B1 = RNG.normal(size=HID)
W2 = RNG.normal(size=(N_OUT, HID))
B2 = RNG.normal(size=N_OUT)
MEAN, SCALE = RNG.normal(size=N_IN), RNG.uniform(0.5, 2.0, size=N_IN)


def t(a, name, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(a, dtype), name)


def onnx_file(path, nodes, inits, in_shape, out_shape, opset, ir, elem=TensorProto.FLOAT,
              inits_as_inputs=False):
    inputs = [helper.make_tensor_value_info("input", elem, in_shape)]
    if inits_as_inputs:  # (old exporters list every initializer as a graph input too)
        inputs += [helper.make_tensor_value_info(i.name, i.data_type, list(i.dims))
                   for i in inits]
    graph = helper.make_graph(nodes, "main_graph", inputs,
                              [helper.make_tensor_value_info("output", elem, out_shape)],
                              initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="exporter")
    m.ir_version = ir
    path.write_bytes(m.SerializeToString())
    return path


def n(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


def torch2(tmp_path):  # torch 2.x default exporter: IR 10, opset 20, Gemm(transB=1) + Relu
    return onnx_file(tmp_path / "t.onnx", [
        n("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
        n("Gemm", ["r", "fc2.weight", "fc2.bias"], ["output"], transB=1)],
        [t(W1, "fc1.weight"), t(B1, "fc1.bias"), t(W2, "fc2.weight"), t(B2, "fc2.bias")],
        ["batch", N_IN], ["batch", N_OUT], 20, 10)


def torch2_no_bias(tmp_path):  # bias=False: a two-input Gemm
    return onnx_file(tmp_path / "t.onnx", [
        n("Gemm", ["input", "fc1.weight"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
        n("Gemm", ["r", "fc2.weight"], ["output"], transB=1)],
        [t(W1, "fc1.weight"), t(W2, "fc2.weight")], ["batch", N_IN], ["batch", N_OUT], 20, 10)


def torch2_3d(tmp_path):  # a 3-D input [batch, 1, n]: MatMul (transpose folded) + Add
    return onnx_file(tmp_path / "t.onnx", [
        n("MatMul", ["input", "w1t"], ["m"]), n("Add", ["m", "fc1.bias"], ["h"]),
        n("Relu", ["h"], ["r"]), n("MatMul", ["r", "w2t"], ["m2"]),
        n("Add", ["m2", "fc2.bias"], ["output"])],
        [t(W1.T, "w1t"), t(B1, "fc1.bias"), t(W2.T, "w2t"), t(B2, "fc2.bias")],
        ["batch", 1, N_IN], ["batch", 1, N_OUT], 20, 10)


def torch2_image(tmp_path):  # Flatten of an image becomes Reshape
    return onnx_file(tmp_path / "t.onnx", [
        n("Reshape", ["input", "shape"], ["f"]),
        n("Gemm", ["f", "fc1.weight", "fc1.bias"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
        n("Gemm", ["r", "fc2.weight", "fc2.bias"], ["output"], transB=1)],
        [numpy_helper.from_array(np.array([-1, N_IN], np.int64), "shape"),
         t(W1, "fc1.weight"), t(B1, "fc1.bias"), t(W2, "fc2.weight"), t(B2, "fc2.bias")],
        ["batch", 1, 2, 3], ["batch", N_OUT], 20, 10)


def torch2_double(tmp_path):  # model.double(): DOUBLE everywhere
    return onnx_file(tmp_path / "t.onnx", [
        n("Gemm", ["input", "w1", "b1"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
        n("Gemm", ["r", "w2", "b2"], ["output"], transB=1)],
        [t(W1, "w1", np.float64), t(B1, "b1", np.float64), t(W2, "w2", np.float64),
         t(B2, "b2", np.float64)], ["batch", N_IN], ["batch", N_OUT], 20, 10,
        elem=TensorProto.DOUBLE)


def torch2_batch1(tmp_path):  # exported with a fixed batch of 1
    return onnx_file(tmp_path / "t.onnx", [
        n("Gemm", ["input", "w1", "b1"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
        n("Gemm", ["r", "w2", "b2"], ["output"], transB=1)],
        [t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2")], [1, N_IN], [1, N_OUT], 20, 10)


def torch_old(tmp_path):  # the older exporter, opset 17: Flatten + Gemm; bias=False: MatMul
    return onnx_file(tmp_path / "t.onnx", [
        n("Flatten", ["input"], ["f"], axis=1),
        n("Gemm", ["f", "w1", "b1"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
        n("MatMul", ["r", "w2t"], ["output"])],
        [t(W1, "w1"), t(B1, "b1"), t(W2.T, "w2t")], ["batch", N_IN], ["batch", N_OUT], 17, 8)


def keras(tmp_path):  # Keras 3 through tf2onnx: MatMul [in, out] + Add, no Add for a 0 bias
    return onnx_file(tmp_path / "t.onnx", [
        n("MatMul", ["input", "dense/kernel"], ["m"]), n("Add", ["m", "dense/bias"], ["h"]),
        n("Relu", ["h"], ["r"]), n("MatMul", ["r", "dense_1/kernel"], ["output"])],
        [t(W1.T, "dense/kernel"), t(B1, "dense/bias"), t(W2.T, "dense_1/kernel")],
        ["unk__6", N_IN], ["unk__7", N_OUT], 13, 7)


def acasxu(tmp_path):  # VNN-COMP acasxu: Sub before Flatten, input [1,1,1,n], IR 3, opset 8
    return onnx_file(tmp_path / "t.onnx", [
        n("Sub", ["input", "mean"], ["c"]), n("Flatten", ["c"], ["f"], axis=1),
        n("MatMul", ["f", "w1t"], ["m"]), n("Add", ["m", "b1"], ["h"]), n("Relu", ["h"], ["r"]),
        n("MatMul", ["r", "w2t"], ["m2"]), n("Add", ["m2", "b2"], ["output"])],
        [t(MEAN.reshape(1, 1, 1, N_IN), "mean"), t(W1.T, "w1t"), t(B1, "b1"), t(W2.T, "w2t"),
         t(B2, "b2")], [1, 1, 1, N_IN], [1, N_OUT], 8, 3, inits_as_inputs=True)


def mnist_fc(tmp_path):  # VNN-COMP mnist_fc: input [1, n, 1], Flatten + Gemm
    return onnx_file(tmp_path / "t.onnx", [
        n("Flatten", ["input"], ["f"], axis=1),
        n("Gemm", ["f", "w1", "b1"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
        n("Gemm", ["r", "w2", "b2"], ["output"], transB=1)],
        [t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2")], [1, N_IN, 1], [1, N_OUT], 11, 6)


def normalised(tmp_path):  # Div and Mul by constants, Identity, Dropout, Constant nodes,
    return onnx_file(tmp_path / "t.onnx", [  # Gemm with alpha, beta and transB=0
        n("Constant", [], ["scale"], value=t(SCALE, "scale")),
        n("Sub", ["input", "mean"], ["c"]), n("Div", ["c", "scale"], ["d"]),
        n("Mul", ["d", "two"], ["e"]), n("Identity", ["e"], ["i"]),
        n("Gemm", ["i", "w1t", "b1"], ["h"], alpha=0.5, beta=2.0), n("Relu", ["h"], ["r"]),
        n("Dropout", ["r"], ["o"]),
        n("Gemm", ["o", "w2", "b2"], ["output"], transB=1)],
        [t(MEAN, "mean"), t(np.float32(2.0), "two"), t(W1.T, "w1t"), t(B1, "b1"), t(W2, "w2"),
         t(B2, "b2")], ["batch", N_IN], ["batch", N_OUT], 17, 8)


def trans_a(tmp_path):  # activations transposed to [n, batch], then Gemm(transA=1)
    return onnx_file(tmp_path / "t.onnx", [
        n("Transpose", ["input"], ["xt"], perm=[1, 0]),
        n("Gemm", ["xt", "w1", "b1"], ["h"], transA=1, transB=1), n("Relu", ["h"], ["r"]),
        n("Gemm", ["r", "w2", "b2"], ["output"], transB=1)],
        [t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2")], ["batch", N_IN], ["batch", N_OUT],
        17, 8)


PATTERNS = {f.__name__: f for f in [torch2, torch2_no_bias, torch2_3d, torch2_image,
                                     torch2_double, torch2_batch1, torch_old, keras, acasxu,
                                     mnist_fc, normalised, trans_a]}


def ort_run(path, x: np.ndarray) -> np.ndarray:
    """The original file run by onnxruntime, a row at a time in its own input shape."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dtype = np.float64 if inp.type == "tensor(double)" else np.float32
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    return np.array([sess.run(None, {inp.name: row.astype(dtype).reshape(shape)})[0].ravel()
                     for row in x])


@pytest.mark.parametrize("name", list(PATTERNS))
def test_an_exported_network_reads_to_its_shape_and_evaluates_as_onnxruntime(cli, tmp_path,
                                                                            name):
    path = PATTERNS[name](tmp_path)
    s = json.loads(cli("stats", path, "--json").stdout)
    assert (s["inputs"], s["outputs"], s["widths"]) == (N_IN, N_OUT, [HID]), s
    x = RNG.normal(size=(20, N_IN)) * 2
    want = ort_run(path, x)
    for runtime in ("scipy", "ort"):  # reluc's reader, and the model's own input shape
        out = cli("eval", path, "--runtime", runtime,
                  input="\n".join(" ".join(repr(float(v)) for v in r) for r in x))
        got = np.array([[float(v) for v in line.split()] for line in out.stdout.splitlines()])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def gemm_relu(first_op=None):
    """torch's Gemm chain with ``first_op`` (node) in place of the first Relu."""
    act = first_op or n("Relu", ["h"], ["r"])
    return [n("Gemm", ["input", "w1", "b1"], ["h"], transB=1), act,
            n("Gemm", ["r", "w2", "b2"], ["output"], transB=1)]


INITS = [t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2")]
NOT_RELU = {
    "Sigmoid": (gemm_relu(n("Sigmoid", ["h"], ["r"], name="act1")), INITS,
                ["'Sigmoid'", "act1"]),
    "Tanh": (gemm_relu(n("Tanh", ["h"], ["r"], name="act1")), INITS, ["'Tanh'", "act1"]),
    "Conv": ([n("Conv", ["input", "k"], ["h"], name="conv1"), n("Relu", ["h"], ["r"]),
              n("Gemm", ["r", "w2", "b2"], ["output"], transB=1)],
             [t(np.ones((1, 1, 1)), "k"), t(W2, "w2"), t(B2, "b2")], ["'Conv'", "conv1"]),
    "residual Add": ([n("Gemm", ["input", "w1", "b1"], ["h"], transB=1),
                      n("Relu", ["h"], ["r"]), n("Add", ["r", "h"], ["s"], name="skip"),
                      n("Gemm", ["s", "w2", "b2"], ["output"], transB=1)], INITS,
                     ["skip", "Add", "single chain"]),
}


@pytest.mark.parametrize("name", list(NOT_RELU))
def test_a_graph_that_is_not_a_relu_network_is_refused_naming_the_node(cli, tmp_path, name):
    nodes, inits, fragments = NOT_RELU[name]
    path = onnx_file(tmp_path / "x.onnx", nodes, inits, ["batch", N_IN], ["batch", N_OUT], 17, 8)
    for command in ("stats", "regions"):
        assert_one_line_error(cli(command, path, input="1 2 3 4 5 6", ok=False), *fragments)
    # eval's own engine refuses it as they do (auto hands it to onnxruntime: below)
    assert_one_line_error(cli("eval", path, "--runtime", "scipy", input="1 2 3 4 5 6",
                              ok=False), *fragments)


@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "residual Add"])
def test_eval_runs_a_graph_reluc_cannot_read_through_onnxruntime(cli, tmp_path, name):
    nodes, inits, fragments = NOT_RELU[name]
    path = onnx_file(tmp_path / "x.onnx", nodes, inits, ["batch", N_IN], ["batch", N_OUT], 17, 8)
    x = RNG.normal(size=(7, N_IN)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    for runtime in ("auto", "ort"):
        result = cli("eval", path, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy",
                     "--runtime", runtime)
        assert np.array_equal(np.load(tmp_path / "y.npy"), want)
        note = result.stderr.strip()
        assert len(note.splitlines()) == 1 and "onnxruntime" in note, note
        assert all(f in note for f in fragments[:2]), note


def test_an_output_that_is_not_a_row_per_input_row_is_refused_in_one_line(cli, tmp_path):
    # a graph reluc cannot read (Sigmoid), whose output is transposed: onnxruntime gives
    # [outputs, batch]; 2 rows in, 3 rows out
    nodes = gemm_relu(n("Sigmoid", ["h"], ["r"], name="act1"))
    nodes[-1].output[0] = "o"
    nodes.append(n("Transpose", ["o"], ["output"], perm=[1, 0]))
    path = onnx_file(tmp_path / "t.onnx", nodes, INITS, ["batch", N_IN], [N_OUT, "batch"], 17, 8)
    assert N_OUT != 2
    rows = "\n".join(" ".join(["1"] * N_IN) for _ in range(2)) + "\n"
    r = cli("eval", path, input=rows, ok=False)
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()  # one line: the error, and why onnxruntime ran it
    assert len(lines) == 1 and lines[0].startswith("Error:"), lines
    assert "output of shape [3, 2] for 2 input rows" in lines[0]
    assert "reluc cannot read it either: unsupported ONNX operator 'Sigmoid'" in lines[0]


def test_onnxruntime_s_own_error_log_stays_out_of_stderr(tmp_path):
    # a graph only onnxruntime runs, failing while it runs (a constant of shape [4, 1]
    # broadcast against 2 rows): one Error line, without onnxruntime's logged copy of it
    # (written by its C++ logger to the process's stderr: a subprocess to see it)
    import subprocess
    import sys

    nodes = gemm_relu(n("Sigmoid", ["h"], ["s"], name="act1"))
    nodes.insert(2, n("Add", ["s", "c"], ["r"], name="add1"))
    inits = [*INITS, numpy_helper.from_array(np.ones((4, 1), np.float32), "c")]
    path = onnx_file(tmp_path / "b.onnx", nodes, inits, ["batch", N_IN], ["batch", N_OUT], 17, 8)
    rows = "\n".join(" ".join(["1"] * N_IN) for _ in range(2)) + "\n"
    r = subprocess.run([sys.executable, "-m", "reluc", "eval", str(path), "--runtime", "ort"],
                       input=rows, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()  # one line: the error, and why onnxruntime ran it
    assert r.returncode == 2 and len(lines) == 1 and "onnxruntime:" not in r.stderr, r.stderr
    assert lines[0].startswith("Error:") and "cannot run" in lines[0] \
        and "(reluc cannot read it either: unsupported ONNX operator 'Sigmoid'" in lines[0], lines


def test_a_damaged_graph_neither_engine_runs_gets_one_error_line(cli, tmp_path):
    # found by make fuzz: reluc's sparse sort n=4 with a Relu turned into a ReduceSum;
    # reluc's reader refuses it, onnxruntime fails running it: the note that onnxruntime
    # runs it would have come before the error (it comes after a run that worked)
    path = tmp_path / "net.onnx"
    cli("build", "sort n=4", "--layout", "sparse", "-o", path, "-q")

    def relu_to_reducesum(m):
        next(node for node in m.graph.node if node.name == "relu1").op_type = "ReduceSum"

    edit_onnx(path, relu_to_reducesum)
    r = cli("eval", path, input="3 1 2 0\n", ok=False)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("Error:"), lines
    assert "cannot run" in lines[0] and "operator 'ReduceSum' (node 'relu1')" in lines[0]


def test_a_reshape_that_is_not_a_flatten_is_refused(cli, tmp_path):
    nodes = [n("Reshape", ["input", "shape"], ["f"], name="reshape1"),
             n("Gemm", ["f", "w1", "b1"], ["h"], transB=1), n("Relu", ["h"], ["r"]),
             n("Gemm", ["r", "w2", "b2"], ["output"], transB=1)]
    for shape in ([-1, 3, 2], [2, -1], [-1, N_IN + 1]):
        inits = [numpy_helper.from_array(np.array(shape, np.int64), "shape"), *INITS]
        path = onnx_file(tmp_path / "r.onnx", nodes, inits, ["batch", N_IN], ["batch", N_OUT],
                         17, 8)
        assert_one_line_error(cli("stats", path, ok=False), "reshape1", "Reshape to")


def test_two_inputs_are_refused(cli, tmp_path):
    graph = helper.make_graph(
        [n("Add", ["a", "b"], ["s"]), n("Gemm", ["s", "w2", "b2"], ["output"], transB=1)], "g",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", HID]) for x in "ab"],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", N_OUT])],
        initializer=[t(W2, "w2"), t(B2, "b2")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    (tmp_path / "two.onnx").write_bytes(m.SerializeToString())
    assert_one_line_error(cli("stats", tmp_path / "two.onnx", ok=False), "2 inputs")


def test_a_keras_style_file_holding_sort4_verifies_against_its_spec(cli, tmp_path):
    from reluc import formats

    cli("build", "sort n=4", "-o", tmp_path / "s.npz", "-q")
    net, _ = formats.read(str(tmp_path / "s.npz"))
    nodes, inits, cur = [], [], "input"
    for i, layer in enumerate(net.layers):
        w = layer.weight.toarray()
        nodes.append(n("MatMul", [cur, f"k{i}"], [f"m{i}"]))
        inits.append(t(w.T, f"k{i}"))  # Keras stores [in, out]
        cur = f"m{i}"
        if np.any(layer.bias):
            nodes.append(n("Add", [cur, f"b{i}"], [f"a{i}"]))
            inits.append(t(layer.bias, f"b{i}"))
            cur = f"a{i}"
        if i < len(net.layers) - 1:
            nodes.append(n("Relu", [cur], [f"r{i}"]))
            cur = f"r{i}"
    nodes[-1].output[0] = "output"
    path = onnx_file(tmp_path / "keras.onnx", nodes, inits, ["unk", 4], ["unk", 4], 13, 7)
    r = cli("verify", path, "--spec", "sort n=4", "--json")
    report = json.loads(r.stdout)["files"][0]
    assert report["verdict"] in ("tested", "proved"), report
    assert report["checks"]["exact"]["max_error"] == "0"
    assert "(sort n=4" in cli("verify", path, "--spec", "sort n=4").stdout
    bad = cli("verify", path, "--spec", "sort n=5", ok=False)  # not what it computes
    assert bad.exit_code != 0


# -- reluc convert ----------------------------------------------------------------------


@pytest.mark.parametrize("name,out,extra", [
    ("torch2", "c.onnx", []), ("acasxu", "c.npz", ["--dtype", "float64"]),
    ("normalised", "c.onnx", ["--layout", "sparse"]), ("torch2_double", "c.onnx",
                                                        ["--dtype", "float32"]),
    ("mnist_fc", "c.npz", []),
])
def test_convert_writes_a_reluc_file_that_computes_what_the_original_does(cli, tmp_path, name,
                                                                          out, extra):
    import hashlib

    import onnx

    path = PATTERNS[name](tmp_path)
    r = cli("convert", path, "-o", tmp_path / out, *extra)
    assert "within the rounding bound" in r.stderr and "checked on 512 rows" in r.stderr
    s = json.loads(cli("stats", tmp_path / out, "--json").stdout)
    assert (s["inputs"], s["outputs"], s["widths"]) == (N_IN, N_OUT, [HID])
    assert s["origin"] == f"t.onnx sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    assert s["reluc_version"] is not None
    if out.endswith(".onnx"):
        onnx.checker.check_model(onnx.load(str(tmp_path / out)))
    x = RNG.normal(size=(30, N_IN))
    rows = "\n".join(" ".join(repr(float(v)) for v in r) for r in x)
    got = np.array([[float(v) for v in line.split()] for line in
                    cli("eval", tmp_path / out, input=rows).stdout.splitlines()])
    np.testing.assert_allclose(got, ort_run(path, x), rtol=1e-4, atol=1e-4)


def test_a_conversion_that_changes_the_network_is_refused_and_writes_nothing(cli, tmp_path,
                                                                            monkeypatch):
    # the check compares the new file with the original run by onnxruntime: a reader
    # that got one weight wrong must be caught
    from reluc import formats
    from reluc.net import Layer, Net

    path = torch2(tmp_path)
    read = formats.read

    def misread(source):
        net, info = read(source)
        first = net.layers[0]
        w = first.weight.toarray()
        w[0, 0] += 0.01
        return Net([Layer(w, first.bias), *net.layers[1:]]), info

    monkeypatch.setattr(formats, "read", misread)
    r = cli("convert", path, "-o", tmp_path / "c.onnx", ok=False)
    assert_one_line_error(r, "disagrees with", "nothing written")
    assert not (tmp_path / "c.onnx").exists()


def test_convert_refuses_what_it_cannot_read_or_write(cli, tmp_path):
    nodes, inits, _ = NOT_RELU["Sigmoid"]
    bad = onnx_file(tmp_path / "s.onnx", nodes, inits, ["batch", N_IN], ["batch", N_OUT], 17, 8)
    assert_one_line_error(cli("convert", bad, "-o", tmp_path / "c.onnx", ok=False), "Sigmoid")
    assert_one_line_error(cli("convert", torch2(tmp_path), "-o", "-", ok=False), "-o FILE")
    assert not (tmp_path / "c.onnx").exists()


def test_regions_and_plot_read_an_exported_network(cli, tmp_path):
    pytest.importorskip("matplotlib")
    path = acasxu(tmp_path)  # six inputs: a line and a plane through them
    a, b = "0,0,0,0,0,0", "1,-1,1/2,0,2,-1"
    r = json.loads(cli("regions", path, "--line", a, b, "--box", "-2:2", "--json").stdout)
    assert r["counts"]["full_dimensional_activation_regions"] >= 1
    plane = ["--plane", a, "1,0,0,0,0,0", "0,1,0,0,0,0", "--box", "-3:3"]
    c = json.loads(cli("regions", path, *plane, "--json").stdout)["counts"]
    cli("plot", path, "-o", tmp_path / "p.svg", *plane)
    svg = (tmp_path / "p.svg").read_text()
    assert svg.count("<path") >= c["full_dimensional_activation_regions"]
