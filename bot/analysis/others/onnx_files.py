"""ONNX ModelProto: ir_version, producer, opsets and parameter counts from tensor shapes."""

from __future__ import annotations

from typing import Any, BinaryIO

from bot.analysis.io.artifact import Artifact
from bot.analysis.others.framework_report import (
    framework_reload,
    new_report,
    shape_product,
)
from bot.analysis.wire import protobuf as pb
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Params, Report

# ONNX: fields up to this size are read into memory (names, dims, small messages); bigger ones
# (raw tensor data, whole graphs of big models) are walked in the file without reading them.
ONNX_INLINE_BYTES = 1 << 20
# ModelProto field → wire type: ir_version 1, producer_name 2, producer_version 3, domain 4,
# model_version 5, doc_string 6, graph 7, opset_import 8, metadata_props 14, training_info 20,
# functions 25, configuration 26.
ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
ONNX_MAX_IR_VERSION = 30  # IR 10 in 2024; room for growth, not for random bytes
ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
               8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
               16: "bfloat16"}


def looks_like_onnx(head: bytes) -> bool:
    """The head parses as a ModelProto: ir_version (field 1) first, then only known fields with
    their own wire types and readable strings, into a graph that starts like a GraphProto."""
    if head[:1] != b"\x08":
        return False
    pos, complete = 0, 0
    try:
        while pos < len(head):
            key, pos = pb.read_varint(head, pos)
            number, wire = key >> 3, key & 7
            if ONNX_MODEL_FIELDS.get(number) != wire or (complete == 0 and number != 1):
                return False
            value, pos = pb.read_varint(head, pos)
            if number == 1 and not 1 <= value <= ONNX_MAX_IR_VERSION:
                return False
            if wire == pb.LENGTH_DELIMITED:
                if number == 7:  # the graph: judge by its first key (node, name, initializer, input)
                    return complete >= 1 and head[pos:pos + 1] in (b"\x0a", b"\x12", b"\x2a", b"\x5a")
                text = head[pos:pos + value]
                if number in (2, 3, 4) and (len(text) < value or not text.decode("utf-8", "replace").isprintable()):
                    return False
                pos += value
            complete += 1
    except AnalysisError:
        return False
    return complete >= 3


def report_from_onnx(artifact: Artifact) -> Report:
    """ir_version, producer, opsets and initializer element counts of an ONNX ModelProto."""
    report = new_report(artifact, "onnx")
    size = artifact.size() or 0
    info: dict[str, Any] = {"opsets": []}
    params, count, external = 0, 0, 0
    with artifact.open() as f:
        for number, _wire, value in pb.iter_file_fields(f, 0, size, ONNX_INLINE_BYTES):
            if number == 1 and isinstance(value, int):
                info["ir_version"] = value
            elif number in (2, 3) and isinstance(value, bytes):
                info["producer_name" if number == 2 else "producer_version"] = pb.text(value)
            elif number == 8 and isinstance(value, bytes):
                opset = pb.fields_by_number(value)
                info["opsets"].append(f"{pb.text(pb.first_bytes(opset, 1)) or 'ai.onnx'} "
                                      f"{pb.first_int(opset, 2)}")
            elif number == 7:
                span = value if isinstance(value, pb.Span) else None
                start, end = (span.offset, span.offset + span.length) if span else (0, 0)
                graph = [] if span else list(pb.iter_fields(value))  # type: ignore[arg-type]
                fields = (pb.iter_file_fields(f, start, end, ONNX_INLINE_BYTES) if span else iter(graph))
                for g_number, _w, g_value in list(fields):
                    if g_number == 5:
                        dims, is_external = _onnx_initializer(f, g_value)
                        params += shape_product(dims)
                        count += 1
                        external += is_external
    if "ir_version" not in info:
        raise AnalysisError(ErrorCode.CORRUPT, "This looks like ONNX but has no ir_version.")
    report.params = Params(total=params)
    report.contents = Contents(architecture=True, weights=count > 0)
    producer = " ".join(x for x in (info.get("producer_name"), info.get("producer_version")) if x)
    report.format_detail = (f"ONNX IR {info['ir_version']}" + (f", produced by {producer}" if producer else "")
                            + (f", opset {', '.join(info['opsets'])}" if info["opsets"] else "")
                            + f"; {count} initializers")
    if external:
        report.warn("onnx-external-data", f"{external} initializers keep their data in external files "
                    "next to the model: copy them along.")
    report.reload = framework_reload("An ONNX model: run it with ONNX Runtime.", "onnxruntime",
                            f"import onnxruntime as ort\nsession = ort.InferenceSession({artifact.name!r})\n"
                            "print([i.name for i in session.get_inputs()])")
    return report


def _onnx_initializer(f: BinaryIO, value: Any) -> tuple[list[int], bool]:
    """TensorProto dims (1) and whether data_location (14) is EXTERNAL; raw_data is never read."""
    if isinstance(value, pb.Span):
        fields = pb.iter_file_fields(f, value.offset, value.offset + value.length, ONNX_INLINE_BYTES)
    else:
        fields = pb.iter_fields(value)
    dims: list[int] = []
    external = False
    for number, _wire, v in fields:
        if number == 1:
            if isinstance(v, int):
                dims.append(pb.as_signed64(v))
            elif isinstance(v, bytes):
                dims.extend(pb.as_signed64(d) for d in pb.packed_or_repeated_varints({1: [v]}, 1))
        elif number == 14 and v == 1:
            external = True
    return [max(d, 0) for d in dims], external
