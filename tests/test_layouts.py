"""ONNX layouts (dense Gemm chain, sparse Gather/Mul/MatMul), external data, and the
choice --layout auto makes: every layout of a spec computes the same outputs, and every
reader reads every layout back to the same network."""

import os
from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_one_line_error, build, data_file
from reluc import exact, formats, registry
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
    ops = [n.op_type for n in onnx.load(str(s)).graph.node]
    assert set(ops) == {"Transpose", "Gather", "MatMul", "Neg", "Concat", "Reshape", "Relu"}
    # no bias to add; every hidden layer's rows in negated pairs, each pair's sum made once
    assert ops.count("Neg") == ops.count("Concat") == ops.count("Relu") == 28


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
    data = data_file(m)
    assert data.name in out.stderr
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
    assert data_file(m2 / "m.onnx").read_bytes() == data.read_bytes()


def test_stdout_refuses_a_model_that_needs_external_data(cli, tmp_path, monkeypatch):
    r = cli("build", "sort n=8", "-o", "-", "--external-data", ok=False)
    assert_one_line_error(r, "-o -")
    monkeypatch.setattr(formats, "PROTO_LIMIT", 100)  # as if the model passed 2 GiB
    r = cli("build", "sort n=8", "-o", "-", "--layout", "dense", ok=False)
    assert_one_line_error(r, "external data")
    assert r.stdout_bytes == b""


# -- streaming: constructors that yield layers, writers that write them as they come --


@pytest.mark.parametrize("spec", ["sort n=1", "sort n=2", "sort n=11 method=bitonic",
                                  "sort n=16 method=oddeven", "sort n=13 domain=-3,9",
                                  "sort n=9 method=best domain=0.5,2", "topk n=12 k=3",
                                  "kth n=9 k=4 domain=-5,5", "median n=10", "median n=7",
                                  "median n=6 domain=-4,4",
                                  # shifts past 2^53: the declared values must be exact
                                  "sort n=2 domain=9007199254740995,9007199254741011",
                                  "median n=4 domain=-9007199254740995,9007199254741011"])
def test_streamed_comparator_networks_have_no_dead_neurons(spec):
    from reluc import passes
    from reluc.net import LayerStream

    c = compile_spec(spec)
    assert isinstance(c.source, LayerStream)  # nothing was built at compile time
    net = c.source.materialise()
    assert net.equals(passes.prune_dead(net))  # the pass the stream skips has nothing to do
    assert (net.depth, net.widths, net.params) == (c.source.depth, c.source.widths,
                                                    c.source.params)
    # the biases declared zero (the sparse layout leaves their Add out) are every zero one,
    # and the layers declared in negated pairs every such layer (on R: every hidden layer)
    assert c.source.zero_biases() == net.zero_biases()
    assert c.source.negated_pairs() == net.negated_pairs()
    assert any(net.negated_pairs()) == (c.domain.lo[0] is None and net.depth > 1)
    declared = set(c.source.values)
    for layer in net.layers:  # the values the compiler trusts for the cast decision,
        # compared exactly (a float equals an int only if it is that int)
        assert set(layer.weight.data) | set(layer.bias) <= declared
    rows = np.random.default_rng(3).integers(-9, 10, (30, net.n_in)).tolist()
    if c.domain.lo[0] is not None:
        rows = [[min(max(v, c.domain.lo[0]), c.domain.hi[0]) for v in r] for r in rows]
    ctor = registry.get(c.spec.name)
    want = [list(ctor.reference(c.spec.values, [Fraction(v) for v in r])) for r in rows]
    assert exact.evaluate(net, rows) == want


def test_a_stream_is_exact_in_a_dtype_only_if_its_declared_values_are():
    from reluc.compiler import stream_exact_in
    from reluc.net import LayerStream

    def stream(*values):
        return LayerStream(1, [1], lambda: iter(()), values=values)

    assert stream_exact_in(stream(0, 1, -(2**30)), "float32")
    assert not stream_exact_in(stream(0, 1, 2**30 + 1), "float32")
    assert stream_exact_in(stream(0, 1, 2**30 + 1), "float64")
    assert not stream_exact_in(stream(2**53 + 3), "float64")  # an int, never rounded first
    assert not stream_exact_in(stream(Fraction(1, 3)), "float64")
    assert not stream_exact_in(stream(10**40), "float32")  # beyond the range


