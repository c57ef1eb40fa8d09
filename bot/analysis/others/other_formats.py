"""Formats that are not Keras but land in the same channels: ONNX, TFLite, safetensors, PyTorch, NumPy.

Each gets a name, what the bytes say cheaply (parameter counts from shapes, never from tensor
data) and the loader of the framework that owns it.  Nothing here runs code from the file:
PyTorch and object-dtype NumPy files are pickles, which we list with `pickletools.genops`
(a tokenizer) and never unpickle.
"""

from __future__ import annotations

import ast
import json
import zipfile
from typing import Any, BinaryIO

from bot.analysis.io.artifact import Artifact
from bot.analysis.wire import protobuf as pb
from bot.analysis.wire.flatbuffer import read_tflite_summary
from bot.analysis.wire.pickle_scan import pickle_storages, split_pickles
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Params, Reload, ReloadOption, Report, SourceInfo

NOT_KERAS = "This is not a Keras file, so Keras cannot load it; use the framework that owns the format."
# safetensors itself refuses headers over 100 MB (MAX_HEADER_SIZE in safetensors/src/tensor.rs).
MAX_SAFETENSORS_HEADER = 100_000_000
# ONNX: fields up to this size are read into memory (names, dims, small messages); bigger ones
# (raw tensor data, whole graphs of big models) are walked in the file without reading them.
ONNX_INLINE_BYTES = 1 << 20
# The pickle of a PyTorch state_dict is ~100 bytes per tensor; 64 MiB is room for ~500k tensors.
MAX_PICKLE_BYTES = 64 * 1024 * 1024
# A .npy header is at most a few hundred bytes (numpy pads to 64); 64 KiB is generous.
MAX_NPY_HEADER = 64 * 1024
# An .npz with more members than this is not a weights file we should walk entry by entry.
MAX_NPZ_MEMBERS = 10_000
TORCH_LEGACY_MAGIC = bytes.fromhex("8a0a6cfc9c46f9206aa85019")  # LONG1 0x1950a86a20f9469cfc6c
# ModelProto field → wire type: ir_version 1, producer_name 2, producer_version 3, domain 4,
# model_version 5, doc_string 6, graph 7, opset_import 8, metadata_props 14, training_info 20,
# functions 25, configuration 26.
ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
ONNX_MAX_IR_VERSION = 30  # IR 10 in 2024; room for growth, not for random bytes
SAFETENSORS_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
                           "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4,
                           "I64": 8, "U64": 8, "F64": 8, "C64": 8}
ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
               8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
               16: "bfloat16"}


def _new_report(artifact: Artifact, fmt: str) -> Report:
    return Report(source=SourceInfo(artifact.name, artifact.uri, artifact.size()), format=fmt)


