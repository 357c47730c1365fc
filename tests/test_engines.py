"""``reluc eval``'s engines agree: reluc's reader with scipy (the default) and onnxruntime
(``--runtime ort``) give the same outputs bit for bit where they sum in the same order
(a row's terms one after another: ``.npz`` and reluc's sparse ONNX layout read by reluc;
onnxruntime on float32 sparse rows of at most 4 nonzeros), and within the file's
rounding bound where they do not (dense ``Gemm`` layers; the sparse layout's MatMul a row
over more than 4 slots, which onnxruntime sums in blocks, and in float64, where it fuses
each product with its sum), in both dtypes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_one_line_error, sparse_layout_model
from reluc import formats

SPECS = ["sort n=16", "mul L=6", "norm2 levels=8", "sincos L=6", "norm n=4 levels=6",
         "maxaffine planes=1,2,0;-1,1,1;0,-3,2"]


def rows_for(spec: str, n: int, count: int = 200) -> np.ndarray:
    """Inputs in the construction's domain ([0, 1] or [-1, 1] boxes are inside it), with
    values that are not exactly representable in float32 in general."""
    rng = np.random.default_rng(7)
    lo = 0.0 if spec.split()[0] in ("mul", "sincos") else -1.0
    return rng.uniform(lo, 1.0, size=(count, n))


def run(cli, tmp_path, path, x, *extra):
    np.save(tmp_path / "x.npy", x)
    cli("eval", path, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", *extra)
    return np.load(tmp_path / "y.npy")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", SPECS)
def test_the_engines_agree_on_every_layout(cli, tmp_path, spec, dtype):
    sparse, dense, npz = (tmp_path / f"n.{e}" for e in ("sparse.onnx", "dense.onnx", "npz"))
    for path, layout in ((sparse, ["--layout", "sparse"]), (dense, ["--layout", "dense"]),
                         (npz, [])):
        cli("build", spec, "-o", path, "--dtype", dtype, "-q", *layout)
    s = json.loads(cli("stats", sparse, "--json").stdout)
    x = rows_for(spec, s["inputs"]).astype(dtype).astype(np.float64)
    mine = run(cli, tmp_path, sparse, x)
    assert mine.dtype == np.dtype(dtype)
    # same order of summation: the same bits
    assert np.array_equal(run(cli, tmp_path, sparse, x, "--runtime", "scipy"), mine)
    assert np.array_equal(run(cli, tmp_path, npz, x), mine)
    # onnxruntime sums in its own order (dense Gemm; the sparse layout's MatMul over the
    # slots); every order is within the file's rounding bound of the exact network, so
    # within twice it of reluc's
    for path in (sparse, dense):
        ours, theirs = run(cli, tmp_path, path, x), run(cli, tmp_path, path, x, "--runtime", "ort")
        assert theirs.dtype == np.dtype(dtype)
        gap = np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max()
        rounding = s["rounding"]
        if rounding is None:  # exact constructions: exact in either order on these rows?
            assert s["exact"] and gap <= np.abs(theirs).max() * 8 * np.finfo(dtype).eps, gap
        else:
            assert gap <= 2 * float(rounding["at_most"]), (gap, rounding)


def test_the_engines_agree_bit_for_bit_on_a_wide_sparse_network(cli, tmp_path):
    # sums of several terms, in float32, on rows that are not integers: any other order
    # of summation would show (norm n=16: 4 levels of blocks, K up to 4, which
    # onnxruntime's MatMul a row sums one after another in float32)
    path = tmp_path / "n.onnx"
    cli("build", "norm n=16 levels=7", "-o", path, "--layout", "sparse", "-q")
    x = np.random.default_rng(3).normal(size=(300, 16)).astype(np.float32).astype(np.float64)
    mine, theirs = run(cli, tmp_path, path, x), run(cli, tmp_path, path, x, "--runtime", "ort")
    assert np.array_equal(mine, theirs)
    as64 = mine.astype(np.float64)
    assert not np.array_equal(as64, np.linalg.norm(x, axis=1, keepdims=True))  # not trivial


def test_runtime_ort_needs_an_onnx_file(cli, tmp_path):
    cli("build", "sort n=3", "-o", tmp_path / "s.npz", "-q")
    assert_one_line_error(cli("eval", tmp_path / "s.npz", "--runtime", "ort", input="3 1 2\n",
                              ok=False), "--runtime ort", ".npz")
    assert cli("eval", tmp_path / "s.npz", "--runtime", "scipy", input="3 1 2\n").stdout == \
        "1 2 3\n"


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_a_runtime_opened_for_a_caller_that_reads_the_file_runs_it_the_same(cli, tmp_path,
                                                                            layout):
    """verify reads the file in its own pass and opens onnxruntime with the width and
    dtype it knows (``known``): the same outputs as a runner that read the file; a dtype
    that is not the graph's is refused, as is a width no shape of its input holds."""
    from reluc.analysis.evaluate import Runner
    from reluc.errors import NetworkFileError

    path = str(tmp_path / "s.onnx")
    cli("build", "sort n=16", "-o", path, "-q", "--layout", layout)
    x = rows_for("sort", 16, 40) * 1000
    read = Runner(path, runtime="ort")
    known = Runner(path, runtime="own", known=(16, "float32"))
    assert known.runtime == "ort" and np.array_equal(known(x), read(x))
    for wrong in ((16, "float64"), (15, "float32")):
        with pytest.raises(NetworkFileError, match="onnxruntime sees the input"):
            Runner(path, runtime="ort", known=wrong)
    npz = str(tmp_path / "s.npz")  # scipy reads the file all the same, limit and all
    cli("build", "sort n=16", "-o", npz, "-q")
    runner = Runner(npz, runtime="own", known=(16, "float32"))
    assert runner.runtime == "scipy" and runner.limit < np.inf
    assert np.array_equal(runner(x), read(x))


