"""ONNX files: a plain chain ``Gemm(transB=1) -> Relu -> ... -> Gemm`` (dense layout) or
per layer ``Gather -> Mul -> ReduceSum -> Add`` on transposed activations (sparse layout).

Written layout (opset 17, IR version 8, set explicitly):

- one input ``x`` of shape ``[batch, n_in]`` (symbolic ``batch``), one output ``y`` of shape
  ``[batch, n_out]``, element type float32 (default) or float64;
- dense: layer ``i`` is ``Gemm(h_i, W<i>, B<i>, transB=1)`` with ``W<i>`` of shape
  (out, in), the ``torch.nn.Linear`` layout, and a bias always present, followed by
  ``Relu`` except after the last layer; sparse: ``Transpose``, then per layer the ELLPACK
  tables ``I<i>`` (int32 ``[out, K]``) and ``W<i>`` (``[out, K, 1]``) and ``B<i>``
  (``[out, 1]``), then ``Transpose``; initializers are little-endian ``raw_data``;
- ``producer_name="reluc"``, ``producer_version``, ``domain="org.reluc"``,
  ``model_version=1``, ``metadata_props`` as in :mod:`reluc.formats.metadata`.

The writer streams: it takes a :class:`Net` or a :class:`LayerStream` and writes each
layer's initializers as the layer comes (dense weights a block of rows at a time), so a
few layers are in memory, never the network. The graph's length prefix is written last,
into room reserved with the model's doc string (see :func:`write_onnx`); fields stay in
field-number order, so the bytes are identical to ``onnx.ModelProto.SerializeToString()``
of the same model (a test pins this).

The reader yields layers one at a time (:func:`read_onnx_layers`) and accepts any
single-input, single-output chain of Gemm / MatMul / Add / Sub / Relu (plus Identity,
Flatten and Dropout as no-ops), as exported by PyTorch and others, and reluc's sparse
layout.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import onnx
import scipy.sparse as sp
from onnx import TensorProto, helper, numpy_helper

from reluc import __version__
from reluc.errors import NetworkError, NetworkFileError
from reluc.formats.metadata import FileInfo
from reluc.net import Layer
from reluc.ranges import RangeBound

OPSET = 17
IR_VERSION = 8
MAX_PROTO = (1 << 31) - 1  # protobuf's 2 GiB limit
_ELEM = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}
_BLOCK_BYTES = 1 << 24  # dense rows produced per write: about 16 MiB


# -- protobuf wire format (only what splicing needs) --------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(field: int, length: int) -> bytes:
    """Tag and length prefix of a length-delimited field."""
    return _varint(field << 3 | 2) + _varint(length)


_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_RAW_DATA = 7, 5, 9


class _Tensor:
    """An initializer whose raw bytes are produced in blocks when written (a sparse
    matrix densified a block of rows at a time), inline or into an external data file."""

    def __init__(self, name: str, matrix: sp.csr_array | np.ndarray, dtype: str):
        self.name, self.matrix = name, matrix
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.elem = {"int64": TensorProto.INT64, "int32": TensorProto.INT32}.get(dtype) \
            or _ELEM[dtype]
        self.raw_len = int(np.prod(matrix.shape)) * self.dtype.itemsize
        self.external: tuple[str, int] | None = None
        self._layout()

    def _layout(self) -> None:
        head = TensorProto(name=self.name, data_type=self.elem)
        head.dims.extend(self.matrix.shape)
        if self.external is not None:
            location, offset = self.external
            head.data_location = TensorProto.EXTERNAL
            for k, v in (("location", location), ("offset", str(offset)),
                         ("length", str(self.raw_len))):
                head.external_data.add(key=k, value=v)
            self.head = head.SerializeToString()
            self.body_len = len(self.head)
            return
        self.head = head.SerializeToString()
        self.body_len = len(self.head) + len(_len_field(_TENSOR_RAW_DATA, self.raw_len)) + self.raw_len

    def make_external(self, location: str, offset: int) -> None:
        self.external = (location, offset)
        self._layout()

    def field_len(self) -> int:
        return len(_len_field(_GRAPH_INITIALIZER, self.body_len)) + self.body_len

    def write(self, out: BinaryIO) -> None:
        """The initializer field (with its data unless the data is external)."""
        out.write(_len_field(_GRAPH_INITIALIZER, self.body_len))
        out.write(self.head)
        if self.external is None:
            out.write(_len_field(_TENSOR_RAW_DATA, self.raw_len))
            self.write_data(out)

    def write_data(self, out: BinaryIO) -> None:
        m = self.matrix
        if isinstance(m, np.ndarray):
            out.write(np.ascontiguousarray(m, dtype=self.dtype).data)
            return
        rows = max(1, _BLOCK_BYTES // max(1, m.shape[1] * self.dtype.itemsize))
        for r in range(0, m.shape[0], rows):
            out.write(m[r : r + rows].toarray().astype(self.dtype).tobytes())


def ell_width(weight: sp.csr_array) -> int:
    """K of the ELLPACK form: the most nonzeros in a row (at least 1)."""
    counts = np.diff(sp.csr_array(weight).indptr)
    return max(1, int(counts.max()) if counts.size else 1)


def ell(weight: sp.csr_array, idx_dtype=np.int64, val_dtype=np.float64
        ) -> tuple[np.ndarray, np.ndarray]:
    """The ELLPACK form of a sparse matrix: per row, the column indices and values of its
    nonzeros, padded with (0, 0.0) to the longest row: arrays of shape (rows, K)."""
    w = sp.csr_array(weight)
    w.sum_duplicates()
    rows, k = w.shape[0], ell_width(w)
    counts = np.diff(w.indptr)
    idx = np.zeros((rows, k), dtype=idx_dtype)
    val = np.zeros((rows, k), dtype=val_dtype)
    if w.nnz == rows * k:  # no padding: the CSR arrays are the table
        idx.ravel()[:] = w.indices
        val.ravel()[:] = w.data
        return idx, val
    # row r's entries fill its first counts[r] slots, in order (row-major mask order)
    used = np.arange(k, dtype=counts.dtype) < counts[:, None]
    idx[used] = w.indices
    val[used] = w.data
    return idx, val


def _nodes(depth: int, layout: str) -> list[onnx.NodeProto]:
    """The graph's nodes, which depend only on the number of layers and the layout."""
    nodes = []
    h = "x"
    last = depth - 1
    if layout == "sparse":  # activations are kept transposed, (width, batch)
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], name="transpose_in",
                                      perm=[1, 0]))
        h = "xt"
    for i in range(depth):
        w, b = f"W{i}", f"B{i}"
        z = "y" if i == last else f"z{i}"
        if layout == "dense":
            nodes.append(helper.make_node("Gemm", [h, w, b], [z], name=f"gemm{i}", transB=1))
        else:  # z[r, :] = sum_k h[I[r, k], :] V[r, k] + b[r]: Gather, Mul, ReduceSum, Add
            zt = "yt" if i == last else z
            nodes += [
                helper.make_node("Gather", [h, f"I{i}"], [f"g{i}"], name=f"gather{i}", axis=0),
                helper.make_node("Mul", [f"g{i}", w], [f"m{i}"], name=f"mul{i}"),
                helper.make_node("ReduceSum", [f"m{i}", "reduce_axes"], [f"s{i}"],
                                 name=f"sum{i}", keepdims=0),
                helper.make_node("Add", [f"s{i}", b], [zt], name=f"add{i}"),
            ]  # fmt: skip
            if i == last:
                nodes.append(helper.make_node("Transpose", ["yt"], ["y"], name="transpose_out",
                                              perm=[1, 0]))
        if i < last:
            h = f"h{i + 1}"
            nodes.append(helper.make_node("Relu", [z], [h], name=f"relu{i}"))
    return nodes