def _product(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _reload(summary: str, framework: str, python: str, caveats: list[str] | None = None) -> Reload:
    return Reload(summary=f"{summary} {NOT_KERAS}", python=python,
                  options=[ReloadOption(keras=framework, python=python, works=True, purpose="load",
                                        caveats=caveats or []),
                           ReloadOption(keras="Keras", python="", works=False, purpose="not a Keras format",
                                        error=NOT_KERAS)])


# --- ONNX -------------------------------------------------------------------------------------

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
    report = _new_report(artifact, "onnx")
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
                        params += _product(dims)
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
    report.reload = _reload("An ONNX model: run it with ONNX Runtime.", "onnxruntime",
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


# --- TFLite -----------------------------------------------------------------------------------

def looks_like_tflite(head: bytes) -> bool:
    return head[4:8] == b"TFL3"


def report_from_tflite(artifact: Artifact) -> Report:
    report = _new_report(artifact, "tflite")
    with artifact.open() as f:
        summary = read_tflite_summary(f, artifact.size() or 0)
    report.params = Params(total=summary.constant_elements)
    report.contents = Contents(architecture=True, weights=summary.constant_elements > 0)
    report.format_detail = (f"TensorFlow Lite schema v{summary.version}, {summary.subgraphs} subgraph(s), "
                            f"{summary.tensors} tensors, {summary.buffers} buffers"
                            + (f", {summary.description!r}" if summary.description else "")
                            + (f", signatures {', '.join(summary.signatures)}" if summary.signatures else ""))
    report.warn("tflite-params", "Parameters = elements of constant tensors (weights and other "
                "constants); quantized models count elements, not bytes.")
    report.reload = _reload("A TensorFlow Lite flatbuffer: run it with the TFLite interpreter.",
                            "TensorFlow Lite",
                            f"import tensorflow as tf\ninterpreter = tf.lite.Interpreter(model_path="
                            f"{artifact.name!r})\ninterpreter.allocate_tensors()")
    return report


# --- safetensors ------------------------------------------------------------------------------

def looks_like_safetensors(head: bytes, size: int | None) -> bool:
    if len(head) < 10:
        return False
    n = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 2 <= n <= MAX_SAFETENSORS_HEADER and (size is None or 8 + n <= size)


def report_from_safetensors(artifact: Artifact) -> Report:
    """Header-only: names, dtypes, shapes; offsets validated the way safetensors validates them."""
    report = _new_report(artifact, "safetensors")
    size = artifact.size() or 0
    with artifact.open() as f:
        n = int.from_bytes(f.read(8), "little")
        if n > MAX_SAFETENSORS_HEADER:
            raise AnalysisError(ErrorCode.CORRUPT, f"The safetensors header claims {n} bytes; the format "
                                f"allows at most {MAX_SAFETENSORS_HEADER}.")
        if 8 + n > size:
            raise AnalysisError(ErrorCode.TRUNCATED, "The file ends inside its safetensors header.")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnalysisError(ErrorCode.CORRUPT, "The safetensors header is not valid JSON.") from exc
    if not isinstance(header, dict):
        raise AnalysisError(ErrorCode.CORRUPT, "The safetensors header is not a JSON object.")
    metadata = header.pop("__metadata__", None)
    spans: list[tuple[int, int, str]] = []
    params = 0
    dtypes: dict[str, int] = {}
    for name, info in header.items():
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
            if not all(isinstance(d, int) and d >= 0 for d in shape) or dtype not in SAFETENSORS_DTYPE_BYTES:
                raise ValueError
        except (KeyError, TypeError, ValueError) as exc:
            raise AnalysisError(ErrorCode.CORRUPT, f"Tensor `{name}` has a malformed header entry.") from exc
        count = _product(shape)
        if end - start != count * SAFETENSORS_DTYPE_BYTES[dtype]:
            raise AnalysisError(ErrorCode.CORRUPT, f"Tensor `{name}`: its byte range does not match "
                                f"shape {shape} of {dtype}.")
        spans.append((start, end, name))
        params += count
        dtypes[dtype] = dtypes.get(dtype, 0) + 1
    expected = 0
    for start, end, name in sorted(spans):
        if start != expected:  # safetensors: offsets must be contiguous, no gaps, no overlap
            raise AnalysisError(ErrorCode.CORRUPT, f"Tensor `{name}` does not start where the previous "
                                "one ends: the offsets are invalid.")
        expected = end
    if 8 + n + expected > size:
        raise AnalysisError(ErrorCode.TRUNCATED, f"The tensors need {8 + n + expected} bytes but the file "
                            f"has {size}: it is cut short.")
    if 8 + n + expected < size:
        report.warn("trailing-bytes", f"{size - 8 - n - expected} bytes follow the last tensor; the "
                    "safetensors library refuses such files (MetadataIncompleteBuffer).")
    report.params = Params(total=params)
    report.contents = Contents(weights=True)
    report.format_detail = (f"{len(spans)} tensors; dtypes " + ", ".join(f"{k} ×{v}" for k, v in sorted(dtypes.items()))
                            + (f"; metadata {json.dumps(metadata)[:200]}" if metadata else ""))
    report.reload = _reload("A safetensors file (tensors only, no architecture).", "safetensors",
                            f"from safetensors.numpy import load_file\ntensors = load_file({artifact.name!r})")
    return report


# --- PyTorch ----------------------------------------------------------------------------------

def looks_like_pytorch_pickle(head: bytes) -> bool:
    """Legacy (pre-1.6) torch.save: a pickle whose first object is torch's magic number."""
    return head[:2] == b"\x80\x02" and head[2:14] == TORCH_LEGACY_MAGIC


def report_from_pytorch_zip(artifact: Artifact) -> Report:
    report = _new_report(artifact, "pytorch")
    with artifact.open() as f:
        try:
            archive = zipfile.ZipFile(f)
            pkl = next(i for i in archive.infolist()
                       if i.filename == "data.pkl" or i.filename.endswith("/data.pkl"))
        except (zipfile.BadZipFile, StopIteration) as exc:
            raise AnalysisError(ErrorCode.CORRUPT, "This zip has no readable data.pkl.") from exc
        if pkl.file_size > MAX_PICKLE_BYTES:
            raise AnalysisError(ErrorCode.LIMIT, f"data.pkl is {pkl.file_size} bytes; I read up to "
                                f"{MAX_PICKLE_BYTES}.")
        data = archive.read(pkl)
    storages, globals_ = pickle_storages([data])
    return _pytorch_report(report, artifact, storages, globals_, "zip (torch.save, PyTorch ≥ 1.6)")


def report_from_pytorch_pickle(artifact: Artifact) -> Report:
    """A bare pickle: PyTorch's legacy format, or some other pickle named as such."""
    report = _new_report(artifact, "pytorch")
    with artifact.open() as f:
        data = f.read(MAX_PICKLE_BYTES)
    storages, globals_ = pickle_storages(split_pickles(data))
    if not looks_like_pytorch_pickle(data[:16]) and not any(g.startswith("torch") for g in globals_):
        shown = ", ".join(sorted(globals_)[:8]) or "none"
        raise AnalysisError(ErrorCode.UNKNOWN, f"This is a Python pickle, not a model format I know "
                            f"(it imports: {shown}). I never unpickle files: loading it runs code.")
    return _pytorch_report(report, artifact, storages, globals_, "legacy pickle (torch.save before 1.6)")


def _pytorch_report(report: Report, artifact: Artifact, storages: dict[str, tuple[str, int]],
                    globals_: set[str], variant: str) -> Report:
    report.params = Params(total=sum(n for _d, n in storages.values())) if storages else None
    report.contents = Contents(weights=bool(storages), architecture=any(
        g.startswith("torch.nn.modules") for g in globals_))
    dtypes = sorted({d for d, _n in storages.values()})
    report.format_detail = (f"PyTorch {variant}; {len(storages)} tensor storages"
                            + (f" ({', '.join(dtypes)})" if dtypes else "") + "; never unpickled")
    unusual = sorted(g for g in globals_ if not g.startswith(("torch", "collections.OrderedDict", "numpy")))
    if unusual:
        report.warn("pickle-imports", "The pickle imports " + ", ".join(unusual[:8]) + ": loading it "
                    "with weights_only=False would run that code.")
    report.reload = _reload("A PyTorch file.", "PyTorch",
                            f"import torch\nstate = torch.load({artifact.name!r}, weights_only=True)  "
                            "# refuses arbitrary code",
                            caveats=["Use PyTorch >= 2.10: weights_only=True could still run code before "
                                     "2.6 (CVE-2025-32434) and corrupt memory before 2.10 (CVE-2026-24747).",
                                     "Never pass weights_only=False to a file you did not write; ask for "
                                     "safetensors instead."])
    return report


# --- NumPy ------------------------------------------------------------------------------------

def report_from_numpy(artifact: Artifact) -> Report:
    """`.npy` (one header) or `.npz` (a zip of them): shapes and dtypes from headers only."""
    report = _new_report(artifact, "numpy")
    arrays: list[tuple[str, dict[str, Any]]] = []
    with artifact.open() as f:
        if f.read(6) == b"\x93NUMPY":
            f.seek(0)
            arrays.append((artifact.name, _npy_header(f)))
        else:
            f.seek(0)
            try:
                archive = zipfile.ZipFile(f)
                for info in archive.infolist()[:MAX_NPZ_MEMBERS]:
                    with archive.open(info) as member:
                        arrays.append((info.filename, _npy_header(member)))  # type: ignore[arg-type]
            except zipfile.BadZipFile as exc:
                raise AnalysisError(ErrorCode.CORRUPT, "This .npz is not a readable zip.") from exc
    pickled = [n for n, h in arrays if "O" in str(h.get("descr"))]
    report.params = Params(total=sum(_product(list(h.get("shape", ()))) for n, h in arrays if n not in pickled))
    report.contents = Contents(weights=True)
    report.format_detail = f"NumPy {'npy' if len(arrays) == 1 and arrays[0][0] == artifact.name else 'npz'}; " \
                           f"{len(arrays)} arrays"
    if pickled:
        report.warn("pickled-arrays", f"{len(pickled)} arrays are pickled Python objects (dtype object): "
                    "loading them needs allow_pickle=True, which runs code from the file. Never unpickled here.")
    report.reload = _reload("NumPy arrays (no architecture).", "NumPy",
                            f"import numpy as np\narrays = np.load({artifact.name!r})  # allow_pickle=False")
    return report


def _npy_header(f: BinaryIO) -> dict[str, Any]:
    magic = f.read(8)
    if magic[:6] != b"\x93NUMPY":
        raise AnalysisError(ErrorCode.CORRUPT, "An array lacks the .npy magic.")
    width = 2 if magic[6] == 1 else 4
    length = int.from_bytes(f.read(width), "little")
    if length > MAX_NPY_HEADER:
        raise AnalysisError(ErrorCode.CORRUPT, f"A .npy header claims {length} bytes.")
    try:
        header = ast.literal_eval(f.read(length).decode("latin-1"))  # literals only: no code runs
    except (ValueError, SyntaxError, MemoryError) as exc:
        raise AnalysisError(ErrorCode.CORRUPT, "A .npy header is not a Python literal.") from exc
    if not isinstance(header, dict) or not isinstance(header.get("shape"), tuple):
        raise AnalysisError(ErrorCode.CORRUPT, "A .npy header lacks its shape.")
    return header
