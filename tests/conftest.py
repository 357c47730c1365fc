"""Shared helpers: drive the CLI the way a user does (click's CliRunner); the Hypothesis
profile."""

from __future__ import annotations

import os

import onnx
import pytest
from click.testing import CliRunner
from hypothesis import settings
from onnx import numpy_helper

# "ci" (the default, what `make test` and CI run): derandomized, so every run draws the
# same examples and a failure reproduces; "dev" (HYPOTHESIS_PROFILE=dev make test)
# explores new examples each run, keeping failures in .hypothesis/ to replay them.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from reluc.cli import main


class Cli:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args, input=None, ok=True):
        result = self.runner.invoke(main, [str(a) for a in args], input=input,
                                    catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"reluc {' '.join(map(str, args))} failed "
                                 f"({result.exit_code}): {result.stderr}")
        return result


@pytest.fixture
def cli():
    return Cli()


def assert_one_line_error(result, *fragments, code=2):
    """A user error: the exit code, exactly one line on stderr, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def build(cli, tmp_path, spec, name, *extra):
    """``reluc build SPEC -o tmp_path/name -q``; the path."""
    path = tmp_path / name
    cli("build", spec, "-o", path, "-q", *extra)
    return path


def edit_onnx(path, fn):
    """Apply fn(model) to an ONNX file in place (external data stays where it is)."""
    m = onnx.load(str(path), load_external_data=False)
    fn(m)
    onnx.save(m, str(path))


def edit_initializer(m, name, fn):
    """Replace initializer ``name`` of model ``m`` by fn(its array): fn changes the
    array in place (returning None) or returns a new one."""
    tensor = next(t for t in m.graph.initializer if t.name == name)
    a = numpy_helper.to_array(tensor).copy()
    new = fn(a)
    tensor.CopyFrom(numpy_helper.from_array(a if new is None else new, name))


def data_file(model):
    """The one external data file beside ``model`` (named ``<model>.<digest>.data``)."""
    import glob

    found = glob.glob(glob.escape(str(model)) + ".*.data")
    assert len(found) == 1, found
    return type(model)(found[0]) if not isinstance(model, str) else found[0]


def sparse_layout_model(tables, n_in: int, form: str = "product", dtype="float32"):
    """A network in reluc's sparse ONNX layout made by hand: ``tables`` per layer (I, W, b)
    as ELL tables, row r's slots in I[r], W[r] (shape [out, K]); written as this version
    writes it (``product``: tables [out, K] and [out, 1, K], MatMul(W, gathered) ->
    Reshape), as the previous one did (``slots``: tables [K, out], Mul -> Reshape ->
    MatMul by ones -> Reshape) or as earlier versions did (``rows``: tables [out, K], Mul
    -> ReduceSum over the slots)."""
    import numpy as np
    from onnx import TensorProto, helper

    elem = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    nodes = [helper.make_node("Transpose", ["x"], ["h0"], perm=[1, 0])]
    inits = [numpy_helper.from_array(np.array([0, -1] if form == "slots" else [1], np.int64),
                                     "shared")]
    h, last = "h0", len(tables) - 1
    for i, (idx, val, bias) in enumerate(tables):
        # indices as given when an array (a test may hand in floats), else int32
        idx = idx if isinstance(idx, np.ndarray) else np.asarray(idx, np.int32)
        val = np.asarray(val, dtype)
        z = "yt" if i == last else f"z{i}"
        if form == "product":
            inits += [numpy_helper.from_array(idx, f"I{i}"),
                      numpy_helper.from_array(val[:, None, :], f"W{i}"),
                      numpy_helper.from_array(np.array([len(idx), -1], np.int64), f"S{i}")]
            nodes += [helper.make_node("Gather", [h, f"I{i}"], [f"g{i}"], axis=0),
                      helper.make_node("MatMul", [f"W{i}", f"g{i}"], [f"s{i}"]),
                      helper.make_node("Reshape", [f"s{i}", f"S{i}"], [f"t{i}"])]
        elif form == "slots":
            inits += [numpy_helper.from_array(np.ascontiguousarray(idx.T), f"I{i}"),
                      numpy_helper.from_array(np.ascontiguousarray(val.T)[:, :, None], f"W{i}"),
                      numpy_helper.from_array(np.ones((1, idx.shape[1]), dtype), f"K{i}"),
                      numpy_helper.from_array(np.array([len(idx), -1], np.int64), f"S{i}")]
            nodes += [helper.make_node("Gather", [h, f"I{i}"], [f"g{i}"], axis=0),
                      helper.make_node("Mul", [f"g{i}", f"W{i}"], [f"m{i}"]),
                      helper.make_node("Reshape", [f"m{i}", "shared"], [f"r{i}"]),
                      helper.make_node("MatMul", [f"K{i}", f"r{i}"], [f"s{i}"]),
                      helper.make_node("Reshape", [f"s{i}", f"S{i}"], [f"t{i}"])]
        else:
            inits += [numpy_helper.from_array(idx, f"I{i}"),
                      numpy_helper.from_array(val[:, :, None], f"W{i}")]
            nodes += [helper.make_node("Gather", [h, f"I{i}"], [f"g{i}"], axis=0),
                      helper.make_node("Mul", [f"g{i}", f"W{i}"], [f"m{i}"]),
                      helper.make_node("ReduceSum", [f"m{i}", "shared"], [f"t{i}"],
                                       keepdims=0)]
        inits.append(numpy_helper.from_array(np.asarray(bias, dtype).reshape(-1, 1), f"B{i}"))
        nodes.append(helper.make_node("Add", [f"t{i}", f"B{i}"], [z]))
        if i < last:
            h = f"h{i + 1}"
            nodes.append(helper.make_node("Relu", [z], [h]))
    nodes.append(helper.make_node("Transpose", ["yt"], ["y"], perm=[1, 0]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem, ["batch", n_in])],
        [helper.make_tensor_value_info("y", elem, ["batch", len(tables[-1][0])])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def with_every_bias(path, out):
    """A reluc file rewritten in the sparse layout with every layer's bias added, zeros
    too (as reluc wrote the layout before it left the addition of a zero bias out)."""
    from reluc import formats
    from reluc.formats.onnxwrite import write_onnx
    from reluc.net import LayerStream

    net, info = formats.read(str(path))
    with open(out, "wb") as f:  # a stream that declares no bias zero
        write_onnx(LayerStream(net.n_in, net.widths_out, net.iter_layers), info, f,
                   info.dtype or "float32", "sparse")
    return out


def former_sparse(path, out, form: str = "rows"):
    """The network of a reluc file rewritten in the sparse layout of earlier versions
    (``rows``: ReduceSum over the slots; ``slots``: the slots summed by a MatMul, the
    previous version's), with the original's metadata, as a file at ``out``."""
    from reluc import formats
    from reluc.formats.ell import ell

    layers = list(formats.read(str(path))[0].layers)
    tables = [(*ell(la.weight), la.bias) for la in layers]
    model = sparse_layout_model(tables, layers[0].n_in, form)
    model.metadata_props.extend(onnx.load(str(path)).metadata_props)
    out.write_bytes(model.SerializeToString())
    return out
