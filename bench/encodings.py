"""How fast onnxruntime runs reluc's sparse networks, by encoding, rows per call and
threads (``make bench``): the same weights (sort n, read from a file reluc wrote) as

- ``product``: reluc's sparse layout (the file as written): per layer a Gather over
  ELLPACK tables padded to the longest row ([out, K]), giving [out, K, batch], and
  MatMul with the values ([out, 1, K]): a [1, K] x [K, batch] product a row, no
  intermediate array of products; in a layer whose rows come in negated pairs (every
  hidden layer of sort), the even rows' products alone, then Neg and Concat;
- ``product without pairs``: the same with every row's product made (as reluc wrote
  the layout before the pairs);
- ``slots``: the previous version's layout: the same tables slot by slot ([K, out]),
  Gather -> Mul, the slots summed by Reshape -> MatMul with ones -> Reshape;
- ``ell``: the same tables row by row ([out, K]) summed by ReduceSum over the slots'
  axis (the layout of earlier versions);
- ``grouped``: no padding: per layer the rows grouped by their number of nonzeros, one
  Gather -> Mul -> ReduceSum per group, a Concat, and a Gather putting the rows back in
  order;
- ``grouped products``: no padding: the rows grouped by their number of nonzeros, a
  Gather -> MatMul (a product a row, as ``product``) per group and one Concat; the rows
  left in the groups' order (each next layer's indices say where its inputs went), the
  last layer ungrouped;
- ``row tiles``: reluc's sparse layout with each layer's rows cut into tiles of
  ``TILE`` rows, a Gather -> MatMul per tile (each tile's table padded to the longest row
  of the layer) and one Concat: each tile's gathered array (2048 rows x K x 64 floats, 3
  MB) is still in the cache when its MatMul reads it, where a whole layer's is 200 MB at
  n=65536;
- ``signed``: no Mul, for weights of -1, 0 and 1 only (reluc's comparator networks):
  the slot tables of ``slots`` gather from ``[h; -h; 0]`` (a weight of -1 picks the
  negated feature, padding the zero row), summed by the same MatMul;
- ``dense``: Gemm (only where the dense weights are small enough);

each run on 1024 integer rows (``--rows``; outputs checked equal to numpy.sort), CPU
seconds of this process (the fastest of two), and the CPU seconds onnxruntime takes to
open the model. Results go to ``bench/out/encodings.md``.
Run: ``.venv/bin/python bench/encodings.py [--n 4096]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, RELUC  # noqa: E402


def _chain(layers, n_in: int, name: str, inits: list, per_layer) -> bytes:
    """The network whose layer ``i`` is laid out by ``per_layer(i, layer, h)``: its
    initializers and nodes, from the activations ``h`` (``[width, batch]``) to ``z<i>``;
    around them the Transposes, the ReLUs and the model (``inits``: shared constants)."""
    nodes = [helper.make_node("Transpose", ["x"], ["h0"], perm=[1, 0])]
    h = "h0"
    for i, layer in enumerate(layers):
        layer_inits, layer_nodes = per_layer(i, layer, h)
        inits, nodes = inits + layer_inits, nodes + layer_nodes
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [f"z{i}"], [f"h{i + 1}"]))
            h = f"h{i + 1}"
    nodes.append(helper.make_node("Transpose", [f"z{len(layers) - 1}"], ["y"], perm=[1, 0]))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", layers[-1].n_out])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _bias(layer, i: int):
    return numpy_helper.from_array(layer.bias.reshape(-1, 1).astype(np.float32), f"B{i}")


def ell_model(layers, n_in: int) -> bytes:
    """The network with one Gather-Mul-ReduceSum per layer (earlier versions' layout)."""
    from reluc.formats.ell import ell

    def per_layer(i, layer, h):
        idx, val = ell(layer.weight, np.int32, np.float32)
        return ([numpy_helper.from_array(idx, f"I{i}"),
                 numpy_helper.from_array(val[:, :, None], f"W{i}"), _bias(layer, i)],
                [helper.make_node("Gather", [h, f"I{i}"], [f"g{i}"], axis=0),
                 helper.make_node("Mul", [f"g{i}", f"W{i}"], [f"m{i}"]),
                 helper.make_node("ReduceSum", [f"m{i}", "axes"], [f"s{i}"], keepdims=0),
                 helper.make_node("Add", [f"s{i}", f"B{i}"], [f"z{i}"])])

    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    return _chain(layers, n_in, "ell", [axes], per_layer)


def slots_model(layers, n_in: int) -> bytes:
    """The network as the previous version wrote it: the slots summed by a MatMul."""
    from reluc.formats.ell import ell

    def per_layer(i, layer, h):
        idx, val = ell(layer.weight, np.int32, np.float32)
        k = idx.shape[1]
        return ([numpy_helper.from_array(np.ascontiguousarray(idx.T), f"I{i}"),
                 numpy_helper.from_array(np.ascontiguousarray(val.T)[:, :, None], f"W{i}"),
                 numpy_helper.from_array(np.ones((1, k), np.float32), f"K{i}"),
                 numpy_helper.from_array(np.array([layer.n_out, -1], np.int64), f"S{i}"),
                 _bias(layer, i)],
                [helper.make_node("Gather", [h, f"I{i}"], [f"g{i}"], axis=0),
                 helper.make_node("Mul", [f"g{i}", f"W{i}"], [f"m{i}"]),
                 helper.make_node("Reshape", [f"m{i}", "slots_shape"], [f"r{i}"]),
                 helper.make_node("MatMul", [f"K{i}", f"r{i}"], [f"s{i}"]),
                 helper.make_node("Reshape", [f"s{i}", f"S{i}"], [f"t{i}"]),
                 helper.make_node("Add", [f"t{i}", f"B{i}"], [f"z{i}"])])

    shape = numpy_helper.from_array(np.array([0, -1], np.int64), "slots_shape")
    return _chain(layers, n_in, "slots", [shape], per_layer)


def grouped_model(layers, n_in: int) -> bytes:
    """The network with one Gather-Mul-ReduceSum per group of rows of equal length."""

    def per_layer(i, layer, h):
        w = layer.weight
        counts = np.diff(w.indptr)
        inits, nodes, parts, order = [], [], [], []
        for c in np.unique(counts):
            rows = np.flatnonzero(counts == c)
            order.append(rows)
            if c == 0:  # an empty row: one slot, column 0 times 0
                idx = np.zeros((len(rows), 1), np.int32)
                val = np.zeros((len(rows), 1, 1), np.float32)
            else:
                take = (w.indptr[rows][:, None] + np.arange(c)).ravel()
                idx = w.indices[take].reshape(len(rows), c).astype(np.int32)
                val = w.data[take].reshape(len(rows), c, 1).astype(np.float32)
            inits += [numpy_helper.from_array(idx, f"I{i}_{c}"),
                      numpy_helper.from_array(val, f"W{i}_{c}")]
            nodes += [helper.make_node("Gather", [h, f"I{i}_{c}"], [f"g{i}_{c}"], axis=0),
                      helper.make_node("Mul", [f"g{i}_{c}", f"W{i}_{c}"], [f"m{i}_{c}"]),
                      helper.make_node("ReduceSum", [f"m{i}_{c}", "axes"], [f"s{i}_{c}"],
                                       keepdims=0)]
            parts.append(f"s{i}_{c}")
        inverse = np.argsort(np.concatenate(order)).astype(np.int32)
        inits += [numpy_helper.from_array(inverse, f"P{i}"), _bias(layer, i)]
        nodes += [helper.make_node("Concat", parts, [f"c{i}"], axis=0),
                  helper.make_node("Gather", [f"c{i}", f"P{i}"], [f"p{i}"], axis=0),
                  helper.make_node("Add", [f"p{i}", f"B{i}"], [f"z{i}"])]
        return inits, nodes

    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    return _chain(layers, n_in, "grouped", [axes], per_layer)


def _products(i: int, h: str, tables: list, bias: np.ndarray) -> tuple[list, list]:
    """Layer ``i`` from ``h`` to ``z<i>`` as a MatMul a row on parts of its rows: per
    part (``tables``: its index table and values, ``[rows, K]`` each, in the order of
    the layer's outputs) a Gather and a MatMul, one Concat of the parts, the Reshape to
    ``[out, batch]`` and, where the ``bias`` (in the same order) is not zero, its Add."""
    inits, nodes, parts = [], [], []
    for g, (idx, val) in enumerate(tables):
        inits += [numpy_helper.from_array(idx, f"I{i}_{g}"),
                  numpy_helper.from_array(val.reshape(len(val), 1, -1), f"W{i}_{g}")]
        nodes += [helper.make_node("Gather", [h, f"I{i}_{g}"], [f"g{i}_{g}"], axis=0),
                  helper.make_node("MatMul", [f"W{i}_{g}", f"g{i}_{g}"], [f"p{i}_{g}"])]
        parts.append(f"p{i}_{g}")
    if len(parts) > 1:
        nodes.append(helper.make_node("Concat", parts, [f"c{i}"], axis=0))
    inits.append(numpy_helper.from_array(np.array([len(bias), -1], np.int64), f"S{i}"))
    sums = f"t{i}" if bias.any() else f"z{i}"
    nodes.append(helper.make_node("Reshape", [nodes[-1].output[0], f"S{i}"], [sums]))
    if bias.any():
        inits.append(numpy_helper.from_array(bias.reshape(-1, 1).astype(np.float32), f"B{i}"))
        nodes.append(helper.make_node("Add", [sums, f"B{i}"], [f"z{i}"]))
    return inits, nodes


def grouped_products_model(layers, n_in: int) -> bytes:
    """reluc's MatMul a row without padding: per layer the rows grouped by their number of
    nonzeros, a Gather -> MatMul per group, one Concat; the rows stay in the groups'
    order (each next layer gathers by the new positions), the last layer is not grouped,
    so the outputs come in their own order."""
    import scipy.sparse as sp

    from reluc.formats.ell import ell

    state = {"pos": None}  # where each row of the previous layer's output went

    def per_layer(i, layer, h):
        w = layer.weight
        cols = w.indices if state["pos"] is None else state["pos"][w.indices]
        counts = np.diff(w.indptr)
        last = i == len(layers) - 1
        groups = [np.arange(layer.n_out)] if last else \
            [np.flatnonzero(counts == c) for c in np.unique(counts)]
        moved = sp.csr_array((w.data, cols, w.indptr), shape=w.shape)  # columns moved
        order = np.concatenate(groups)
        state["pos"] = np.argsort(order)
        # (the last layer: padded; the biases in the rows' order)
        return _products(i, h, [ell(moved[rows], np.int32, np.float32) for rows in groups],
                         layer.bias[order])

    return _chain(layers, n_in, "grouped products", [], per_layer)


TILE = 2048  # rows a tile (row tiles): 3 MB gathered a tile at 64 rows a call


def tiled_model(layers, n_in: int, tile: int = TILE) -> bytes:
    """reluc's MatMul a row with each layer's rows in tiles of ``tile``: a Gather ->
    MatMul per tile over the same padded tables, one Concat, then as reluc's layout."""
    from reluc.formats.ell import ell

    def per_layer(i, layer, h):
        idx, val = ell(layer.weight, np.int32, np.float32)
        return _products(i, h, [(idx[a:a + tile], val[a:a + tile])
                                for a in range(0, layer.n_out, tile)], layer.bias)

    return _chain(layers, n_in, "row tiles", [], per_layer)


def unpaired_model(layers, n_in: int) -> bytes:
    """reluc's MatMul a row with every row's product made (one tile of every row)."""
    return tiled_model(layers, n_in, tile=max(la.n_out for la in layers))


def signed_model(layers, n_in: int) -> bytes:
    """The network without a Mul: each layer gathers from ``[h; -h; 0]``."""
    from reluc.formats.ell import ell

    def per_layer(i, layer, h):
        idx, val = ell(layer.weight, np.int64, np.float32)
        assert np.all(np.isin(val, (-1, 0, 1))), "weights other than -1, 0, 1"
        width = layer.n_in
        idx = np.where(val > 0, idx, np.where(val < 0, idx + width, 2 * width))
        k = idx.shape[1]
        return ([numpy_helper.from_array(np.ascontiguousarray(idx.T.astype(np.int32)), f"I{i}"),
                 numpy_helper.from_array(np.ones((1, k), np.float32), f"K{i}"),
                 numpy_helper.from_array(np.array([layer.n_out, -1], np.int64), f"S{i}"),
                 _bias(layer, i)],
                [helper.make_node("Neg", [h], [f"n{i}"]),
                 helper.make_node("Slice", [h, "first", "one"], [f"f{i}"]),
                 helper.make_node("Mul", [f"f{i}", "zero"], [f"o{i}"]),  # the zero row
                 helper.make_node("Concat", [h, f"n{i}", f"o{i}"], [f"c{i}"], axis=0),
                 helper.make_node("Gather", [f"c{i}", f"I{i}"], [f"g{i}"], axis=0),
                 helper.make_node("Reshape", [f"g{i}", "keep"], [f"r{i}"]),
                 helper.make_node("MatMul", [f"K{i}", f"r{i}"], [f"q{i}"]),
                 helper.make_node("Reshape", [f"q{i}", f"S{i}"], [f"t{i}"]),
                 helper.make_node("Add", [f"t{i}", f"B{i}"], [f"z{i}"])])

    shared = [numpy_helper.from_array(np.array(v, np.int64), name) for name, v in
              (("first", [0]), ("one", [1]), ("keep", [0, -1]))]
    shared.append(numpy_helper.from_array(np.zeros((1, 1), np.float32), "zero"))
    return _chain(layers, n_in, "signed", shared, per_layer)


def cpu_run(model, x, chunk: int, threads: int) -> tuple[float, float, np.ndarray]:
    """CPU seconds to open the session, the fastest of two runs over ``x``, and its
    outputs."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    c = time.process_time()
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    opened = round(time.process_time() - c, 2)
    best, y = None, None
    for _ in range(2):
        c = time.process_time()
        y = np.concatenate([sess.run(None, {"x": x[i:i + chunk]})[0]
                            for i in range(0, len(x), chunk)])
        t = time.process_time() - c
        best = t if best is None else min(best, t)
    return opened, round(best, 2), y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--rows", type=int, default=1024)
    args = ap.parse_args()
    from reluc import formats

    lines = ["| network | encoding | slots (nonzeros + padding) | rows per call | threads "
             f"| CPU s, {args.rows} rows | CPU s to open |", "|---|---|---|---|---|---|---|"]
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for n in args.n:
            path = os.path.join(tmp, "s.onnx")
            subprocess.run(RELUC + ["build", f"sort n={n}", "-o", path, "-q", "--layout",
                                    "sparse"], check=True)
            layers = list(formats.read_layers(path)[0])
            nnz = sum(la.weight.nnz for la in layers)
            slots = sum(la.n_out * int(np.diff(la.weight.indptr).max()) for la in layers)
            stored = sum((la.n_out // 2 if la.negated_pairs else la.n_out)
                         * int(np.diff(la.weight.indptr).max()) for la in layers)
            x = np.random.default_rng(0).integers(-(2**20), 2**20, size=(args.rows, n)).astype(
                np.float32)
            want = np.sort(x, axis=1)
            models = [("a MatMul a row (reluc's sparse layout)", path, stored),
                      ("a MatMul a row without pairs", unpaired_model(layers, n), slots),
                      ("slots + MatMul (the previous version)", slots_model(layers, n), slots),
                      ("ell + ReduceSum (earlier versions)", ell_model(layers, n), slots),
                      ("grouped, no padding", grouped_model(layers, n), nnz),
                      ("grouped products, no padding", grouped_products_model(layers, n), nnz),
                      ("signed slots, no Mul", signed_model(layers, n), slots),
                      (f"row tiles of {TILE}", tiled_model(layers, n), slots)]
            for name, model, used in models:
                for chunk, threads in ((64, 1), (64, 2), (128, 1), (256, 1), (1024, 1)):
                    opened, t, y = cpu_run(model, x, chunk, threads)
                    assert np.array_equal(y, want), (name, chunk)
                    lines.append(f"| sort n={n} | {name} | {used} | {chunk} | {threads} | {t} "
                                 f"| {opened} |")
                    print(lines[-1], file=sys.stderr, flush=True)
    with open(os.path.join(OUT, "encodings.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
