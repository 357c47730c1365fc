"""ONNX's messages without ``import onnx`` (:mod:`reluc.formats.onnxproto`): the readers
load onnx's generated message classes alone, which must be the very classes ``import
onnx`` gives, whichever comes first in a process; what the module maps itself is what
onnx maps; a build of onnx without ``onnx_ml_pb2`` as its messages gets onnx's own."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper

from reluc.formats import onnxproto
from test_cli import imported


def run_python(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.mark.parametrize("first", ["reluc", "onnx"])
def test_the_messages_are_onnx_own_whichever_is_imported_first(first, tmp_path, cli):
    """Read a model with reluc's messages, then write one and check both with onnx, in
    one process: the classes are onnx's (one set in protobuf's pool), in either order."""
    path, again = tmp_path / "m.onnx", tmp_path / "again.onnx"
    cli("build", "sort n=4", "-o", path, "-q", "--layout", "sparse")
    r = run_python(f"""
        import sys
        {"import onnx" if first == "onnx" else "pass"}
        from reluc.formats import read, write
        net, info = read({str(path)!r})
        light = "onnx" not in sys.modules
        import onnx
        from reluc.compiler import compile_spec
        from reluc.formats import onnxproto
        write(compile_spec("sort n=4"), {str(again)!r}, "onnx", layout="sparse")
        for p in ({str(path)!r}, {str(again)!r}):
            onnx.checker.check_model(onnx.load(p), full_check=True)
        same = onnxproto.ModelProto is onnx.ModelProto and \\
            onnxproto.TensorProto is onnx.TensorProto
        print(light, same, net.depth, read({str(again)!r})[0].depth)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(first == "reluc"), "True", "4", "4"]


@pytest.mark.parametrize("command", [["stats", "--json"], ["eval"], ["verify"]])
def test_commands_that_read_onnx_do_not_import_onnx(command, tmp_path, cli):
    """onnx's package (0.07-0.1 s of CPU to import) is left to the commands that write."""
    path = tmp_path / "s.onnx"
    cli("build", "sort n=8", "-o", path, "-q", "--layout", "sparse")
    args = [command[0], str(path), *command[1:]]
    if command[0] == "eval":
        (tmp_path / "x.txt").write_text("5 -1 3 3 0 2.5 -7 1\n")
        args += ["-i", str(tmp_path / "x.txt")]
    r, loaded = imported(args, ["onnx", "onnx.onnx_ml_pb2"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(loaded.replace("'", '"')) == ["onnx.onnx_ml_pb2"], r.stdout + r.stderr


def test_what_it_maps_itself_is_what_onnx_maps():
    """Every tensor type onnx knows, every attribute kind: the same as onnx's helpers
    (those it does not map itself are onnx's answer)."""
    for name, code in TensorProto.DataType.items():
        try:
            want = helper.tensor_dtype_to_np_dtype(code)
        except (KeyError, ValueError):
            continue
        assert onnxproto.np_dtype(code) == want, name
    values = [1.5, 7, b"s", helper.make_tensor("t", TensorProto.FLOAT, [2], [1, 2]),
              [1.5, 2.5], [3, 4], [b"a", b"b"], [helper.make_tensor("u", TensorProto.INT64,
                                                                    [1], [5])]]
    kinds = set()
    for v in values:
        a = helper.make_attribute("a", v)
        kinds.add(a.type)
        ours, theirs = onnxproto.attribute_value(a), helper.get_attribute_value(a)
        assert ours == theirs and type(ours) is type(theirs), v
    assert {AttributeProto.FLOAT, AttributeProto.INT, AttributeProto.INTS,
            AttributeProto.FLOATS, AttributeProto.STRING, AttributeProto.TENSOR} <= kinds
    t = helper.make_tensor("w", TensorProto.DOUBLE, [2, 2], [1, 0, -2.5, 4])  # float_data
    assert np.array_equal(onnxproto.to_array(t), [[1, 0], [-2.5, 4]])


def test_a_build_of_onnx_without_the_ml_messages_gets_onnx_own(tmp_path):
    """Where ``onnx.onnx_pb`` is not ``onnx_ml_pb2`` (a build without ONNX_ML), the
    module imports onnx and takes its messages, never loading ``onnx_ml_pb2`` beside."""
    fake = tmp_path / "onnx"
    fake.mkdir()
    (fake / "onnx_pb.py").write_text("from .onnx_pb2 import *\n")
    (fake / "onnx_ml_pb2.py").write_text("raise ImportError('the ML messages were loaded')\n")
    (fake / "onnx_pb2.py").write_text(textwrap.dedent("""
        class TensorProto:
            FLOAT, DOUBLE, INT32, INT64, FLOAT16, INT8, UINT8, BOOL = 1, 11, 6, 7, 10, 3, 2, 9
        class AttributeProto:
            FLOAT, INT, STRING, TENSOR, FLOATS, INTS = 1, 2, 3, 4, 6, 7
        ModelProto = GraphProto = "the messages of onnx_pb2"
    """))
    (fake / "__init__.py").write_text("from onnx import onnx_pb\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    r = run_python("from reluc.formats import onnxproto; print(onnxproto.ModelProto)", env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "the messages of onnx_pb2"
