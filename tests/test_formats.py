"""Writers and readers: ONNX conventions, byte-level determinism, round trips, and
clear errors for foreign or damaged files."""

import io
import json
from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from reluc import formats
from reluc.compiler import compile_spec
from reluc.errors import NetworkFileError
from reluc.formats.metadata import FileInfo
from reluc.formats.onnxwrite import write_onnx

SPECS = ["sort n=5", "max n=7", "sawtooth k=3", "pwl points=-1:0,0:1,1:0.5,2:0.5,3:0",
         "identity n=2 depth=1", "minmax", "abs n=2"]


def onnx_bytes(text, dtype="float32"):
    buf = io.BytesIO()
    formats.write(compile_spec(text, dtype), buf, "onnx")
    return buf.getvalue()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_streamed_onnx_equals_protobuf_serialization_of_the_same_model(dtype):
    compiled = compile_spec("sort n=6", dtype)
    info = FileInfo.for_build(compiled)
    buf = io.BytesIO()
    write_onnx(compiled.net, info, buf, dtype)
    model = onnx.load_model_from_string(buf.getvalue())
    # rebuild the same model with onnx's own helpers and serializer
    np_t = np.dtype(dtype)
    inits = []
    for i, layer in enumerate(compiled.net.layers):
        inits += [numpy_helper.from_array(layer.weight.toarray().astype(np_t), f"W{i}"),
                  numpy_helper.from_array(layer.bias.astype(np_t), f"B{i}")]
    ref = onnx.ModelProto()
    ref.CopyFrom(model)
    del ref.graph.initializer[:]
    ref.graph.initializer.extend(inits)
    assert ref.SerializeToString() == buf.getvalue()


@pytest.mark.parametrize("spec", ["sort n=6", "sort n=6 domain=-3,5"])
def test_streamed_sparse_onnx_is_in_protobufs_own_order(spec):
    """The sparse layout, its zero biases left out or not: protobuf serialises the model
    it reads from the file back to the same bytes."""
    compiled = compile_spec(spec, "float32")
    buf = io.BytesIO()
    write_onnx(compiled.source, FileInfo.for_build(compiled), buf, "float32", "sparse")
    model = onnx.load_model_from_string(buf.getvalue())
    assert model.SerializeToString() == buf.getvalue()
    adds = sum(n.op_type == "Add" for n in model.graph.node)
    assert adds == (0 if spec == "sort n=6" else 2)