def _tensors(source, dtype: str, layout: str):
    """The initializers, produced one layer at a time as the source yields its layers;
    each item: (layer number or None, tensors, layer)."""
    if layout == "sparse":
        yield None, [_Tensor("reduce_axes", np.array([1], dtype=np.int64), "int64")], None
    for i, layer in enumerate(source.iter_layers(ahead=2)):
        w, b = f"W{i}", f"B{i}"
        if layout == "dense":
            yield i, [_Tensor(w, layer.weight, dtype), _Tensor(b, layer.bias, dtype)], layer
        else:
            it = "int32" if layer.n_in < 2**31 else "int64"
            idx, val = ell(layer.weight, it, dtype)
            yield i, [_Tensor(f"I{i}", idx, it),
                      _Tensor(w, val.reshape(val.shape + (1,)), dtype),
                      _Tensor(b, layer.bias.reshape(-1, 1), dtype)], layer


def dense_bytes(net, dtype: str) -> int:
    """Bytes of the dense weights and biases of ``net`` (a Net or a stream) in ``dtype``."""
    return net.params * np.dtype(dtype).itemsize


class ModelTooLarge(NetworkFileError):
    """The model passed protobuf's 2 GiB limit while being written inline."""


_MODEL_DOC = 6


def write_onnx(source, info: FileInfo, out: BinaryIO, dtype: str = "float32",
               layout: str = "dense", external: ExternalData | None = None,
               progress=None, limit: int = MAX_PROTO) -> tuple[int, int, FileInfo]:
    """Stream a network (a :class:`Net` or a :class:`LayerStream`) as an ONNX model to
    ``out``, one layer at a time; returns (bytes written, nonzero parameters, the
    metadata written: ``info`` with the input limit found on the way).
    ``layout``: ``dense`` (Gemm chain) or ``sparse`` (Gather/Mul/ReduceSum/Add per layer).
    ``external``: put every large initializer's data into that file instead.
    ``progress(done, total)`` is called with layers written. Raises
    :class:`ModelTooLarge` when an inline model would pass ``limit`` bytes.

    The graph's length prefix precedes the graph, but is known only after the last layer:
    the writer reserves room for it, together with the model's doc string, and fills the
    room in at the end; the doc string is padded with up to four spaces so that the two
    fields fill it exactly. Fields stay in field-number order, so the bytes are those
    protobuf itself would serialise. ``out`` must be seekable."""
    start = out.tell()
    doc = (f"reluc {__version__}: {info.spec}" if info.spec else f"reluc {__version__}").encode()
    model_head = onnx.ModelProto(
        ir_version=IR_VERSION, producer_name="reluc", producer_version=__version__,
        domain="org.reluc", model_version=1,
    ).SerializeToString()  # fmt: skip
    # room for: doc field (length doc_len .. doc_len + 4), graph key, graph length (<= 5)
    doc_len = len(doc)
    while len(_varint(doc_len)) != len(_varint(doc_len + 4)):
        doc_len += 1
    room = len(_len_field(_MODEL_DOC, doc_len)) + doc_len + 1 + 5
    elem = _ELEM[dtype]
    graph_head = onnx.GraphProto(name="reluc", node=_nodes(source.depth, layout)).SerializeToString()
    graph_tail = onnx.GraphProto(
        doc_string=doc.decode(),
        input=[helper.make_tensor_value_info("x", elem, ["batch", source.n_in])],
        output=[helper.make_tensor_value_info("y", elem, ["batch", source.n_out])],
    ).SerializeToString()
    out.write(model_head)
    out.write(bytes(room))
    out.write(graph_head)
    graph_len, nnz, ext_pos = len(graph_head), 0, 0
    # the metadata (model_tail) is written last, with the input limit found on the way;
    # its size is bounded by the entries known now plus room for the limit
    fixed = len(model_head) + room + len(graph_tail) + len(_model_tail(info)) + 64
    bound = RangeBound(dtype)
    for i, tensors, layer in _tensors(source, dtype, layout):
        for t in tensors:
            if external is not None and t.raw_len >= EXTERNAL_MIN_BYTES:
                offset = -(-ext_pos // 4096) * 4096  # page-aligned, as onnx does
                external.write(bytes(offset - ext_pos))
                t.make_external(external.location, offset)
                t.write_data(external)
                ext_pos = offset + t.raw_len
            graph_len += t.field_len()
            if fixed + graph_len > limit:
                raise ModelTooLarge(
                    f"the ONNX model would pass protobuf's 2 GiB limit (layer {i}); use "
                    "--external-data, --layout sparse or .npz")
            if t.external is not None:  # where the data file's name goes, once known
                external.spots.append(out.tell() + len(_len_field(_GRAPH_INITIALIZER, t.body_len))
                                      + t.head.find(external.location.encode()))
            t.write(out)
        if layer is not None:
            nnz += layer.nnz
            bound.add(layer)
            if progress:
                progress(i + 1, source.depth)
    out.write(graph_tail)
    graph_len += len(graph_tail)
    info = dataclasses.replace(info, input_limit=bound.limit())
    out.write(_model_tail(info))
    end = out.tell()
    pad = 5 - len(_varint(graph_len))
    if pad < 0:
        raise ModelTooLarge("the ONNX graph passes 32 GiB")
    text = doc + b" " * (doc_len + pad - len(doc))
    fill = _len_field(_MODEL_DOC, len(text)) + text + _len_field(_MODEL_GRAPH, graph_len)
    assert len(fill) == room
    out.seek(start + len(model_head))
    out.write(fill)
    if external is not None:  # the data file's name carries the digest of its content
        external.finish()
        for spot in external.spots:
            out.seek(spot)
            out.write(external.location.encode())
    out.seek(end)
    return end - start, nnz, info


def _model_tail(info: FileInfo) -> bytes:
    return onnx.ModelProto(
        opset_import=[helper.make_opsetid("", OPSET)],
        metadata_props=[onnx.StringStringEntryProto(key=k, value=v)
                        for k, v in info.to_props().items()],
    ).SerializeToString()  # fmt: skip


EXTERNAL_MIN_BYTES = 1024  # smaller tensors stay inside the model, as onnx's converter does


class ExternalData:
    """Where the external tensor data goes: ``stream`` receives the bytes; the file's name,
    recorded in the model (relative to the model's directory), is
    ``<model file>.<digest>.data`` with the first 16 hex digits of the SHA-256 of the data
    (:attr:`location`, final after :meth:`finish`). A model therefore names the one data
    file that is its own: replacing a model and its data is two renames, and a reader that
    sees the old model (a kill between them, a concurrent build) reads the old data."""

    def __init__(self, model_path: str, stream: BinaryIO):
        self.model_path, self.stream = model_path, stream
        self.location = external_name(model_path, "0" * 16)  # placeholder, same length
        self.spots: list[int] = []  # offsets of the placeholder in the model
        self._hash = hashlib.sha256()

    def write(self, data) -> None:
        self._hash.update(data)
        self.stream.write(data)

    def finish(self) -> None:
        self.location = external_name(self.model_path, self._hash.hexdigest()[:16])


def external_name(model_path: str, digest: str) -> str:
    """The name of a model's external data file: ``<model file>.<digest>.data``."""
    return f"{os.path.basename(model_path)}.{digest}.data"


def external_names(model_path: str) -> list[str]:
    """Paths of every external data file reluc may have written for ``model_path``
    (this version's digest-named ones and the ``<model file>.data`` of earlier ones)."""
    import glob

    base = os.path.abspath(model_path)
    pattern = glob.escape(base) + "." + "[0-9a-f]" * 16 + ".data"
    return sorted(glob.glob(pattern)) + ([base + ".data"] if os.path.exists(base + ".data") else [])


# -- reading ------------------------------------------------------------------------------

_PASS_THROUGH = {"Identity", "Dropout"}
# inputs each operator of a chain takes (at least, at most), as ONNX defines them
_ARITY = {"Gather": (2, 2), "Mul": (2, 2), "ReduceSum": (1, 2), "Add": (2, 2), "Sub": (2, 2),
          "Gemm": (2, 3), "MatMul": (2, 2), "Relu": (1, 1), "Transpose": (1, 1),
          "Identity": (1, 1), "Flatten": (1, 1), "Dropout": (1, 3)}


class _Reader:
    """Sequential reads of a seekable binary file with protobuf varints."""

    def __init__(self, f: BinaryIO):
        self.f = f

    def varint(self) -> int | None:
        shift = result = 0
        while True:
            b = self.f.read(1)
            if not b:
                if shift == 0:
                    return None  # clean end of input
                raise NetworkFileError("truncated file")
            result |= (b[0] & 0x7F) << shift
            if not b[0] & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise NetworkFileError("malformed varint")

    def fields(self, end: int):
        """Yield (field number, wire type, payload start, payload length) up to ``end``;
        the caller may read the payload; the reader always continues after it."""
        while self.f.tell() < end:
            key = self.varint()
            if key is None:
                break
            field, wire = key >> 3, key & 7
            if wire == 0:
                start = self.f.tell()
                self.varint()
                length = self.f.tell() - start
            elif wire == 1:
                start, length = self.f.tell(), 8
            elif wire == 2:
                length = self.varint()
                if length is None:
                    raise NetworkFileError("truncated file")
                start = self.f.tell()
            elif wire == 5:
                start, length = self.f.tell(), 4
            else:
                raise NetworkFileError(f"not an ONNX file (protobuf wire type {wire})")
            if start + length > end:
                raise NetworkFileError("truncated file")
            yield field, wire, start, length
            self.f.seek(start + length)

    def raw(self, start: int, length: int) -> bytes:
        self.f.seek(start)
        data = self.f.read(length)
        if len(data) != length:
            raise NetworkFileError("truncated file")
        return data


def _field_bytes(field: int, wire: int, payload: bytes) -> bytes:
    key = _varint(field << 3 | wire)
    return key + (_varint(len(payload)) if wire == 2 else b"") + payload


class _LazyTensor:
    """An initializer whose (possibly huge) raw data is read only when needed."""

    def __init__(self, reader: _Reader, start: int, length: int, base_dir: str | None):
        self.reader, self.base_dir = reader, base_dir
        head = bytearray()
        self.raw = None
        for field, wire, s0, n in reader.fields(start + length):
            if field == _TENSOR_RAW_DATA and wire == 2:
                self.raw = (s0, n)
            else:
                head += _field_bytes(field, wire, reader.raw(s0, n))
        self.proto = TensorProto()
        try:
            self.proto.ParseFromString(bytes(head))
        except Exception:
            raise NetworkFileError("damaged tensor in ONNX file") from None
        self.name = self.proto.name

    def array(self) -> np.ndarray:
        t = self.proto
        if self.raw is not None:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).newbyteorder("<")
            data = np.frombuffer(self.reader.raw(*self.raw), dtype=dtype)
            if data.size != int(np.prod(t.dims)):
                raise NetworkFileError(f"tensor '{t.name}' has the wrong amount of data")
            return data.reshape(tuple(t.dims))
        if t.data_location == TensorProto.EXTERNAL:
            if self.base_dir is None:
                raise NetworkFileError("a model with external data must be read from a file")
            return numpy_helper.to_array(t, self.base_dir)
        return numpy_helper.to_array(t)