@pytest.mark.parametrize("lo", [2**30 + 1, 2**53 + 3, -(2**53) - 3, Fraction(-7, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_bounded_domain_gives_an_exact_stream_in_either_dtype(lo, dtype):
    """The input shift is a bias: it must be a number of the file's dtype (it was
    floor(lo) rounded to float, declared rounded, and the file written exact: yes)."""
    c = compile_spec(f"sort n=3 domain={lo},{lo + 8}", dtype)
    assert c.exact and c.source.__class__.__name__ == "LayerStream"
    rows = [[lo, lo, lo], [lo + 8, lo, lo + 1], [lo + Fraction(1, 2), lo + 3, lo]]
    assert exact.evaluate(c.net, rows) == [sorted(r) for r in rows]


def test_stream_checks_its_declared_shape():
    from reluc.errors import NetworkError
    from reluc.net import Layer, LayerStream

    layer = Layer(np.eye(2), np.zeros(2))
    with pytest.raises(NetworkError, match="declared"):
        LayerStream(2, [3], lambda: iter([layer])).materialise()
    with pytest.raises(NetworkError, match="declared 2 layers"):
        LayerStream(2, [2, 2], lambda: iter([layer])).materialise()


def test_stream_checks_its_declared_zero_biases():
    from reluc.errors import NetworkError
    from reluc.net import Layer, LayerStream

    biased = Layer(np.eye(2), np.array([0.0, 1.0]))
    with pytest.raises(NetworkError, match="a bias, declared zero"):
        LayerStream(2, [2], lambda: iter([biased]), zero_bias=[True]).materialise()
    with pytest.raises(NetworkError, match="declares 2 biases"):
        LayerStream(2, [2], lambda: iter([biased]), zero_bias=[True, True])
    assert LayerStream(2, [2], lambda: iter([biased])).materialise().zero_biases() == (False,)


def test_a_layer_is_in_negated_pairs_only_if_each_odd_row_negates_the_row_before():
    from reluc.net import Layer, Net

    paired = np.array([[1.0, -1, 0], [-1, 1, 0], [0, 0, 2], [0, 0, -2]])
    assert Layer(paired, np.arange(4)).negated_pairs  # the biases aside
    for r, c, v in [(1, 1, 2.0), (3, 0, 1.0), (2, 2, 0.0)]:  # a value, an extra entry, a gap
        w = paired.copy()
        w[r, c] = v
        assert not Layer(w, np.zeros(4)).negated_pairs, (r, c, v)
    assert not Layer(paired[[0, 2, 1, 3]], np.zeros(4)).negated_pairs  # pairs out of order
    assert not Layer(paired[:3], np.zeros(3)).negated_pairs  # an odd count of rows
    assert Layer(np.zeros((2, 3)), np.zeros(2)).negated_pairs  # empty rows negate each other
    assert Net([Layer(paired, np.zeros(4)), Layer(np.ones((1, 4)), [0.0])]).negated_pairs() == \
        (True, False)


def test_a_layer_made_from_its_even_rows_is_the_layer_with_their_negations():
    import scipy.sparse as sp

    from reluc.net import Layer

    # duplicates (summed), a zero and columns out of order in the even rows as given
    even = sp.csr_array(([2.0, 1.0, -1.0, 0.0, 3.0, 1.0], [2, 0, 2, 1, 1, 1], [0, 3, 4, 6]),
                        shape=(3, 3))
    dense = even.toarray()
    layer = Layer.from_pairs(even, np.arange(6.0))
    want = Layer(np.stack([dense, -dense], axis=1).reshape(6, 3), np.arange(6.0))
    assert layer.equals(want) and layer.negated_pairs
    assert layer.weight.has_canonical_format
    assert np.array_equal(layer.weight.indices, want.weight.indices)
    assert np.array_equal(layer.even_rows.toarray(), dense)
    assert layer.even_rows.nnz * 2 == layer.weight.nnz  # its zero gone, its duplicates summed


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3), min_size=4, max_size=4), max_size=6))
def test_with_negations_puts_each_row_of_a_matrix_before_its_negation(rows):
    """Any even rows (empty rows, zero rows, no rows at all): row 2k is row k, row 2k + 1
    its negation, entry for entry, canonical as the rows are."""
    import scipy.sparse as sp

    from reluc.pairs import with_negations

    dense = np.array(rows, dtype=np.float64).reshape(-1, 4)
    even = sp.csr_array(dense)
    full = with_negations(even)
    want = np.stack([dense, -dense], axis=1).reshape(-1, 4)
    assert full.shape == want.shape and np.array_equal(full.toarray(), want)
    assert full.nnz == 2 * even.nnz and full.has_canonical_format
    assert np.array_equal(np.diff(full.indptr), np.repeat(np.diff(even.indptr), 2))