@pytest.mark.parametrize("text", SPECS)
def test_onnx_conventions(text, tmp_path):
    path = tmp_path / "n.onnx"
    formats.write(compile_spec(text), str(path), "onnx")
    onnx.checker.check_model(str(path), full_check=True)
    m = onnx.load(str(path))
    assert m.ir_version == 8
    assert [(o.domain, o.version) for o in m.opset_import] == [("", 17)]
    assert m.producer_name == "reluc" and m.model_version == 1
    ops = [n.op_type for n in m.graph.node]
    assert ops[0::2] == ["Gemm"] * ((len(ops) + 1) // 2) and set(ops[1::2]) <= {"Relu"}
    assert all(a.name == "transB" and a.i == 1 for n in m.graph.node if n.op_type == "Gemm"
               for a in n.attribute)
    (x,), (y,) = m.graph.input, m.graph.output
    assert (x.name, y.name) == ("x", "y")
    assert x.type.tensor_type.shape.dim[0].dim_param == "batch"
    props = {p.key: p.value for p in m.metadata_props}
    assert list(props) == sorted(props)
    assert props["reluc.spec"] == compile_spec(text).spec.canonical()
    assert {"reluc.version", "reluc.exact", "reluc.domain", "reluc.params"} <= set(props)
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert meta.custom_metadata_map["reluc.spec"] == props["reluc.spec"]


@pytest.mark.parametrize("text", SPECS)
@pytest.mark.parametrize("fmt", ["onnx", "npz"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reading_back_gives_the_same_network(text, fmt, dtype, tmp_path):
    compiled = compile_spec(text, dtype)
    path = tmp_path / f"n.{fmt}"
    formats.write(compiled, str(path), fmt)
    net, info = formats.read(str(path))
    assert net.equals(compiled.net)
    assert info.spec == compiled.spec.canonical() and info.dtype == dtype
    assert info.exact is True and info.domain == compiled.domain
    with open(path, "rb") as f:  # and from bytes (stdin)
        assert formats.read(f.read())[0].equals(compiled.net)


def test_npz_layout_is_plain_arrays(tmp_path):
    path = tmp_path / "s.npz"
    formats.write(compile_spec("sort n=4"), str(path), "npz")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        assert meta["layers"] == 4 and meta["dtype"] == "float32"
        assert meta["metadata"]["reluc.spec"] == "sort n=4 method=best"
        assert z["w0_shape"].tolist() == [8, 4] and z["b0"].dtype == np.float32
        assert z["w0_indices"].dtype == np.int32 and z["w0_indptr"].shape == (9,)


def test_same_spec_same_bytes_and_negative_zero_is_normalised():
    assert onnx_bytes("sort n=9") == onnx_bytes("sort n=9")
    from reluc.net import Layer, Net

    info = FileInfo(spec="x")
    outs = []
    for z in (0.0, -0.0):
        net = Net([Layer(np.array([[1.0, z]]), np.array([z]))])
        buf = io.BytesIO()
        write_onnx(net, info, buf)
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]


def test_weights_not_representable_in_float32_make_the_file_inexact(tmp_path):
    text = "pwl points=0:0,1:1.000000000931322574615478515625,2:0"  # slope 1 + 2^-30
    c32, c64 = compile_spec(text, "float32"), compile_spec(text, "float64")
    assert c64.exact and not c64.dtype_rounded
    assert c32.dtype_rounded and not c32.exact
    assert c32.error_bound == Fraction(1, 2**30)  # exact worst case: at x = 1
    w32 = formats.write(c32, str(tmp_path / "a.onnx"), "onnx")
    w64 = formats.write(c64, str(tmp_path / "b.onnx"), "onnx")
    assert w32.info.exact is False and w64.info.exact is True
    assert formats.read(str(tmp_path / "a.onnx"))[1].error_bound == Fraction(1, 2**30)


def foreign_model(nodes, inits, n_in=3, n_out=2, elem=TensorProto.FLOAT, inputs=None):
    graph = helper.make_graph(
        nodes, "torch_jit",
        inputs or [helper.make_tensor_value_info("input", elem, ["N", n_in])],
        [helper.make_tensor_value_info("output", elem, ["N", n_out])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model.SerializeToString()


def test_reads_a_pytorch_style_matmul_add_export():
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    w2, b2 = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["input", "w1"], ["a"]),
        helper.make_node("Add", ["b1", "a"], ["b"]),
        helper.make_node("Relu", ["b"], ["c"]),
        helper.make_node("Gemm", ["c", "w2", "b2"], ["output"], alpha=2.0),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]]
    data = foreign_model(nodes, inits)
    net, info = formats.read(data)
    assert info.spec is None and info.dtype == "float32"
    assert net.widths == (4,)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(net.evaluate(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "nodes, inits, fragment",
    [
        ([helper.make_node("Sigmoid", ["input"], ["output"])], [], "unsupported ONNX operator 'Sigmoid'"),
        ([helper.make_node("Add", ["input", "input"], ["output"])], [], "single chain"),
    ],
)
def test_foreign_files_we_cannot_read_get_clear_errors(nodes, inits, fragment):
    with pytest.raises(NetworkFileError, match=fragment):
        formats.read(foreign_model(nodes, inits, n_out=3))


def test_two_inputs_are_refused():
    two = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3]) for n in ("a", "b")]
    data = foreign_model([helper.make_node("Add", ["a", "b"], ["output"])], [], inputs=two, n_out=3)
    with pytest.raises(NetworkFileError, match="one input and one output"):
        formats.read(data)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
@pytest.mark.parametrize("fmt", ["onnx", "npz"])
def test_damaged_files_get_clear_errors(damage, fmt, tmp_path):
    path = tmp_path / f"n.{fmt}"
    formats.write(compile_spec("sort n=8"), str(path), fmt)
    data = path.read_bytes()
    data = {"truncate": data[: len(data) // 2], "garbage": b"\x01\x02hello" * 50, "empty": b""}[damage]
    path.write_bytes(data)
    with pytest.raises(NetworkFileError):
        formats.read(str(path))


@pytest.mark.parametrize("block", [1, 40, 100])
def test_dense_weights_written_in_blocks_of_rows_are_the_same_bytes(monkeypatch, block):
    """A dense weight is written a block of rows at a time (16 MiB each): with blocks of
    a row or a few rows, the file is byte for byte the one-block file."""
    from reluc.formats import onnxwire

    whole = onnx_bytes("sort n=6")
    monkeypatch.setattr(onnxwire, "BLOCK_BYTES", block)
    assert onnx_bytes("sort n=6") == whole
    assert formats.read(whole)[0].equals(compile_spec("sort n=6").net)


def test_a_long_exact_error_bound_is_written_rounded_up_and_read_back(cli, tmp_path):
    # disk's exact bound in float32 has hundreds of digits: more than a reader accepts
    from fractions import Fraction

    from reluc.compiler import compile_spec
    from reluc.formats.metadata import bound_text
    from reluc.numbers import MAX_NUMBER_CHARS, format_number

    spec = "disk levels=8 radius=1"
    exact = compile_spec(spec).error_bound
    assert len(format_number(exact)) > MAX_NUMBER_CHARS
    path = tmp_path / "d.onnx"
    cli("build", spec, "-o", path, "-q")
    recorded = Fraction(json.loads(cli("stats", path, "--json").stdout)["error_bound"])
    assert exact <= recorded <= exact * (1 + Fraction(1, 2**50))  # still a bound, barely more
    assert bound_text(Fraction(1, 3)) == "1/3"  # short ones stay exact
