"""ONNX layouts (dense Gemm chain, sparse Gather/Mul/ReduceSum), external data, and the
choice --layout auto makes: every layout of a spec computes the same outputs, and every
reader reads every layout back to the same network."""

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import assert_one_line_error
from reluc import formats
from reluc.compiler import compile_spec

SPECS = ["sort n=13", "median n=9", "sawtooth k=4", "mul L=3", "norm n=4 levels=3",
         "pwl2d xs=0,1,2 ys=0,1 values=0,1,0;1,2,-1", "exp L=4"]


def _binary_weights(spec):
    """Weights with few significant bits: sums of grid inputs times them are exact."""
    net = compile_spec(spec, "float64").net
    for layer in net.layers:
        for a in (layer.weight.data, layer.bias):
            m, _ = np.frexp(a)
            if np.any(m * 2**20 != np.round(m * 2**20)):
                return False
    return True


def run(path, x):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x.astype(s.get_inputs()[0].type == "tensor(double)" and
                                      np.float64 or np.float32)})[0]


@pytest.mark.parametrize("spec", SPECS)
def test_dense_sparse_and_npz_give_identical_outputs(cli, tmp_path, spec):
    paths = {}
    for layout in ("dense", "sparse"):
        paths[layout] = tmp_path / f"{layout}.onnx"
        cli("build", spec, "-o", paths[layout], "--layout", layout, "--dtype", "float64")
    paths["npz"] = tmp_path / "n.npz"
    cli("build", spec, "-o", paths["npz"], "--dtype", "float64")
    for p in (paths["dense"], paths["sparse"]):
        onnx.checker.check_model(str(p), full_check=True)
    n = compile_spec(spec).net.n_in
    rng = np.random.default_rng(7)
    x = rng.integers(-64, 65, (40, n)) / 64.0
    dense, sparse = run(paths["dense"], x), run(paths["sparse"], x)
    rows = "\n".join(" ".join(repr(float(v)) for v in r) for r in x)
    outs = [cli("eval", p, input=rows).stdout for p in paths.values()]
    if _binary_weights(spec):
        # binary-fraction weights and inputs on a grid: every sum is exact in any order
        assert np.array_equal(dense, sparse)
        assert outs[0] == outs[1] == outs[2]
    else:  # irrational constants: the layouts sum in different orders, a few ulps apart
        assert np.allclose(dense, sparse, rtol=1e-13, atol=1e-13)
        got = [np.array([[float(v) for v in line.split()] for line in o.splitlines()])
               for o in outs]
        assert np.allclose(got[0], got[1], atol=1e-13) and np.allclose(got[0], got[2], atol=1e-13)
    # every reader gives back the same network, and stats agree
    nets = [formats.read(str(p))[0] for p in paths.values()]
    assert nets[0].equals(nets[1]) and nets[0].equals(nets[2])
    stats = [cli("stats", p, "--json").stdout for p in paths.values()]
    keys = ("depth", "widths", "neurons", "params", "nonzero_params", "spec")
    import json
    js = [json.loads(s) for s in stats]
    assert all({k: j[k] for k in keys} == {k: js[0][k] for k in keys} for j in js)


def test_sparse_file_is_smaller_and_stores_only_nonzeros(cli, tmp_path):
    d, s = tmp_path / "d.onnx", tmp_path / "s.onnx"
    cli("build", "sort n=128", "-o", d, "--layout", "dense")
    cli("build", "sort n=128", "-o", s, "--layout", "sparse")
    assert os.path.getsize(s) * 10 < os.path.getsize(d)
    ops = {n.op_type for n in onnx.load(str(s)).graph.node}
    assert ops == {"Transpose", "Gather", "Mul", "ReduceSum", "Add", "Relu"}


def test_auto_layout_says_which_it_chose(cli, tmp_path, monkeypatch):
    small = cli("build", "sort n=8", "-o", tmp_path / "a.onnx")
    assert "layout:" not in small.stderr
    assert {n.op_type for n in onnx.load(str(tmp_path / "a.onnx")).graph.node} == {"Gemm", "Relu"}
    monkeypatch.setattr(formats, "AUTO_DENSE_LIMIT", 1000)
    big = cli("build", "sort n=8", "-o", tmp_path / "b.onnx")
    assert "layout: sparse (dense weights" in big.stderr
    assert "Gather" in {n.op_type for n in onnx.load(str(tmp_path / "b.onnx")).graph.node}


def test_external_data_round_trips(cli, tmp_path):
    m = tmp_path / "m.onnx"
    out = cli("build", "sort n=16", "-o", m, "--external-data", "--layout", "dense")
    data = tmp_path / "m.onnx.data"
    assert data.exists() and "m.onnx.data" in out.stderr
    assert os.path.getsize(m) < 10_000 < os.path.getsize(data)
    onnx.checker.check_model(str(m))
    x = np.random.default_rng(1).integers(-1000, 1000, (20, 16)).astype(np.float32)
    assert np.array_equal(run(m, x), np.sort(x, axis=1))
    assert formats.read(str(m))[0].equals(compile_spec("sort n=16").net)
    assert cli("verify", m).exit_code == 0
    # same spec, same bytes, in both files
    m2 = tmp_path / "sub"
    m2.mkdir()
    cli("build", "sort n=16", "-o", m2 / "m.onnx", "--external-data", "--layout", "dense")
    assert (m2 / "m.onnx").read_bytes() == m.read_bytes()
    assert (m2 / "m.onnx.data").read_bytes() == data.read_bytes()


def test_stdout_refuses_a_model_that_needs_external_data(cli, tmp_path, monkeypatch):
    r = cli("build", "sort n=8", "-o", "-", "--external-data", ok=False)
    assert_one_line_error(r, "-o -")
    monkeypatch.setattr(formats, "PROTO_LIMIT", 100)  # as if the model passed 2 GiB
    r = cli("build", "sort n=8", "-o", "-", "--layout", "dense", ok=False)
    assert_one_line_error(r, "external data")
    assert r.stdout_bytes == b""