def test_eval_of_a_file_reluc_reads_does_not_start_onnxruntime(cli, tmp_path):
    # the default engine is reluc's: onnxruntime (0.2 s to import, slower to run) stays
    # out; --runtime ort brings it in
    cli("build", "sort n=3", "-o", tmp_path / "s.onnx", "-q")
    script = ("import sys\nfrom reluc.cli import main\n"
              "main(sys.argv[1:], standalone_mode=False)\n"
              "print('onnxruntime' in sys.modules, file=sys.stderr)\n")
    for extra, started in (([], "False"), (["--runtime", "ort"], "True")):
        r = subprocess.run([sys.executable, "-c", script, "eval", str(tmp_path / "s.onnx"),
                            *extra], input="3 1 2\n", capture_output=True, text=True,
                           timeout=60)
        assert r.stdout == "1 2 3\n" and r.stderr.strip() == started, (r.stdout, r.stderr)


@pytest.mark.parametrize("idx, val, nonzeros", [
    ([[0, 2, 0]], [[1, 5, 0]], 2),  # as reluc writes it: counted from the values
    ([[1, 1, 0]], [[2, 3, 0]], 1),  # one column twice: one weight, 5
    ([[1, 0, 1]], [[2, 0, 3]], 1),  # the same, past padding in the middle
    ([[2, 2, 2]], [[2, -3, 1]], 0),  # three entries that cancel: no weight at all
    ([[2, 0, 0], [0, 1, 0]], [[4, 0, 0], [6, 7, 0]], 3),  # each row rises; rows do not
    ([[2, 0, 1]], [[1, 1, 1]], 3),  # unordered but distinct
    # the same in a second row (tables of more than one row and slot are laid out
    # differently in memory in each form)
    ([[0, 1, 0], [1, 1, 0]], [[1, 1, 0], [2, 3, 0]], 3),
    ([[0, 1, 0], [1, 0, 1]], [[1, 1, 0], [2, 0, 3]], 3),
])
@pytest.mark.parametrize("form", ["product", "slots", "rows"])
def test_stats_counts_a_sparse_layout_s_weights_once_each(cli, tmp_path, idx, val, nonzeros,
                                                          form):
    # stats counts the nonzero values of reluc's tables, when every row has its nonzeros
    # first in rising columns; anything else is read as the matrix it sums to; in the
    # layout as written now (a product a row) and as earlier versions wrote it
    path = tmp_path / "h.onnx"
    path.write_bytes(sparse_layout_model([(idx, val, np.zeros(len(idx)))], 3, form)
                     .SerializeToString())
    s = json.loads(cli("stats", path, "--json").stdout)
    assert s["nonzero_weights"] == nonzeros
    assert nonzeros == sum(layer.weight.nnz for layer in formats.read(str(path))[0].layers)


