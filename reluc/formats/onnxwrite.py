"""Writing ONNX files: a plain chain ``Gemm(transB=1) -> Relu -> ... -> Gemm`` (dense
layout) or per layer ``Gather -> MatMul -> Reshape -> Add`` on transposed activations
(sparse layout).

Written layout (opset 17, IR version 8, set explicitly):

- one input ``x`` of shape ``[batch, n_in]`` (symbolic ``batch``), one output ``y`` of shape
  ``[batch, n_out]``, element type float32 (default) or float64;
- dense: layer ``i`` is ``Gemm(h_i, W<i>, B<i>, transB=1)`` with ``W<i>`` of shape
  (out, in), the ``torch.nn.Linear`` layout, and a bias always present, followed by
  ``Relu`` except after the last layer; sparse: ``Transpose``, then per layer the ELLPACK
  tables row by row, ``I<i>`` (int32 ``[out, K]``: row r's k-th nonzero's column at
  ``[r, k]``, padded with column 0) and ``W<i>`` (``[out, 1, K]``, padded with 0): the
  gathered rows ``[out, K, batch]`` multiplied by ``MatMul(W<i>, .)``, one ``[1, K] x [K,
  batch]`` product a row (``[out, 1, batch]``), reshaped by ``S<i>`` (``[out, -1]``), plus
  ``B<i>`` (``[out, 1]``), no ``Add`` and no ``B<i>`` where the source knows the bias to
  be zero (:meth:`reluc.net.Shape.zero_biases`: every layer of a comparator network on
  R); where it knows the rows to come in negated pairs (:meth:`reluc.net.Shape.negated_pairs`:
  row ``2k + 1`` is ``-(row 2k)``, every hidden layer of a comparator network on R), the
  tables hold the even rows alone (``[out/2, K]``) and the products ``[out/2, 1, batch]``
  are followed by ``Neg`` and ``Concat`` of the two along axis 1 (``[out/2, 2, batch]``)
  before the Reshape: half the gathers and products, the same outputs bit for bit
  (negation is exact); then ``Transpose``; initializers are little-endian ``raw_data``.
  (Earlier files summed the slots otherwise; :mod:`.onnxsparse` reads them all. This
  form runs 1.3-1.7x faster in onnxruntime: ``bench/encodings.py``);
- ``producer_name="reluc"``, ``producer_version``, ``domain="org.reluc"``,
  ``model_version=1``, ``metadata_props`` as in :mod:`reluc.formats.metadata`.

The writer streams: it takes a :class:`Net` or a :class:`LayerStream` and writes each
layer's initializers as the layer comes (dense weights a block of rows at a time), so a
few layers are in memory, never the network. The graph's length prefix is written last,
into room reserved with the model's doc string (see :func:`write_onnx`); fields stay in
field-number order, so the bytes are identical to ``onnx.ModelProto.SerializeToString()``
of the same model (a test pins this). Reading is :mod:`reluc.formats.onnxread`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import BinaryIO

import numpy as np
import onnx
from onnx import helper

from reluc import __version__
from reluc.errors import NetworkError, NetworkFileError
from reluc.formats.ell import ell
from reluc.formats.metadata import FileInfo
from reluc.formats.onnxwire import (ELEM, GRAPH_INITIALIZER, MODEL_DOC, MODEL_GRAPH,
                                    TensorField, len_field, varint)
from reluc.ranges import RangeBound

OPSET = 17
IR_VERSION = 8
MAX_PROTO = (1 << 31) - 1  # protobuf's 2 GiB limit


def _nodes(depth: int, layout: str, zero_bias: tuple[bool, ...],
           pairs: tuple[str, ...]) -> list[onnx.NodeProto]:
    """The graph's nodes, which depend only on the number of layers, the layout and, in
    the sparse layout, which layers are known to have no bias (``zero_bias``: no Add)
    and which to have their rows in negated pairs (``pairs``, :func:`pair_forms`: each
    pair's sum made once, then Neg and Concat, or a Mul by [1, -1])."""
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
        else:  # z[r, :] = sum_k W[r, 0, k] h[I[r, k], :] + b[r], a product a row
            zt = "yt" if i == last else z
            biased = not zero_bias[i]  # else the sums are z
            sums = f"t{i}" if biased else zt
            nodes += [
                helper.make_node("Gather", [h, f"I{i}"], [f"g{i}"], name=f"gather{i}", axis=0),
                helper.make_node("MatMul", [w, f"g{i}"], [f"s{i}"], name=f"product{i}"),
            ]  # fmt: skip
            s = f"s{i}"
            if pairs[i] == "concat":  # [out/2, 1, batch] -> rows 2k, 2k + 1 = s[k], -s[k]
                nodes += [
                    helper.make_node("Neg", [s], [f"n{i}"], name=f"negated{i}"),
                    helper.make_node("Concat", [s, f"n{i}"], [f"p{i}"], name=f"pairs{i}", axis=1),
                ]  # fmt: skip
                s = f"p{i}"
            elif pairs[i]:  # "signs": s times [1, -1] ([1, 2, 1]), broadcast: [out/2, 2, batch]
                nodes.append(helper.make_node("Mul", [s, f"N{i}"], [f"p{i}"], name=f"pairs{i}"))
                s = f"p{i}"
            nodes.append(helper.make_node("Reshape", [s, f"S{i}"], [sums], name=f"rows{i}"))
            if biased:
                nodes.append(helper.make_node("Add", [sums, b], [zt], name=f"add{i}"))
            if i == last:
                nodes.append(helper.make_node("Transpose", ["yt"], ["y"], name="transpose_out",
                                              perm=[1, 0]))
        if i < last:
            h = f"h{i + 1}"
            nodes.append(helper.make_node("Relu", [z], [h], name=f"relu{i}"))
    return nodes


def _tensors(source, dtype: str, layout: str, zero_bias: tuple[bool, ...],
             pairs: tuple[str, ...]):
    """The initializers, produced one layer at a time as the source yields its layers;
    each item: (layer number, tensors, layer). No bias where ``zero_bias`` says there is
    none (the source checks that its layers agree); the even rows' tables alone where
    ``pairs`` says the rows come in negated pairs (checked here, on the tables)."""
    for i, layer in enumerate(source.iter_layers(ahead=2)):
        w, b = f"W{i}", f"B{i}"
        if layout == "dense":
            yield i, [TensorField(w, layer.weight, dtype), TensorField(b, layer.bias, dtype)], layer
        else:  # the ELLPACK tables row by row: row r's k-th nonzero at [r, k]
            it = "int32" if layer.n_in < 2**31 else "int64"
            idx, val = ell(layer.weight, it, dtype)
            if pairs[i]:
                idx, val = _even_rows(idx, val, i)
            tables = [TensorField(f"I{i}", idx, it),
                      TensorField(w, val.reshape(len(val), 1, -1), dtype),
                      TensorField(f"S{i}", np.array([layer.n_out, -1], dtype=np.int64), "int64")]
            if pairs[i] == "signs":  # the pairs' signs, [1, 2, 1]
                tables.append(TensorField(f"N{i}", np.array([1.0, -1.0]).reshape(1, 2, 1), dtype))
            if not zero_bias[i]:
                tables.append(TensorField(b, layer.bias.reshape(-1, 1), dtype))
            yield i, tables, layer


# Rows in negated pairs: with a Neg and a Concat where a layer has fewer rows than this,
# with one Mul by [1, -1] (broadcast) from it on. onnxruntime alone, 64 rows a call over
# two threads (CPU s, alternating): sort n=4096 (8192 rows) 1.48-1.66 against 1.84-1.88
# for the Mul; n=16384 (32768 rows) 5.05-5.66 against 5.44-5.64; n=32768 (65536 rows)
# 7.0-7.6 against 6.8; n=65536 (131072 rows) 17.6-21.5 against 14.0-18.3. The outputs are
# the same bits either way (negation and a product by -1 are exact).
WIDE_PAIRS = 1 << 16


def pair_forms(pairs: tuple[bool, ...], widths: tuple[int, ...]) -> tuple[str, ...]:
    """Per layer: "" (rows not in pairs), "concat" or "signs" (see :data:`WIDE_PAIRS`)."""
    return tuple("" if not p else "signs" if w >= WIDE_PAIRS else "concat"
                 for p, w in zip(pairs, widths))


def _even_rows(idx: np.ndarray, val: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    """The tables of the even rows of a layer declared in negated pairs, once its odd
    rows are seen to be their negations (padding included: a pair's rows have the same
    length)."""
    if len(idx) % 2 or not (np.array_equal(idx[1::2], idx[0::2])
                            and np.array_equal(val[1::2], -val[0::2])):
        raise NetworkError(f"layer {i} has rows that are not in negated pairs, declared "
                           "paired")  # a constructor's bug, never a user's error
    return idx[0::2], val[0::2]


def dense_bytes(net, dtype: str) -> int:
    """Bytes of the dense weights and biases of ``net`` (a Net or a stream) in ``dtype``."""
    return net.params * np.dtype(dtype).itemsize


class ModelTooLarge(NetworkFileError):
    """The model passed protobuf's 2 GiB limit while being written inline."""


def write_onnx(source, info: FileInfo, out: BinaryIO, dtype: str = "float32",
               layout: str = "dense", external: ExternalData | None = None,
               progress=None, limit: int = MAX_PROTO) -> tuple[int, int, FileInfo]:
    """Stream a network (a :class:`Net` or a :class:`LayerStream`) as an ONNX model to
    ``out``, one layer at a time; returns (bytes written, nonzero parameters, the
    metadata written: ``info`` with the input limit found on the way).
    ``layout``: ``dense`` (Gemm chain) or ``sparse`` (Gather, a MatMul a row, Add).
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
    while len(varint(doc_len)) != len(varint(doc_len + 4)):
        doc_len += 1
    room = len(len_field(MODEL_DOC, doc_len)) + doc_len + 1 + 5
    elem = ELEM[dtype]
    zero_bias = source.zero_biases()  # (the dense layout's Gemm always takes its bias)
    pairs = pair_forms(source.negated_pairs(), source.widths_out) if layout == "sparse" else ()
    graph_head = onnx.GraphProto(name="reluc",
                                 node=_nodes(source.depth, layout, zero_bias, pairs)
                                 ).SerializeToString()
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
    for i, tensors, layer in _tensors(source, dtype, layout, zero_bias, pairs):
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
                external.spots.append(out.tell() + len(len_field(GRAPH_INITIALIZER, t.body_len))
                                      + t.head.find(external.location.encode()))
            t.write(out)
        nnz += layer.nnz
        bound.add(layer)
        if progress:
            progress(i + 1, source.depth)
    out.write(graph_tail)
    graph_len += len(graph_tail)
    info = dataclasses.replace(info, input_limit=bound.limit())
    out.write(_model_tail(info))
    end = out.tell()
    pad = 5 - len(varint(graph_len))
    if pad < 0:
        raise ModelTooLarge("the ONNX graph passes 32 GiB")
    text = doc + b" " * (doc_len + pad - len(doc))
    fill = len_field(MODEL_DOC, len(text)) + text + len_field(MODEL_GRAPH, graph_len)
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