def scan_model(f: BinaryIO, base_dir: str | None) -> tuple[onnx.ModelProto, dict[str, _LazyTensor]]:
    """Read a model without its initializers' data: returns the model (graph without
    initializers) and the initializers as lazy tensors. Peak memory: the small parts."""
    reader = _Reader(f)
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    model_rest, graph_rest = bytearray(), bytearray()
    tensors: dict[str, _LazyTensor] = {}
    for field, wire, start, length in reader.fields(size):
        if field == _MODEL_GRAPH and wire == 2:
            for gf, gw, gs, gl in reader.fields(start + length):
                if gf == _GRAPH_INITIALIZER and gw == 2:
                    t = _LazyTensor(reader, gs, gl, base_dir)
                    tensors[t.name] = t
                else:
                    graph_rest += _field_bytes(gf, gw, reader.raw(gs, gl))
        else:
            model_rest += _field_bytes(field, wire, reader.raw(start, length))
    model = onnx.ModelProto()
    try:
        model.ParseFromString(bytes(model_rest))
        model.graph.ParseFromString(bytes(graph_rest))
    except Exception as e:
        raise NetworkFileError(f"not a valid ONNX file ({type(e).__name__})") from None
    if not model.graph.node or not model.graph.output:
        raise NetworkFileError("not a valid ONNX file (no graph)")
    return model, tensors