@pytest.mark.parametrize("alpha, big, nonzeros", [(1.0, 1, 3), (0.5, 1, 3), (0.0, 1, 0),
                                                (1.0, 1e38, 3)])
def test_stats_counts_a_gemm_s_weights_as_scaled(cli, tmp_path, alpha, big, nonzeros):
    # a lone Gemm is counted from its matrix, as long as alpha leaves it as it is; weights
    # whose sum overflows (finite each) are counted too
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W"], ["y"], alpha=alpha)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        initializer=[numpy_helper.from_array(np.array([[1, 0], [2, 3]], np.float32) * big,
                                             "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (tmp_path / "g.onnx").write_bytes(model.SerializeToString())
    r = subprocess.run([sys.executable, "-m", "reluc", "stats", str(tmp_path / "g.onnx"),
                        "--json"], capture_output=True, text=True, timeout=60)
    s = json.loads(r.stdout)
    assert s["nonzero_weights"] == nonzeros and s["nonzero_biases"] == 0
    assert not r.stderr  # no warning of the overflowing sum


@pytest.mark.parametrize("form", ["product", "slots", "rows"])
def test_a_sparse_layout_with_unordered_and_repeated_columns_reads_as_its_sum(cli, tmp_path,
                                                                               form):
    # reluc writes each row's columns in increasing order; another writer (or a hand)
    # may not: row 0 reads x2 then x0, row 1 reads x1 twice (2 x1 + 3 x1), row 2 pads
    # in the middle. Read as the sum it is, whichever engine runs it.
    idx = np.array([[2, 0, 0], [1, 1, 0], [0, 0, 2]], np.int32)
    val = np.array([[1, -4, 0], [2, 3, 0], [5, 0, 7]], np.float32)
    (tmp_path / "h.onnx").write_bytes(sparse_layout_model([(idx, val, np.zeros(3))], 3, form)
                                      .SerializeToString())
    s = json.loads(cli("stats", tmp_path / "h.onnx", "--json").stdout)
    assert s["nonzero_weights"] == 5  # (2, 0), (1), (0, 2): x1's two entries are one
    x = np.array([[1, 10, 100], [-3, 2, 5]], np.float64)
    want = np.array([[100 - 4, 50, 5 + 700], [5 + 12, 10, -15 + 35]])
    for runtime in ("scipy", "ort"):
        assert np.array_equal(run(cli, tmp_path, tmp_path / "h.onnx", x, "--runtime", runtime),
                              want)


