"""ONNX's protobuf messages (``ModelProto``, ``TensorProto``...) without ``import onnx``.

``import onnx`` loads the whole package (its checker's C extension, the helpers, the
JSON and text formats): 0.07-0.1 s of CPU, where reading a model needs only the
generated message classes, ``onnx/onnx_ml_pb2.py``, which import nothing but protobuf.
Readers take the classes from here; that module is loaded from the installed package
under its own name (``onnx.onnx_ml_pb2``), so that an ``import onnx`` later in the same
process finds it and uses the same classes. Anything rarer than the readers' everyday
needs goes to onnx itself (:func:`attribute_value`, :func:`np_dtype`, :func:`to_array`).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

PB2 = "onnx.onnx_ml_pb2"  # what onnx.onnx_pb re-exports in a build with ONNX_ML (pip's)


def _messages():
    if PB2 in sys.modules:
        return sys.modules[PB2]
    spec = importlib.util.find_spec("onnx")  # (finds the package, does not run it)
    here = os.path.dirname(spec.origin) if spec is not None and spec.origin else ""
    path = os.path.join(here, "onnx_ml_pb2.py")
    if os.path.isfile(path) and _ml_build(here):
        pb2 = importlib.util.spec_from_file_location(PB2, path)
        module = importlib.util.module_from_spec(pb2)
        sys.modules[PB2] = module  # where import onnx will look for it
        try:
            pb2.loader.exec_module(module)
        except BaseException:
            del sys.modules[PB2]
            raise
        return module
    import onnx
    return onnx.onnx_pb


def _ml_build(here: str) -> bool:
    """Whether onnx's own messages are those of ``onnx_ml_pb2`` (``onnx/onnx_pb.py``
    imports them), so that loading it is what ``import onnx`` would do."""
    try:
        with open(os.path.join(here, "onnx_pb.py")) as f:
            return "onnx_ml_pb2" in f.read()
    except OSError:
        return False


_pb = _messages()
ModelProto, GraphProto, TensorProto = _pb.ModelProto, _pb.GraphProto, _pb.TensorProto
AttributeProto = _pb.AttributeProto

# the dtypes of the tensors a network's reader meets; others are onnx's to map
_DTYPES = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64,
           TensorProto.INT32: np.int32, TensorProto.INT64: np.int64,
           TensorProto.FLOAT16: np.float16, TensorProto.INT8: np.int8,
           TensorProto.UINT8: np.uint8, TensorProto.BOOL: np.bool_}
_ATTRIBUTES = {AttributeProto.INT: lambda a: a.i, AttributeProto.FLOAT: lambda a: a.f,
               AttributeProto.INTS: lambda a: list(a.ints),
               AttributeProto.FLOATS: lambda a: list(a.floats),
               AttributeProto.STRING: lambda a: a.s, AttributeProto.TENSOR: lambda a: a.t}


def np_dtype(data_type: int) -> np.dtype:
    """``onnx.helper.tensor_dtype_to_np_dtype``."""
    if data_type in _DTYPES:
        return np.dtype(_DTYPES[data_type])
    from onnx import helper
    return helper.tensor_dtype_to_np_dtype(data_type)


def attribute_value(a) -> object:
    """``onnx.helper.get_attribute_value``."""
    if a.type in _ATTRIBUTES:
        return _ATTRIBUTES[a.type](a)
    from onnx import helper
    return helper.get_attribute_value(a)


def to_array(tensor, base_dir: str | None = None) -> np.ndarray:
    """``onnx.numpy_helper.to_array`` (tensors stored otherwise than as raw bytes)."""
    from onnx import numpy_helper
    return numpy_helper.to_array(tensor, base_dir) if base_dir is not None \
        else numpy_helper.to_array(tensor)
