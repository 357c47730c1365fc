"""Every reader path: a file that differs from a correct one in one place is read to the
network it holds (judged by onnxruntime running the same file) or refused in one line.

ONNX patterns as exporters write them (Gemm with transB, alpha, beta, broadcast or no
bias; MatMul + Add; Sub of a constant; Flatten, Identity, Dropout, Constant nodes),
reluc's sparse layout (Gather, Mul, then Reshape/MatMul/Reshape as written now or
ReduceSum as earlier versions wrote it), external data, and .npz.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import (assert_one_line_error, build, data_file, edit_initializer, edit_onnx,
                      former_sparse, with_every_bias)
from reluc import formats
from reluc.errors import NetworkFileError

RNG = np.random.default_rng(7)
W1 = RNG.normal(size=(4, 3)).astype(np.float32)  # (out, in)
B1 = RNG.normal(size=4).astype(np.float32)
W2 = RNG.normal(size=(2, 4)).astype(np.float32)
B2 = RNG.normal(size=2).astype(np.float32)
MEAN = RNG.normal(size=3).astype(np.float32)


def t(array, name):
    return numpy_helper.from_array(np.asarray(array), name)


def model(nodes, inits, n_in=3, n_out=2, opset=17):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n_out])],
        initializer=inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def gemm(a, w, c, out, **attrs):
    return helper.make_node("Gemm", [a, w] + ([c] if c else []), [out], **attrs)


def relu(a, out):
    return helper.make_node("Relu", [a], [out])


def chain(first=None, second=None, b1="b1", b2="b2"):
    """Gemm -> Relu -> Gemm with the given attributes (and bias names; None: no bias)."""
    return [gemm("x", "w1", b1, "h", **(first or {})), relu("h", "r"),
            gemm("r", "w2", b2, "y", **(second or {}))]


T = {"transB": 1}
INITS = [t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2")]

# each: nodes and initializers of a 3 -> 4 -> 2 ReLU network in one exporter's style
FOREIGN = {
    "torch Gemm transB=1": (chain(T, T), INITS),
    "Gemm transB=0 (weights [in, out])": (
        chain(), [t(W1.T, "w1"), t(B1, "b1"), t(W2.T, "w2"), t(B2, "b2")]),
    "Gemm alpha and beta": (
        chain(dict(T, alpha=0.5, beta=2.0), dict(T, alpha=-3.0, beta=0.25)), INITS),
    "Gemm with a broadcast bias [1, out] and a scalar bias": (
        chain(T, T), [t(W1, "w1"), t(B1.reshape(1, 4), "b1"), t(W2, "w2"),
                      t(np.float32(0.75), "b2")]),
    "Gemm without bias (torch bias=False)": (
        chain(T, T, None, None), [t(W1, "w1"), t(W2, "w2")]),
    "Keras MatMul + Add, bias first in one Add": (
        [helper.make_node("MatMul", ["x", "w1"], ["m"]),
         helper.make_node("Add", ["m", "b1"], ["h"]), relu("h", "r"),
         helper.make_node("MatMul", ["r", "w2"], ["m2"]),
         helper.make_node("Add", ["b2", "m2"], ["y"])],
        [t(W1.T, "w1"), t(B1, "b1"), t(W2.T, "w2"), t(B2, "b2")]),
    "Sub of a constant (input normalisation), then Gemm": (
        [helper.make_node("Sub", ["x", "mean"], ["c"]), gemm("c", "w1", "b1", "h", transB=1),
         relu("h", "r"), gemm("r", "w2", "b2", "y", transB=1)],
        [t(MEAN, "mean"), t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2")]),
    "Sub of a constant after the last Gemm": (
        [gemm("x", "w1", "b1", "h", transB=1), relu("h", "r"), gemm("r", "w2", "b2", "z", transB=1),
         helper.make_node("Sub", ["z", "b2"], ["y"])],
        [t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2")]),
    "Flatten, Identity, Dropout and Constant nodes": (
        [helper.make_node("Constant", [], ["w1"], value=t(W1, "w1")),
         helper.make_node("Flatten", ["x"], ["f"], axis=1), gemm("f", "w1", "b1", "h", transB=1),
         helper.make_node("Identity", ["h"], ["i"]), relu("i", "r"),
         helper.make_node("Dropout", ["r"], ["d"]), gemm("d", "w2", "b2", "y", transB=1)],
        [t(B1, "b1"), t(W2, "w2"), t(B2, "b2")]),
}


def ort_run(data: bytes, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("name", list(FOREIGN))
def test_foreign_patterns_read_to_what_onnxruntime_computes(name):
    data = model(*FOREIGN[name])
    net, info = formats.read(data)
    assert (net.n_in, net.n_out, net.widths) == (3, 2, (4,)) and info.spec is None
    x = RNG.normal(size=(50, 3)).astype(np.float32) * 3
    np.testing.assert_allclose(net.evaluate(x), ort_run(data, x), rtol=2e-5, atol=2e-5)


REFUSED = {
    "Gemm transA=1": (
        [gemm("x", "w1", "b1", "h", transB=1, transA=1), relu("h", "r"),
         gemm("r", "w2", "b2", "y", transB=1)], "Gemm must take the activations"),
    "Sub of the activations from a constant": (
        [helper.make_node("Sub", ["mean", "x"], ["c"]), gemm("c", "w1", "b1", "h", transB=1),
         relu("h", "r"), gemm("r", "w2", "b2", "y", transB=1)], "Sub must subtract a constant"),
    "Flatten of axis 0": (
        [helper.make_node("Flatten", ["x"], ["f"], axis=0), gemm("f", "w1", "b1", "h", transB=1),
         relu("h", "r"), gemm("r", "w2", "b2", "y", transB=1)],
        "unsupported ONNX operator 'Flatten'"),
    "Transpose that is not 2-D (perm 0,1)": (
        [helper.make_node("Transpose", ["x"], ["tx"], perm=[0, 1]),
         gemm("tx", "w1", "b1", "h", transB=1), relu("h", "r"),
         gemm("r", "w2", "b2", "y", transB=1)], "only 2-D transposes"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_foreign_patterns_reluc_cannot_read_exactly_are_refused(cli, tmp_path, name):
    nodes, fragment = REFUSED[name]
    inits = [t(W1, "w1"), t(B1, "b1"), t(W2, "w2"), t(B2, "b2"), t(MEAN, "mean")]
    path = tmp_path / "f.onnx"
    path.write_bytes(model(nodes, inits))
    assert_one_line_error(cli("stats", path, ok=False), fragment)


# -- reluc's own files, changed in one place --------------------------------------------


def node(m, op):
    return next(n for n in m.graph.node if n.op_type == op)


@pytest.mark.parametrize("layout, change", [("dense", "weight"), ("dense", "bias"),
                                            ("sparse", "weight"), ("sparse", "index"),
                                            ("sparse", "bias"), ("slots sparse", "weight"),
                                            ("slots sparse", "slot weight"),
                                            ("rows sparse", "weight"),
                                            ("rows sparse", "index")])
def test_a_reluc_file_changed_in_one_place_reads_to_the_changed_network(cli, tmp_path, layout,
                                                                         change):
    path = build(cli, tmp_path, "sort n=6", "s.onnx", "--layout", layout.split()[-1])
    if " " in layout:  # as earlier versions wrote it (the slots' MatMul, or ReduceSum)
        path = former_sparse(path, tmp_path / "f.onnx", layout.split()[0])
    elif layout == "sparse" and change == "bias":  # (sort's biases are zero: no B2)
        path = with_every_bias(path, tmp_path / "b.onnx")

    def fn(m):
        if change == "weight":
            edit_initializer(m, "W1", lambda a: a.flat.__setitem__(np.flatnonzero(a)[3], 5.0))
        elif change == "index":  # another valid column
            edit_initializer(m, "I1", lambda a: a.__setitem__((0, 0), (a[0, 0] + 1) % 12))
        elif change == "slot weight":  # the sum over the slots weighs the second twice
            edit_initializer(m, "K1", lambda a: a.__setitem__((0, 1), 2.0))
        else:
            edit_initializer(m, "B2", lambda a: a.flat.__setitem__(0, -2.5))

    before = formats.read(str(path))[0]
    edit_onnx(path, fn)
    net = formats.read(str(path))[0]
    assert not net.equals(before)
    counted = json.loads(cli("stats", path, "--json").stdout)  # from the tables
    assert counted["nonzero_params"] == sum(layer.nnz for layer in net.layers)
    x = RNG.integers(-50, 50, size=(40, 6)).astype(np.float32)
    np.testing.assert_allclose(net.evaluate(x), ort_run(path.read_bytes(), x), rtol=1e-6,
                               atol=1e-4)


@pytest.mark.parametrize("damage", [None, "signs [1, 1]", "signs of shape [2]", "a NaN sign"])
def test_wide_rows_in_pairs_are_negated_by_a_mul(cli, tmp_path, monkeypatch, damage):
    from reluc.compiler import compile_spec
    from reluc.formats import onnxwrite

    concat = build(cli, tmp_path, "sort n=6", "c.onnx", "--layout", "sparse")
    monkeypatch.setattr(onnxwrite, "WIDE_PAIRS", 12)  # sort n=6's hidden layers: 12 rows
    path = build(cli, tmp_path, "sort n=6", "s.onnx", "--layout", "sparse")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Mul") == 5 and "Neg" not in ops and "Concat" not in ops  # 5 stages
    x = RNG.standard_normal((40, 6)).astype(np.float32) * 1000
    if damage is None:
        assert formats.read(str(path))[0].equals(compile_spec("sort n=6").net)
        y = ort_run(path.read_bytes(), x)
        np.testing.assert_array_equal(y, ort_run(concat.read_bytes(), x))  # bit for bit
        xi = np.round(x)  # (sorted exactly: integers)
        np.testing.assert_array_equal(ort_run(path.read_bytes(), xi), np.sort(xi, axis=1))
        counted = json.loads(cli("stats", path, "--json").stdout)
        assert counted["nonzero_params"] == compile_spec("sort n=6").net.nonzero_params
        return
    edit_onnx(path, lambda m: edit_initializer(m, "N1", {
        "signs [1, 1]": np.abs, "signs of shape [2]": lambda a: a.reshape(2),
        "a NaN sign": lambda a: a * np.array([1, np.nan], a.dtype).reshape(1, 2, 1)}[damage]))
    assert_one_line_error(cli("stats", path, ok=False), "rows in pairs need a Mul by [1, -1]")


def test_rows_in_pairs_scaled_after_their_sums_read_as_the_scaled_layer(cli, tmp_path):
    # a Mul by 2 after layer 0's pairs: the layer read is twice the pairs, and the even
    # rows it keeps (for the input limit's products) are its own, not the file's tables
    path = build(cli, tmp_path, "sort n=6", "s.onnx", "--layout", "sparse")
    before = list(formats.read_layers(str(path))[0])

    def fn(m):
        m.graph.initializer.append(t(np.array([2.0], np.float32), "two"))
        at = next(i for i, n in enumerate(m.graph.node) if n.op_type == "Relu")
        relu = m.graph.node[at]
        m.graph.node.insert(at, helper.make_node("Mul", [relu.input[0], "two"], ["twice"]))
        relu.input[0] = "twice"

    edit_onnx(path, fn)
    after = list(formats.read_layers(str(path))[0])
    assert (after[0].weight != 2 * before[0].weight).nnz == 0
    for layer in after:
        if layer.even_rows is not None:
            assert (layer.even_rows != layer.weight[0::2]).nnz == 0
    x = RNG.integers(-50, 50, size=(40, 6)).astype(np.float32)
    y = ort_run(path.read_bytes(), x)
    np.testing.assert_array_equal(y, np.sort(2 * x, axis=1))  # all wires doubled
    np.testing.assert_array_equal(formats.read(str(path))[0].evaluate(x, np.float32), y)


@pytest.mark.parametrize("form, damage, fragment", [
    ("product", "index out of range", "bad gather indices"),
    ("product", "values of the wrong size", "values do not match the gather indices"),
    # [rows, K] values on [rows, K, batch]: onnxruntime would multiply along the batch
    ("product", "values of the wrong shape", "values do not match the gather indices"),
    ("product", "a NaN weight", "must be finite"),
    ("product", "an infinite bias", "must be finite"),
    ("product", "a bias across the batch", "a bias or scale of shape (1, "),
    ("product", "rows reshaped to another count", "a Reshape to [13, -1]"),
    ("product", "the gathered rows as MatMul's first input",
     "the gathered rows as its second input"),
    ("product", "a step left out", "Identity inside a Gather's layer"),
    ("product", "steps out of order", "out of order"),
    ("product", "untransposed activations", "on transposed activations"),
    # layer 1's rows are in negated pairs: the products, Neg, Concat along axis 1
    ("product", "the negation left out", "takes s1, s1 where reluc's sparse layout has s1"),
    ("product", "products and negations swapped",
     "takes n1, s1 where reluc's sparse layout has s1, n1"),
    ("product", "pairs joined along axis 0", "rows in pairs need a Concat along axis 1"),
    ("product", "the negation made an Identity", "Identity inside a Gather's layer"),
    ("product", "negated twice", "out of order"),
    ("product", "pairs reshaped to the even rows' count", "a Reshape to [6, -1]"),
    ("slots", "index out of range", "bad gather indices"),
    ("slots", "values of the wrong size", "values do not match the gather indices"),
    # [K, rows] values on [K, rows, batch]: onnxruntime would multiply along the batch
    ("slots", "values of the wrong shape", "values do not match the gather indices"),
    ("slots", "a NaN weight", "must be finite"),
    ("slots", "an infinite bias", "must be finite"),
    # (1, n) on [n, batch] activations: one value a row of the batch in onnxruntime
    ("slots", "a bias across the batch", "a bias or scale of shape (1, "),
    ("slots", "slots reshaped to another count", "a Reshape to [3, -1]"),
    ("slots", "a zero that means zero", "a Reshape to [0, -1]"),  # allowzero=1
    ("slots", "the sum's weights of another shape", "finite weights of shape [1, 6]"),
    ("slots", "a NaN in the sum's weights", "finite weights of shape [1, 6]"),
    ("slots", "the slots as MatMul's first input", "the slots as its second input"),
    ("slots", "rows reshaped to another count", "a Reshape to [13, -1]"),
    ("slots", "a step left out", "Identity inside a Gather's layer"),
    ("slots", "steps out of order", "out of order"),
    ("rows", "index out of range", "bad gather indices"),
    ("rows", "values of the wrong size", "values do not match the gather indices"),
    ("rows", "ReduceSum keepdims", "expected ReduceSum over the last axis without keepdims"),
    ("rows", "ReduceSum axes of no dimension", "expected ReduceSum over the last axis"),
    ("rows", "a NaN weight", "must be finite"),
])
def test_a_damaged_sparse_layout_is_refused_in_one_line(cli, tmp_path, form, damage, fragment):
    # as written now (a product a row), and as earlier versions wrote it (the slots
    # summed by a MatMul, or by ReduceSum): layer 1 of sort n=6 has 12 rows and 6 slots
    path = build(cli, tmp_path, "sort n=6", "s.onnx", "--layout", "sparse")
    if form != "product":
        path = former_sparse(path, tmp_path / "f.onnx", form)
    elif "bias" in damage:  # (sort's biases are zero: written without B<i>)
        path = with_every_bias(path, tmp_path / "b.onnx")

    def fn(m):
        by_output = {n.output[0]: n for n in m.graph.node}
        layer1 = [by_output.get(o) for o in ("g1", "m1", "r1", "s1")]  # as written
        # the Reshape of the sums (its output: z1, or t1 before an Add)
        layer1.append(next((n for n in m.graph.node if n.op_type == "Reshape"
                            and n.input[0] in ("s1", "p1")), None))  # p1: rows in pairs
        if form == "product" and damage in ("values of the wrong shape", "a step left out",
                                            "steps out of order", "untransposed activations"):
            return product_damage(m, damage, layer1)
        if form == "product" and damage in PAIRS_DAMAGE:
            return pairs_damage(m, damage, by_output)
        if damage == "index out of range":
            edit_initializer(m, "I1", lambda a: a.__setitem__((0, 0), 12))
        elif damage == "values of the wrong size":
            edit_initializer(m, "W1", lambda a: np.concatenate([a, a[:1]], axis=0))
        elif damage == "values of the wrong shape":
            edit_initializer(m, "W1", lambda a: a.reshape(a.shape[:2]))
        elif damage == "a NaN weight":
            edit_initializer(m, "W1", lambda a: a.flat.__setitem__(np.flatnonzero(a)[3], np.nan))
        elif damage == "an infinite bias":
            edit_initializer(m, "B2", lambda a: a.flat.__setitem__(0, np.inf))
        elif damage == "a bias across the batch":
            edit_initializer(m, "B2", lambda a: a.T.copy())
        elif damage == "ReduceSum axes of no dimension":
            edit_initializer(m, node(m, "ReduceSum").input[1], lambda a: a.reshape(()))
        elif damage == "ReduceSum keepdims":
            node(m, "ReduceSum").attribute[0].i = 1
        elif damage == "slots reshaped to another count":
            m.graph.initializer.append(t(np.array([3, -1], np.int64), "three"))
            layer1[2].input[1] = "three"
        elif damage == "a zero that means zero":
            layer1[2].attribute.append(helper.make_attribute("allowzero", 1))
        elif damage == "the sum's weights of another shape":
            edit_initializer(m, "K1", lambda a: np.ones((6, 1), a.dtype))
        elif damage == "a NaN in the sum's weights":
            edit_initializer(m, "K1", lambda a: a.__setitem__((0, 2), np.nan))
        elif damage in ("the slots as MatMul's first input",
                        "the gathered rows as MatMul's first input"):
            layer1[3].input[:] = list(layer1[3].input)[::-1]
        elif damage == "rows reshaped to another count":
            edit_initializer(m, "S1", lambda a: a.__setitem__(0, 13))
        elif damage == "a step left out":  # the first Reshape made an Identity
            layer1[2].op_type = "Identity"
            del layer1[2].input[1:]
        else:  # Gather -> Reshape -> Mul -> MatMul
            layer1[2].input[0], layer1[2].output[0] = "g1", "q1"
            layer1[1].input[0], layer1[3].input[1] = "q1", "m1"
            gather, mul, reshape = layer1[:3]
            order = list(m.graph.node)
            at = order.index(gather)
            order[at + 1:at + 3] = [reshape, mul]
            del m.graph.node[:]
            m.graph.node.extend(order)

    edit_onnx(path, fn)
    assert_one_line_error(cli("stats", path, ok=False), fragment)  # reluc's reader
    # eval reads the file the same way before onnxruntime ever sees it
    assert_one_line_error(cli("eval", path, input="1 2 3 4 5 6\n", ok=False), fragment)


PAIRS_DAMAGE = ("the negation left out", "products and negations swapped",
                "pairs joined along axis 0", "the negation made an Identity",
                "negated twice", "pairs reshaped to the even rows' count")


def pairs_damage(m, damage, by_output):
    """The damages of a layer in negated pairs (``s1`` the products, ``n1`` their
    negations, ``p1`` the pairs side by side)."""
    neg, pairs = by_output["n1"], by_output["p1"]
    if damage == "the negation left out":
        m.graph.node.remove(neg)
        pairs.input[:] = ["s1", "s1"]
    elif damage == "products and negations swapped":
        pairs.input[:] = ["n1", "s1"]
    elif damage == "pairs joined along axis 0":
        pairs.attribute[0].i = 0
    elif damage == "the negation made an Identity":
        neg.op_type = "Identity"
    elif damage == "negated twice":  # Neg -> Neg -> Concat(s1, n2)
        twice = helper.make_node("Neg", ["n1"], ["n2"], name="again")
        m.graph.node.insert(list(m.graph.node).index(neg) + 1, twice)
        pairs.input[1] = "n2"
    else:
        edit_initializer(m, "S1", lambda a: a.__setitem__(0, a[0] // 2))


def product_damage(m, damage, layer1):
    """The damages of the layout as written now (Gather, MatMul, Reshape) that differ
    from the earlier layouts' (``layer1``: the nodes making g1, m1, r1, s1, t1)."""
    gather, product, reshape = layer1[0], layer1[3], layer1[4]
    if damage == "values of the wrong shape":
        edit_initializer(m, "W1", lambda a: a.reshape(a.shape[0], a.shape[2]))
    elif damage == "a step left out":  # the Reshape made an Identity
        reshape.op_type = "Identity"
        del reshape.input[1:]
    elif damage == "steps out of order":  # Gather -> Reshape -> MatMul
        out = reshape.output[0]
        reshape.input[0], reshape.output[0] = "g1", "q1"
        product.input[1], product.output[0] = "q1", out
        order = list(m.graph.node)
        at = order.index(gather)
        order[at + 1:at + 3] = [reshape, product]
        del m.graph.node[:]
        m.graph.node.extend(order)
    else:  # untransposed: the first layer gathers along the features of [batch, n]
        first = next(n for n in m.graph.node if n.op_type == "Transpose")
        m.graph.node.remove(first)
        g0 = next(n for n in m.graph.node if n.op_type == "Gather")
        g0.input[0] = "x"
        g0.attribute[0].i = 1


