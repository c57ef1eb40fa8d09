"""Just enough FlatBuffers to summarize a TensorFlow Lite model without reading its weights.

A `.tflite` file is a FlatBuffer (`tensorflow/compiler/mlir/lite/schema/schema.fbs`): a u32
offset to the root `Model` table, then the file identifier `TFL3`.  A table starts with an i32
back-offset to its vtable (u16 vtable size, u16 table size, u16 field offsets); references are
u32 offsets relative to where they are stored; vectors and strings are a u32 length then items.
Every read is bounds-checked against the file size and done with small seeks, so a 2 GB model
costs a few thousand tiny reads and no big allocation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from bot.errors import AnalysisError, ErrorCode

# Bounded work on a hostile file: real models have at most tens of thousands of tensors.
MAX_VECTOR_ITEMS = 1_000_000
MAX_STRING_BYTES = 4096
# Model fields (schema.fbs): version 0, operator_codes 1, subgraphs 2, description 3, buffers 4,
# metadata_buffer 5, metadata 6, signature_defs 7.  SubGraph: tensors 0, name 4.
# Tensor: shape 0, type 1, buffer 2, name 3.  Buffer: data 0, offset 1, size 2.
# SignatureDef: inputs 0, outputs 1, signature_key 2.


@dataclass
class TFLiteSummary:
    version: int = 0
    description: str | None = None
    subgraphs: int = 0
    tensors: int = 0
    buffers: int = 0
    constant_elements: int = 0
    signatures: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.size = f, size

    def raw(self, pos: int, n: int) -> bytes:
        if pos < 0 or pos + n > self.size:
            raise AnalysisError(ErrorCode.CORRUPT, "A TFLite offset points outside the file: the file is "
                                "damaged or cut short.")
        self.f.seek(pos)
        data = self.f.read(n)
        if len(data) != n:
            raise AnalysisError(ErrorCode.TRUNCATED, "The TFLite file ended early.")
        return data

    def u32(self, pos: int) -> int:
        return struct.unpack("<I", self.raw(pos, 4))[0]

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of field `index` of the table at `table`, or None when absent."""
        vtable = table - struct.unpack("<i", self.raw(table, 4))[0]
        vsize = struct.unpack("<H", self.raw(vtable, 2))[0]
        if 4 + 2 * index + 2 > vsize:
            return None
        off = struct.unpack("<H", self.raw(vtable + 4 + 2 * index, 2))[0]
        return table + off if off else None

    def ref(self, pos: int) -> int:
        return pos + self.u32(pos)

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """(position of first item, item count) of a vector field; (0, 0) when absent."""
        pos = self.field(table, index)
        if pos is None:
            return 0, 0
        start = self.ref(pos)
        count = self.u32(start)
        if count > MAX_VECTOR_ITEMS:
            raise AnalysisError(ErrorCode.LIMIT, f"A TFLite vector claims {count} items.")
        if start + 4 + count > self.size:  # every item takes at least a byte
            raise AnalysisError(ErrorCode.CORRUPT, "A TFLite vector runs past the end of the file.")
        return start + 4, count

    def string(self, table: int, index: int) -> str | None:
        start, count = self.vector(table, index)
        if not count:
            return None
        return self.raw(start, min(count, MAX_STRING_BYTES)).decode("utf-8", "replace")

    def scalar(self, table: int, index: int, fmt: str, default: int = 0) -> int:
        pos = self.field(table, index)
        return default if pos is None else struct.unpack("<" + fmt, self.raw(pos, struct.calcsize(fmt)))[0]


def read_tflite_summary(f: BinaryIO, size: int) -> TFLiteSummary:
    """Version, counts and constant-tensor elements of a TFLite model."""
    r = _Reader(f, size)
    if r.raw(4, 4) != b"TFL3":
        raise AnalysisError(ErrorCode.CORRUPT, "Not a TFLite file (no TFL3 identifier).")
    model = r.ref(0)
    out = TFLiteSummary(version=r.scalar(model, 0, "I"), description=r.string(model, 3))
    buf_start, out.buffers = r.vector(model, 4)
    has_data: dict[int, bool] = {}

    def buffer_has_data(i: int) -> bool:
        if i not in has_data:
            table = r.ref(buf_start + 4 * i)
            _start, n = r.vector(table, 0)
            has_data[i] = n > 0 or r.scalar(table, 2, "Q") > 0
        return has_data[i]

    sg_start, out.subgraphs = r.vector(model, 2)
    for s in range(out.subgraphs):
        subgraph = r.ref(sg_start + 4 * s)
        t_start, count = r.vector(subgraph, 0)
        out.tensors += count
        for t in range(count):
            tensor = r.ref(t_start + 4 * t)
            buffer = r.scalar(tensor, 2, "I")
            if 0 < buffer < out.buffers and buffer_has_data(buffer):
                shape_start, rank = r.vector(tensor, 0)
                elements = 1
                for d in range(min(rank, 16)):
                    elements *= max(struct.unpack("<i", r.raw(shape_start + 4 * d, 4))[0], 0)
                out.constant_elements += elements
    sig_start, sigs = r.vector(model, 7)
    for i in range(min(sigs, 100)):
        key = r.string(r.ref(sig_start + 4 * i), 2)  # SignatureDef.signature_key
        if key:
            out.signatures.append(key)
    return out
