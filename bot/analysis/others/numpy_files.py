"""NumPy .npy and .npz files: header shapes and dtypes; object arrays are pickles and only listed."""

from __future__ import annotations

import ast
import zipfile
from typing import Any, BinaryIO

from bot.analysis.io.artifact import Artifact
from bot.analysis.others.framework_report import (
    framework_reload,
    new_report,
    shape_product,
)
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Params, Report

# A .npy header is at most a few hundred bytes (numpy pads to 64); 64 KiB is generous.
MAX_NPY_HEADER = 64 * 1024
# An .npz with more members than this is not a weights file we should walk entry by entry.
MAX_NPZ_MEMBERS = 10_000


def report_from_numpy(artifact: Artifact) -> Report:
    """`.npy` (one header) or `.npz` (a zip of them): shapes and dtypes from headers only."""
    report = new_report(artifact, "numpy")
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
    report.params = Params(total=sum(shape_product(list(h.get("shape", ()))) for n, h in arrays if n not in pickled))
    report.contents = Contents(weights=True)
    report.format_detail = f"NumPy {'npy' if len(arrays) == 1 and arrays[0][0] == artifact.name else 'npz'}; " \
                           f"{len(arrays)} arrays"
    if pickled:
        report.warn("pickled-arrays", f"{len(pickled)} arrays are pickled Python objects (dtype object): "
                    "loading them needs allow_pickle=True, which runs code from the file. Never unpickled here.")
    report.reload = framework_reload("NumPy arrays (no architecture).", "NumPy",
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