def test_external_data_reads_back_and_refuses_damage_in_one_line(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=12", "s.onnx", "--external-data")
    data = data_file(path)
    net = formats.read(str(path))[0]
    assert net.equals(formats.read(str(build(cli, tmp_path, "sort n=12", "i.onnx")))[0])
    x = RNG.integers(-50, 50, size=(8, 12)).astype(np.float32)
    np.testing.assert_array_equal(net.evaluate(x), np.sort(x, axis=1))
    good = data.read_bytes()
    data.write_bytes(good[: len(good) // 2])  # truncated
    assert_one_line_error(cli("stats", path, ok=False))
    data.unlink()  # missing
    assert_one_line_error(cli("stats", path, ok=False))
    data.write_bytes(good)

    def outside(m):
        for tensor in m.graph.initializer:
            for e in tensor.external_data:
                if e.key == "location":
                    e.value = "../" + data.name

    edit_onnx(path, outside)
    (tmp_path.parent / data.name).write_bytes(good)
    try:
        assert_one_line_error(cli("stats", path, ok=False))
    finally:
        (tmp_path.parent / data.name).unlink()


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_a_file_cut_short_while_its_layers_are_read_is_refused(cli, tmp_path, layout):
    # the layers are read as they are reached (a dense matrix a block at a time, into
    # one buffer): a file that shrinks under the reader is refused, not read as zeros
    from reluc.formats.onnxwire import scan_model

    path = build(cli, tmp_path, "sort n=12", "s.onnx", "--layout", layout)
    layers, _ = formats.read_layers(str(path))
    with open(path, "rb") as f:
        # the largest tensor (a weight matrix or table), cut in the middle of its data
        big = max(scan_model(f, None)[1].values(), key=lambda t: t.raw[1])
        with open(path, "r+b") as g:
            g.truncate(big.raw[0] + big.raw[1] // 2)
        for read in (big.array, lambda: list(big.blocks(4))):
            with pytest.raises(NetworkFileError, match="truncated"):
                read()
    with pytest.raises(NetworkFileError, match="truncated"):
        list(layers)


# -- .npz --------------------------------------------------------------------------------


def rewrite_npz(path, fn):
    with np.load(path, allow_pickle=False) as z:
        arrays = dict(z)
    fn(arrays)
    np.savez(path, **arrays)


def test_an_npz_file_changed_in_one_weight_reads_to_the_changed_network(cli, tmp_path):
    path = build(cli, tmp_path, "sort n=5", "s.npz")
    rewrite_npz(path, lambda a: a["w1_data"].__setitem__(2, np.float32(-4)))
    net = formats.read(str(path))[0]
    w = net.layers[1].weight
    assert sorted(w.data.tolist()).count(-4.0) == 1


@pytest.mark.parametrize("damage, fragment", [
    ("column index out of range", "not a valid reluc .npz file"),
    ("layers that do not fit", "inconsistent network in .npz"),
    ("a member missing", "not a valid reluc .npz file"),
    ("not a zip", "not a valid reluc .npz file"),
])
def test_a_damaged_npz_file_is_refused_in_one_line(cli, tmp_path, damage, fragment):
    path = build(cli, tmp_path, "sort n=5", "s.npz")
    if damage == "column index out of range":
        rewrite_npz(path, lambda a: a["w1_indices"].__setitem__(0, 999))
    elif damage == "layers that do not fit":
        def fn(a):  # layer 1 made one column wider, consistently in itself
            a["w1_shape"] = a["w1_shape"] + np.array([0, 1])
        rewrite_npz(path, fn)
    elif damage == "a member missing":
        rewrite_npz(path, lambda a: a.pop("b2"))
    else:
        path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    for command in ("stats", "eval"):
        r = cli(command, path, input="1 2 3 4 5\n", ok=False)
        assert_one_line_error(r, fragment)
    with pytest.raises(NetworkFileError):
        formats.read(str(path))
    assert zipfile.is_zipfile(path) or damage == "not a zip"