def test_with_negations_widens_the_index_arrays_where_the_entries_pass_int32(monkeypatch):
    """A layer of 2^30 nonzeros or more a half: its places would wrap around in int32
    (the threshold lowered here, instead of a matrix of 16 GB)."""
    import scipy.sparse as sp

    from reluc import pairs

    even = sp.csr_array(np.array([[1.0, 0, -2], [0, 0, 0], [3, 4, 0]]))
    assert pairs.with_negations(even).indptr.dtype == np.int32
    monkeypatch.setattr(pairs, "INT32_ENTRIES", 8)  # 2 x 4 entries: past it
    full = pairs.with_negations(even)
    assert full.indptr.dtype == full.indices.dtype == np.int64
    assert np.array_equal(full.toarray(), np.stack([even.toarray(), -even.toarray()],
                                                   axis=1).reshape(6, 3))


def test_the_input_limit_of_rows_in_pairs_is_bit_for_bit_that_of_all_rows(cli, tmp_path):
    from reluc.net import Layer
    from reluc.ranges import RangeBound

    rng = np.random.default_rng(5)
    made = [Layer.from_pairs(rng.integers(-3, 4, (6, 12)) * (rng.random((6, 12)) < 0.6),
                             rng.integers(-4, 60, 12) / 2) for _ in range(3)]  # lows > 0
    path = build(cli, tmp_path, "sort n=16", "s.onnx", "--layout", "sparse")
    read = list(formats.read_layers(str(path))[0])  # the file's pairs, read with even rows
    assert [la.even_rows is not None for la in read] == [True] * 9 + [False]  # 9 stages
    first = Layer(np.eye(12, 5), np.zeros(12))
    for layers in ([first] + made + [Layer(np.ones((1, 12)), [0.0])], read):
        plain = [Layer(la.weight, la.bias) for la in layers]  # the same, without even rows
        assert plain[1].even_rows is None and plain[1].equals(layers[1])
        bounds = []
        for source in (layers, plain):
            bound = RangeBound("float32")
            for la in source:
                bound.add(la)
            bounds.append(bound)
        paired, whole = bounds
        for name in ("l0", "h0", "c", "lo", "hi", "safe"):
            assert np.array_equal(getattr(paired, name), getattr(whole, name)), name
        assert paired.r == whole.r and paired.limit() == whole.limit()


def test_a_stream_declared_in_pairs_that_is_not_is_refused_when_written(tmp_path):
    from reluc.compiler import Compiled
    from reluc.errors import NetworkError
    from reluc.net import Layer, LayerStream

    rows = np.array([[1.0, 2.0], [-1.0, -2.0], [0.0, 1.0], [0.0, 1.0]])  # the second: equal
    stream = LayerStream(2, [4, 1], lambda: iter([Layer(rows, np.zeros(4)),
                                                  Layer(np.ones((1, 4)), [0.0])]),
                         values=(0.0, 1.0, -1.0, 2.0, -2.0), pairs=[True, False])
    c = compile_spec("sort n=2")
    c = Compiled(spec=c.spec, source=stream, domain=c.domain, dtype="float32", exact=True,
                 error_bound=Fraction(0), dtype_rounded=False)
    with pytest.raises(NetworkError, match="layer 0 has rows that are not in negated pairs"):
        formats.write(c, str(tmp_path / "s.onnx"), "onnx", layout="sparse")
    assert not os.listdir(tmp_path)  # nothing half-written
    with pytest.raises(NetworkError, match="declares 2 biases and 1 row pairings"):
        LayerStream(2, [4, 1], stream.iter_layers, pairs=[True])


@pytest.mark.parametrize("spec", ["sort n=8", "sort n=8 domain=3,10", "median n=7 domain=-4,4",
                                  "topk n=9 k=2", "sawtooth k=4", "relu n=3"])