def read_onnx_layers(source: str | bytes) -> tuple[Iterator[Layer], FileInfo]:
    """The file's metadata, and its layers one at a time (an initializer's data is read
    when its layer is reached), so that a pass over a network needs a few layers of
    memory. The iterator raises :class:`NetworkFileError` for a damaged network."""
    if isinstance(source, bytes):
        f, base = io.BytesIO(source), None
    else:
        try:
            f, base = open(source, "rb"), os.path.dirname(os.path.abspath(source))
        except FileNotFoundError:
            raise NetworkFileError(f"no such file: {source}") from None
    try:
        model, consts = scan_model(f, base)
        graph = model.graph
        inputs = [i for i in graph.input if i.name not in consts]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise NetworkFileError(f"expected one input and one output, found {len(inputs)} "
                                   f"and {len(graph.output)}")
        elem = inputs[0].type.tensor_type.elem_type
        dtype = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}.get(elem)
        if dtype is None:
            raise NetworkFileError("the input must be float32 or float64")
    except BaseException:
        f.close()
        raise
    dims = inputs[0].type.tensor_type.shape.dim
    width = dims[-1].dim_value if len(dims) and dims[-1].dim_value > 0 else None
    props = {p.key: p.value for p in model.metadata_props}

    def layers() -> Iterator[Layer]:
        with f:
            try:
                yield from _walk_chain(graph, consts, inputs[0].name, width)
            except NetworkError as e:
                raise NetworkFileError(f"inconsistent network: {e}") from None

    return layers(), FileInfo.from_props(props, dtype=dtype)


