"""safetensors: the JSON header's tensors, dtypes and offsets (tensor data is never read)."""

from __future__ import annotations

import json

from bot.analysis.io.artifact import Artifact
from bot.analysis.others.framework_report import (
    framework_reload,
    new_report,
    shape_product,
)
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Params, Report

# safetensors itself refuses headers over 100 MB (MAX_HEADER_SIZE in safetensors/src/tensor.rs).
MAX_SAFETENSORS_HEADER = 100_000_000
SAFETENSORS_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
                           "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4,
                           "I64": 8, "U64": 8, "F64": 8, "C64": 8}


def looks_like_safetensors(head: bytes, size: int | None) -> bool:
    if len(head) < 10:
        return False
    n = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 2 <= n <= MAX_SAFETENSORS_HEADER and (size is None or 8 + n <= size)


def report_from_safetensors(artifact: Artifact) -> Report:
    """Header-only: names, dtypes, shapes; offsets validated the way safetensors validates them."""
    report = new_report(artifact, "safetensors")
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
        count = shape_product(shape)
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
    report.reload = framework_reload("A safetensors file (tensors only, no architecture).", "safetensors",
                            f"from safetensors.numpy import load_file\ntensors = load_file({artifact.name!r})")
    return report