def test_the_sparse_layout_adds_only_biases_that_are_not_zero(cli, tmp_path, spec):
    """A layer whose bias is zero is its products alone, no Add and no B<i> (onnxruntime:
    9% of its time at sort n=65536); every other layer keeps its bias, and the file
    computes the same as the dense one and reads back to the same network."""
    sparse, dense = tmp_path / "s.onnx", tmp_path / "d.onnx"
    cli("build", spec, "-o", sparse, "--layout", "sparse")
    cli("build", spec, "-o", dense, "--layout", "dense")
    net = formats.read(str(dense))[0]
    model = onnx.load(str(sparse))
    onnx.checker.check_model(model, full_check=True)
    adds = [n.input[1] for n in model.graph.node if n.op_type == "Add"]
    biased = [f"B{i}" for i, layer in enumerate(net.layers) if layer.bias.any()]
    assert adds == biased
    assert sorted(t.name for t in model.graph.initializer if t.name.startswith("B")) == \
        sorted(biased)
    assert formats.read(str(sparse))[0].equals(net)
    x = np.random.default_rng(5).integers(-40, 41, (30, net.n_in)) / 4
    assert np.array_equal(run(sparse, x), run(dense, x))
    assert "tested" in cli("verify", sparse).stdout


def test_layers_made_ahead_by_a_worker_pass_errors_and_stop_early():
    from reluc.net import prefetch

    def items():
        yield 1
        yield 2
        raise ValueError("constructor bug")

    got = []
    with pytest.raises(ValueError, match="constructor bug"):
        for v in prefetch(items(), 1):
            got.append(v)
    assert got == [1, 2]
    endless = prefetch(iter(range(10**9)), 2)  # the consumer stops: the worker must too
    assert [next(endless) for _ in range(3)] == [0, 1, 2]
    endless.close()


@pytest.mark.parametrize("fmt,layout", [("onnx", "sparse"), ("onnx", "dense"), ("npz", "auto")])
def test_stdout_gets_the_same_bytes_as_a_file(cli, tmp_path, fmt, layout):
    path = tmp_path / f"s.{fmt}"
    cli("build", "sort n=12", "-o", path, "--layout", layout)
    r = cli("build", "sort n=12", "-o", "-", "--format", fmt, "--layout", layout)
    assert r.stdout_bytes == path.read_bytes()


def test_npz_bytes_do_not_depend_on_the_clock(tmp_path, monkeypatch):
    import time
    import zipfile

    a = tmp_path / "a.npz"
    formats.write(compile_spec("sort n=6"), str(a), "npz")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 86400 * 400)
    b = tmp_path / "b.npz"
    formats.write(compile_spec("sort n=6"), str(b), "npz")
    assert a.read_bytes() == b.read_bytes()
    assert {i.date_time for i in zipfile.ZipFile(a).infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_sparse_model_past_the_limit_moves_to_external_data(cli, tmp_path, monkeypatch):
    # the sparse size is known only while writing: the writer starts again with the
    # data beside the model (to a file) or refuses (on stdout)
    monkeypatch.setattr(formats, "PROTO_LIMIT", 3000)
    m = tmp_path / "m.onnx"
    out = cli("build", "sort n=16", "-o", m, "--layout", "sparse")
    assert data_file(m).name in out.stderr
    x = np.random.default_rng(2).integers(-99, 99, (5, 16)).astype(np.float32)
    assert np.array_equal(run(m, x), np.sort(x, axis=1))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    r = cli("build", "sort n=16", "-o", "-", "--layout", "sparse", ok=False)
    assert_one_line_error(r, "external data")
    assert r.stdout_bytes == b""


def test_eval_runs_a_large_batch_in_chunks_with_the_same_result(tmp_path, monkeypatch):
    from reluc.analysis import evaluate

    path = tmp_path / "s.onnx"
    formats.write(compile_spec("sort n=32"), str(path), "onnx", layout="sparse")
    x = np.random.default_rng(5).integers(-500, 500, (70, 32)).astype(np.float64)
    whole = evaluate.Runner(str(path))
    # the widest tensor: Gather's output, 2n neurons x K slots (K <= 6) per row
    monkeypatch.setattr(evaluate, "CHUNK_BYTES", 64 * 6 * 4 * 8)
    chunked = evaluate.Runner(str(path))
    assert 8 <= chunked.chunk < 16 and whole.chunk >= 70
    seen = []
    y = chunked(x, lambda done, total: seen.append((done, total)))
    assert np.array_equal(y, whole(x)) and np.array_equal(y, np.sort(x, axis=1))
    assert seen[-1] == (70, 70) and len(seen) == -(-70 // chunked.chunk)


def test_a_pipe_or_device_target_is_written_into_never_replaced(cli, tmp_path):
    import stat
    import threading

    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    got = {}
    reader = threading.Thread(target=lambda: got.setdefault("bytes", fifo.read_bytes()))
    reader.start()
    cli("build", "sort n=4", "-o", fifo)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe, not a regular file
    cli("build", "sort n=4", "-o", tmp_path / "file.onnx")
    assert got["bytes"] == (tmp_path / "file.onnx").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".reluc-")]