def test_auto_runs_a_large_dense_graph_through_onnxruntime(cli, tmp_path):
    # a dense exported MLP (2^20 weights, all nonzero): onnxruntime's Gemm beats CSR
    # products, and gives the file's own results, so auto takes it: the same bits as
    # onnxruntime run directly, and onnxruntime started
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    w0 = rng.normal(size=(1024, 1024)).astype(np.float32) / 32
    w1 = rng.normal(size=(2, 1024)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "W0", "B0"], ["z"], transB=1),
             helper.make_node("Relu", ["z"], ["h"]),
             helper.make_node("Gemm", ["h", "W1", "B1"], ["y"], transB=1)]
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w0, "W0"), (np.zeros(1024, np.float32), "B0"), (w1, "W1"),
              (np.zeros(2, np.float32), "B1"))]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["batch", 1024])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["batch", 2])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "mlp.onnx"
    path.write_bytes(model.SerializeToString())
    x = rng.uniform(-1, 1, size=(50, 1024)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    assert np.array_equal(run(cli, tmp_path, path, x.astype(np.float64)), want)
    np.save(tmp_path / "x.npy", x)
    script = ("import sys\nfrom reluc.cli import main\n"
              "main(sys.argv[1:], standalone_mode=False)\n"
              "print('onnxruntime' in sys.modules, file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", script, "eval", str(path), "-i",
                        str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")],
                       capture_output=True, text=True, timeout=60)
    assert r.stderr.strip() == "True", r.stderr


@pytest.mark.parametrize("runtime", ["scipy", "ort"])
def test_rows_past_the_input_limit_are_checked_a_chunk_at_a_time(cli, tmp_path, runtime):
    # rows past the limit are computed by reluc with every partial sum checked; they go
    # a chunk of rows at a time like the others, so their memory stays bounded: with
    # chunks of 3 rows, 10 such rows come out as they do in one piece
    from reluc.analysis.evaluate import Runner

    cli("build", "sort n=4", "-o", tmp_path / "s.onnx", "-q")
    runner = Runner(str(tmp_path / "s.onnx"), runtime=runtime)
    rng = np.random.default_rng(2)
    x = np.array([rng.permutation([runner.limit * 1.5, -3.0, 1.0, 2.0]) for _ in range(10)])
    x[5] = [4, 3, 2, 1]  # one row within the limit among them
    whole = runner(x)
    runner.chunk = 3
    chunked = runner(x)
    assert np.array_equal(chunked, whole) and chunked.shape == (10, 4)
    assert np.array_equal(chunked[5], [1, 2, 3, 4])  # each row in its place
    assert np.all(np.delete(chunked[:, 3], 5) == np.float32(runner.limit * 1.5))
    # each layer's sizes in pieces of 2 rows (over the cores) within chunks of 5
    runner.chunk, runner._check_rows = 5, 2
    assert np.array_equal(runner(x), whole)


@pytest.mark.parametrize("idx", [np.array([[0, 1], [2, 3]], np.int64),  # past x's 3 values
                                 np.array([[0, 1], [2, 1]], np.float32),  # not integers
                                 np.zeros((2, 2), np.float64),  # (as unsigned bits: 0)
                                 # onnxruntime counts from the end; reluc writes none
                                 np.array([[0, 1], [-1, 2]], np.int64),
                                 np.array([[0, -3], [2, 1]], np.int32)])
def test_gather_indices_that_are_not_columns_are_refused(cli, tmp_path, idx):
    path = tmp_path / "g.onnx"
    path.write_bytes(sparse_layout_model([(idx, np.ones((2, 2)), np.zeros(2))], 3)
                     .SerializeToString())
    assert_one_line_error(cli("stats", path, ok=False), "bad gather indices")


@pytest.mark.parametrize("op", ["MatMul", "Gemm"])
def test_a_large_mostly_zero_dense_matrix_reads_as_its_nonzeros(cli, tmp_path, op):
    # 600 x 500 weights (more than one block of the reader's nonzero search), 1% nonzero,
    # with the last weight nonzero, negative zeros, and rows with nothing: integer weights
    # and rows, so the outputs are exact
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    w = (rng.random((600, 500)) < 0.01) * rng.integers(-3, 4, size=(600, 500))
    w[-1, -1], w[:7] = 5, 0
    w = w.astype(np.float32)
    w[8, :3] = -0.0
    mat, kw = (w.T, {}) if op == "MatMul" else (w, {"transB": 1})
    graph = helper.make_graph(
        [helper.make_node(op, ["x", "W"], ["z"], **kw), helper.make_node("Relu", ["z"], ["y"])],
        "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 500])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 600])],
        initializer=[numpy_helper.from_array(np.ascontiguousarray(mat), "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "big.onnx"
    path.write_bytes(model.SerializeToString())
    x = rng.integers(-2, 3, size=(40, 500)).astype(np.float64)
    x[:, -1] = 1  # the last weight counts in every row
    want = np.maximum(x @ w.astype(np.float64).T, 0)
    got = run(cli, tmp_path, path, x, "--runtime", "scipy")
    assert np.array_equal(got, want)


def test_onnxruntime_opens_models_with_large_blocks_mapped(cli, tmp_path, monkeypatch):
    # the CLI's malloc keeps arrays under 32 MiB in its heap (reluc.budget.keep_memory);
    # onnxruntime opened the dense sort n=1024 file in 2.2 s and 1.84 GB that way, in 0.9 s
    # and 1.01 GB with blocks from 128 KiB up mapped, as glibc does by default
    import onnxruntime

    from reluc import budget
    from reluc.analysis.evaluate import Runner

    cli("build", "sort n=4", "-o", tmp_path / "s.onnx", "-q")  # (the CLI calls keep_memory)
    if not budget.keep_memory():
        pytest.skip("glibc's malloc only")
    thresholds, real_mallopt = [budget.MMAP_BYTES], budget._mallopt

    def mallopt(param, value):  # glibc's, and what the mmap threshold is now
        if param == budget.M_MMAP_THRESHOLD:
            thresholds.append(value)
        return real_mallopt(param, value)

    seen, real = [], onnxruntime.InferenceSession
    monkeypatch.setattr(budget, "_mallopt", mallopt)
    monkeypatch.setattr(onnxruntime, "InferenceSession",
                        lambda *a, **k: seen.append(thresholds[-1]) or real(*a, **k))
    runner = Runner(str(tmp_path / "s.onnx"), runtime="ort")
    assert seen == [128 << 10]  # mapped from 128 KiB while it opens the file
    assert thresholds[-1] == budget.MMAP_BYTES  # and keep_memory's heap again after
    assert np.array_equal(runner(np.array([[3.0, 1, 2, 0]])), [[0, 1, 2, 3]])


@pytest.mark.parametrize("spec, rows", [("sort n=8", 256), ("max n=2048", 128),
                                         ("max n=8192", 64)])
def test_onnxruntime_gets_as_many_rows_a_call_as_keep_its_tensors_in_the_cache(
        cli, tmp_path, spec, rows):
    # 64 rows a call, doubled (to 256 at most) while a call's largest tensor stays within
    # 8 MiB: max n=2048 gathers 36 KiB a row (128 rows: 4.5 MiB), max n=8192 144 KiB
    from reluc.analysis import evaluate

    cli("build", spec, "-o", tmp_path / "n.onnx", "-q", "--layout", "sparse")
    runner = evaluate.Runner(str(tmp_path / "n.onnx"), runtime="ort")
    calls, run = [], runner._session.run
    runner._session = type("Session", (), {"run": lambda self, out, feed: (
        calls.append(len(next(iter(feed.values())))) or run(out, feed))})()
    x = np.random.default_rng(6).integers(-99, 99, size=(2 * rows, runner.n_in))
    assert np.array_equal(runner(x), [[v] for v in x.max(axis=1)] if spec[0] == "m"
                          else np.sort(x, axis=1))
    assert calls == [rows, rows]
    assert [evaluate.ort_rows(b) for b in (None, 1, 32 << 10, 32 << 10 | 1, 64 << 10,
                                           64 << 10 | 1, 1 << 30)] == \
        [64, 256, 256, 128, 128, 64, 64]


def test_onnxruntime_calls_run_one_thread_each_over_reluc_s_threads(cli, tmp_path):
    # onnxruntime's own two threads cost twice the CPU of one in some runs on a 2-core
    # machine; reluc runs the calls (64 rows each) over its threads instead, in order
    from reluc.analysis.evaluate import Runner

    cli("build", "sort n=8", "-o", tmp_path / "s.onnx", "-q", "--layout", "sparse")
    runner = Runner(str(tmp_path / "s.onnx"), runtime="ort")
    opts = runner._session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    x = np.random.default_rng(5).integers(-99, 99, size=(300, 8)).astype(np.float64)
    seen = []
    runner.chunk = 7
    y = runner(x, progress=lambda done, total: seen.append(done))
    assert np.array_equal(y, np.sort(x, axis=1))
    assert seen == [min(300, s + 7) for s in range(0, 300, 7)]
    # calls of even sizes, so that the calls over the cores end together: 300 rows in
    # calls of 128 at most are three calls of 100, not 128, 128 and 44
    seen.clear()
    runner.chunk = 128
    assert np.array_equal(runner(x, progress=lambda done, total: seen.append(done)), y)
    assert seen == [100, 200, 300]
