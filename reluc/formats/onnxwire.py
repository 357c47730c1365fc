"""The protobuf wire format of ONNX files, only what streaming needs: varints and field
headers for a writer that splices a model together a layer at a time, and a reader that
walks a model's fields without parsing its (possibly huge) initializers' data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from reluc.errors import NetworkFileError
from reluc.formats.ell import blocks_of
from reluc.formats.onnxproto import ModelProto, TensorProto, np_dtype, to_array

if TYPE_CHECKING:
    import scipy.sparse as sp

ELEM = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}
BLOCK_BYTES = 1 << 24  # dense rows produced per write: about 16 MiB
# field numbers: ModelProto.doc_string, .graph; GraphProto.initializer; TensorProto.raw_data
MODEL_DOC, MODEL_GRAPH, GRAPH_INITIALIZER, TENSOR_RAW_DATA = 6, 7, 5, 9


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def len_field(field: int, length: int) -> bytes:
    """Tag and length prefix of a length-delimited field."""
    return varint(field << 3 | 2) + varint(length)


def field_bytes(field: int, wire: int, payload: bytes) -> bytes:
    key = varint(field << 3 | wire)
    return key + (varint(len(payload)) if wire == 2 else b"") + payload


class TensorField:
    """An initializer whose raw bytes are produced in blocks when written (a sparse
    matrix densified a block of rows at a time), inline or into an external data file."""

    def __init__(self, name: str, matrix: sp.csr_array | np.ndarray, dtype: str):
        self.name, self.matrix = name, matrix
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.elem = {"int64": TensorProto.INT64, "int32": TensorProto.INT32}.get(dtype) \
            or ELEM[dtype]
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
        self.body_len = len(self.head) + len(len_field(TENSOR_RAW_DATA, self.raw_len)) + self.raw_len

    def make_external(self, location: str, offset: int) -> None:
        self.external = (location, offset)
        self._layout()

    def field_len(self) -> int:
        return len(len_field(GRAPH_INITIALIZER, self.body_len)) + self.body_len

    def write(self, out: BinaryIO) -> None:
        """The initializer field (with its data unless the data is external)."""
        out.write(len_field(GRAPH_INITIALIZER, self.body_len))
        out.write(self.head)
        if self.external is None:
            out.write(len_field(TENSOR_RAW_DATA, self.raw_len))
            self.write_data(out)

    def write_data(self, out: BinaryIO) -> None:
        m = self.matrix
        if isinstance(m, np.ndarray):
            out.write(np.ascontiguousarray(m, dtype=self.dtype).data)
            return
        rows = max(1, BLOCK_BYTES // max(1, m.shape[1] * self.dtype.itemsize))
        for r in range(0, m.shape[0], rows):
            out.write(m[r : r + rows].toarray().astype(self.dtype).tobytes())


class WireReader:
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


class LazyTensor:
    """An initializer whose (possibly huge) raw data is read only when needed."""

    def __init__(self, reader: WireReader, start: int, length: int, base_dir: str | None):
        self.reader, self.base_dir = reader, base_dir
        head = bytearray()
        self.raw = None
        for field, wire, s0, n in reader.fields(start + length):
            if field == TENSOR_RAW_DATA and wire == 2:
                self.raw = (s0, n)
            else:
                head += field_bytes(field, wire, reader.raw(s0, n))
        self.proto = TensorProto()
        try:
            self.proto.ParseFromString(bytes(head))
        except Exception:
            raise NetworkFileError("damaged tensor in ONNX file") from None
        self.name = self.proto.name

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.proto.dims)

    def _raw_dtype(self) -> np.dtype:
        t = self.proto
        dtype = np_dtype(t.data_type).newbyteorder("<")
        length = self.raw[1]
        if length % dtype.itemsize or length // dtype.itemsize != math.prod(t.dims):
            raise NetworkFileError(f"tensor '{t.name}' has the wrong amount of data")
        return dtype

    def blocks(self, block: int) -> Iterator[np.ndarray]:
        """The entries in row-major order, in flat blocks of ``block``: the raw data read
        into one buffer that each block overwrites (a huge tensor is never in memory)."""
        if self.raw is None:
            yield from blocks_of(self.array(), block)
            return
        dtype, (start, length) = self._raw_dtype(), self.raw
        count = length // dtype.itemsize
        buf = np.empty(min(block, count), dtype=dtype)
        for first in range(0, count, block):
            seg = buf[: min(block, count - first)]
            self.reader.f.seek(start + first * dtype.itemsize)
            if self.reader.f.readinto(memoryview(seg).cast("B")) != seg.nbytes:
                raise NetworkFileError("truncated file")
            yield seg

    def array(self) -> np.ndarray:
        t = self.proto
        if self.raw is not None:
            dtype, (start, length) = self._raw_dtype(), self.raw
            data = np.frombuffer(self.reader.raw(start, length), dtype=dtype)
            return data.reshape(tuple(t.dims))
        if t.data_location == TensorProto.EXTERNAL:
            if self.base_dir is None:
                raise NetworkFileError("a model with external data must be read from a file")
            return to_array(t, self.base_dir)
        return to_array(t)


def scan_model(f: BinaryIO, base_dir: str | None) -> tuple[ModelProto, dict[str, LazyTensor]]:
    """Read a model without its initializers' data: returns the model (graph without
    initializers) and the initializers as lazy tensors. Peak memory: the small parts."""
    reader = WireReader(f)
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    model_rest, graph_rest = bytearray(), bytearray()
    tensors: dict[str, LazyTensor] = {}
    for field, wire, start, length in reader.fields(size):
        if field == MODEL_GRAPH and wire == 2:
            for gf, gw, gs, gl in reader.fields(start + length):
                if gf == GRAPH_INITIALIZER and gw == 2:
                    t = LazyTensor(reader, gs, gl, base_dir)
                    tensors[t.name] = t
                else:
                    graph_rest += field_bytes(gf, gw, reader.raw(gs, gl))
        else:
            model_rest += field_bytes(field, wire, reader.raw(start, length))
    model = ModelProto()
    try:
        model.ParseFromString(bytes(model_rest))
        model.graph.ParseFromString(bytes(graph_rest))
    except Exception as e:
        raise NetworkFileError(f"not a valid ONNX file ({type(e).__name__})") from None
    if not model.graph.node or not model.graph.output:
        raise NetworkFileError("not a valid ONNX file (no graph)")
    return model, tensors