# -- progress: on stderr when it is a terminal, never on stdout, silent with --quiet ------


def _run_with_terminal_stderr(args, cwd):
    """Run reluc with stderr on a pseudo-terminal and stdout on a pipe."""
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "reluc", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read()
    proc.wait()
    os.close(master)
    return proc.returncode, out, err.decode(errors="replace")


@pytest.mark.parametrize("quiet", [False, True])
def test_long_work_shows_progress_on_a_terminal_only(tmp_path, quiet):
    q = ["-q"] if quiet else []
    rc, out, err = _run_with_terminal_stderr(["build", "sort n=64", "-o", "s.onnx", *q],
                                             tmp_path)
    assert rc == 0 and out == b""
    assert ("writing:" in err and "/22 layers" in err) != quiet
    np.save(tmp_path / "x.npy", np.zeros((3, 64)))
    rc, out, err = _run_with_terminal_stderr(["eval", "s.onnx", "-i", "x.npy", "-o", "-"],
                                             tmp_path)
    assert rc == 0 and "evaluating:" in err and b"evaluating" not in out
    rc, out, err = _run_with_terminal_stderr(["verify", "s.onnx", *q], tmp_path)
    assert rc == 0 and (b"tested" in out) != quiet  # -q: nothing on success
    assert ("layers" in err and "exact check" in err) != quiet
    assert b"\r" not in out and b"layers" not in out


def test_no_progress_when_stderr_is_not_a_terminal(cli, tmp_path):
    r = cli("build", "sort n=64", "-o", tmp_path / "s.onnx")
    assert "\r" not in r.stderr and "writing:" not in r.stderr
    r = cli("verify", tmp_path / "s.onnx")
    assert "\r" not in r.stderr and "exact check" not in r.stderr


@pytest.mark.parametrize("fmt,layout", [("onnx", "sparse"), ("onnx", "dense"), ("npz", "auto")])
def test_writers_hold_only_a_few_layers_of_a_stream(tmp_path, fmt, layout):
    # the memory claim, checked structurally: while a 40-layer stream is written, at
    # most a handful of its layers are alive at once (not the whole network)
    import gc
    import weakref

    from reluc.compiler import Compiled
    from reluc.net import Layer, LayerStream

    alive, most = [], 0

    def make():
        nonlocal most
        rng = np.random.default_rng(0)
        for _ in range(40):
            gc.collect()
            most = max(most, sum(r() is not None for r in alive))
            layer = Layer(np.where(rng.random((16, 16)) < 0.3, 1.0, 0.0), np.zeros(16))
            alive.append(weakref.ref(layer))
            yield layer

    stream = LayerStream(16, [16] * 40, make, values=(0.0, 1.0))
    c = compile_spec("sort n=16")
    c = Compiled(spec=c.spec, source=stream, domain=c.domain, dtype="float32", exact=True,
                 error_bound=Fraction(0), dtype_rounded=False)
    written = formats.write(c, str(tmp_path / f"s.{fmt}"), fmt, layout=layout)
    assert written.size > 0 and len(alive) == 40
    assert most <= 4


@pytest.mark.parametrize("fmt", ["onnx", "npz"])
def test_stats_reads_a_few_layers_at_a_time(tmp_path, monkeypatch, fmt):
    import gc
    import weakref

    from reluc.analysis.stats import file_stats
    from reluc.formats import npzfile, onnxread
    from reluc.net import Layer

    path = tmp_path / f"s.{fmt}"
    formats.write(compile_spec("sort n=16 method=bitonic"), str(path), fmt, layout="sparse")
    alive, most = [], 0

    class Tracked(Layer):
        def __init__(self, *args, **kwargs):
            nonlocal most
            gc.collect()
            most = max(most, sum(r() is not None for r in alive))
            super().__init__(*args, **kwargs)
            alive.append(weakref.ref(self))

    monkeypatch.setattr(onnxread if fmt == "onnx" else npzfile, "Layer", Tracked)
    s = file_stats(str(path))
    # the sparse ONNX layout is counted from its tables: no layer is made at all
    assert s["depth"] == 11 and len(alive) == (0 if fmt == "onnx" else 11) and most <= 2
    assert s["nonzero_params"] == sum(layer.nnz for layer in compile_spec(
        "sort n=16 method=bitonic").source.iter_layers())