def _array(consts, name: str, node) -> np.ndarray:
    if name not in consts:
        raise NetworkFileError(
            f"node '{node.name or node.op_type}': '{name}' is not a constant; reluc reads "
            "networks whose weights are initializers or Constant nodes"
        )
    t = consts[name]
    try:
        a = t.array() if isinstance(t, _LazyTensor) else t
    except NetworkFileError:
        raise
    except Exception as e:
        raise NetworkFileError(f"cannot read tensor '{name}': {e}") from None
    return np.asarray(a, dtype=np.float64)


def _broadcast(c: np.ndarray, n: int, where: str) -> np.ndarray:
    """A bias constant as a vector of length ``n`` (a scalar or ``n`` values, in any
    shape of that size, as ONNX broadcasting allows along the features)."""
    if c.size not in (1, n):
        raise NetworkFileError(f"{where}: a bias of shape {c.shape} for {n} values")
    return np.broadcast_to(c.reshape(-1), (n,)).copy()


def _walk_chain(graph, consts, x_name: str, width: int | None) -> Iterator[Layer]:
    """Fold the chain into layers, yielding each as its ReLU is reached; ``width`` is the
    current vector length when known."""
    cur = x_name
    prev_out: int | None = None  # outputs of the last layer yielded

    def emit(w, b) -> Layer:
        nonlocal prev_out
        layer = Layer(w, b)
        if prev_out is not None and layer.n_in != prev_out:
            raise NetworkFileError(f"a layer takes {layer.n_in} inputs but the previous "
                                   f"one produces {prev_out}")
        prev_out = layer.n_out
        return layer

    w: sp.csr_array | None = None  # pending affine map (W, b) since the last Relu
    b: np.ndarray | None = None

    def pending_identity():
        if width is None:
            raise NetworkFileError("cannot infer the input width before the first layer")
        return sp.identity(width, format="csr"), np.zeros(width)

    gathered = None  # (indices, values) of a Gather -> Mul -> ReduceSum in progress
    transposed = False  # activations held as (width, batch), as in reluc's sparse layout

    for node in graph.node:
        op = node.op_type
        if op == "Constant":
            attr = {a.name: a for a in node.attribute}
            if "value" not in attr:
                raise NetworkFileError("only dense Constant nodes are supported")
            consts[node.output[0]] = numpy_helper.to_array(attr["value"].t)
            continue
        data_inputs = [i for i in node.input if i and i not in consts]
        if data_inputs != [cur]:
            raise NetworkFileError(
                f"node '{node.name or op}' ({op}) does not continue a single chain from the "
                "input; reluc reads feed-forward chains of Gemm/MatMul/Add/Relu"
            )
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        lo, hi = _ARITY.get(op, (1, 1 << 30))
        if not lo <= len(node.input) <= hi or not node.output:
            raise NetworkFileError(f"node '{node.name or op}': {op} with {len(node.input)} "
                                   f"input{'s' if len(node.input) != 1 else ''} and "
                                   f"{len(node.output)} outputs")
        if gathered is not None and op not in ("Mul", "ReduceSum"):
            raise NetworkFileError(f"node '{node.name or op}': a Gather must be followed by "
                                   "Mul and ReduceSum (reluc's sparse layout)")
        if op == "Transpose":
            if list(attrs.get("perm", [1, 0])) != [1, 0]:
                raise NetworkFileError("only 2-D transposes (perm 1,0) are supported")
            transposed = not transposed
        elif op == "Gather":  # reluc's sparse layout: Gather -> Mul -> ReduceSum
            if width is None:
                raise NetworkFileError("cannot infer the input width before a Gather")
            if attrs.get("axis", 0) != (0 if transposed else 1) or node.input[0] != cur:
                raise NetworkFileError("Gather must pick the features of the activations")
            idx = _array(consts, node.input[1], node).astype(np.int64)
            if idx.ndim != 2 or (idx.size and (idx.min() < 0 or idx.max() >= width)):
                raise NetworkFileError(f"node '{node.name or op}': bad gather indices")
            gathered = [idx, None]
        elif op == "Mul" and gathered is not None:
            val = _array(consts, next(i for i in node.input if i != cur), node)
            if val.size != gathered[0].size:
                raise NetworkFileError(f"node '{node.name or op}': values do not match the "
                                       "gather indices")
            gathered[1] = val.reshape(gathered[0].shape)
        elif op == "ReduceSum" and gathered is not None:
            axes = _array(consts, node.input[1], node) if len(node.input) > 1 else None
            want = [[1]] if transposed else [[2], [-1]]
            if gathered[1] is None or axes is None or list(axes.astype(int)) not in want \
                    or attrs.get("keepdims", 1) != 0:
                raise NetworkFileError(f"node '{node.name or op}': expected ReduceSum over "
                                       "the last axis without keepdims")
            idx, val = gathered
            gathered = None
            rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
            keep = val.ravel() != 0
            step = sp.csr_array((val.ravel()[keep], (rows[keep], idx.ravel()[keep])),
                                shape=(idx.shape[0], width))
            step.sum_duplicates()
            bias = np.zeros(step.shape[0])
            if w is None:
                w, b = step, bias
            else:
                w, b = sp.csr_array(step @ w), step @ b + bias
            width = w.shape[0]
        elif op in ("Gemm", "MatMul") and transposed:
            raise NetworkFileError(f"node '{node.name or op}': {op} on transposed activations")
        elif op in ("Gemm", "MatMul"):
            where = f"node '{node.name or op}'"
            if len(node.input) < 2:
                raise NetworkFileError(f"{where}: {op} needs a weight input")
            if node.input[0] != cur or (op == "Gemm" and attrs.get("transA", 0)):
                raise NetworkFileError(f"{op} must take the activations as its first input")
            mat = _array(consts, node.input[1], node)
            if mat.ndim != 2:
                raise NetworkFileError(f"{where}: weights must be a matrix, got shape "
                                       f"{mat.shape}")
            if op == "Gemm":
                lin = mat if attrs.get("transB", 0) else mat.T
                lin = lin * float(attrs.get("alpha", 1.0))
                bias = np.zeros(lin.shape[0])
                if len(node.input) > 2 and node.input[2]:
                    c = _array(consts, node.input[2], node) * float(attrs.get("beta", 1.0))
                    bias = _broadcast(c, lin.shape[0], where)
            else:
                lin = mat.T
                bias = np.zeros(lin.shape[0])
            step = sp.csr_array(lin)
            if w is None:
                w, b = step, bias
            else:
                if step.shape[1] != w.shape[0]:
                    raise NetworkFileError(f"node '{node.name or op}': shape mismatch")
                w, b = sp.csr_array(step @ w), step @ b + bias
            width = w.shape[0]
        elif op in ("Add", "Sub"):
            others = [i for i in node.input if i != cur]
            if len(node.input) != 2 or len(others) != 1:
                raise NetworkFileError(f"node '{node.name or op}': {op} must combine the "
                                       "activations with one constant")
            c = _array(consts, others[0], node)
            if w is None:
                w, b = pending_identity()
            sign = -1.0 if op == "Sub" else 1.0
            if op == "Sub" and node.input[0] != cur:
                raise NetworkFileError("Sub must subtract a constant from the activations")
            b = b + sign * _broadcast(c, b.shape[0], f"node '{node.name or op}'")
        elif op == "Relu":
            if w is None:
                w, b = pending_identity()
            yield emit(w, b)
            w, b = None, None
        elif op in _PASS_THROUGH or (op == "Flatten" and attrs.get("axis", 1) == 1):
            pass
        else:
            raise NetworkFileError(
                f"unsupported ONNX operator '{op}' (node '{node.name or op}'); reluc reads "
                "ReLU MLPs built from Gemm, MatMul, Add, Sub and Relu (and its own sparse "
                "layout, Gather-Mul-ReduceSum)"
            )
        cur = node.output[0]
        if width is None and w is not None:
            width = w.shape[0]
    if cur != graph.output[0].name:
        raise NetworkFileError("the graph output is not the end of the chain")
    if transposed or gathered is not None:
        raise NetworkFileError("the chain ends with transposed or half-reduced activations")
    if w is None:
        w, b = pending_identity()
    yield emit(w, b)
