"""PyTorch files (torch.save zips and legacy pickles), listed with pickletools, never unpickled."""

from __future__ import annotations

import zipfile

from bot.analysis.io.artifact import Artifact
from bot.analysis.others.framework_report import framework_reload, new_report
from bot.analysis.wire.pickle_scan import pickle_storages, split_pickles
from bot.errors import AnalysisError, ErrorCode
from bot.report import Contents, Params, Report

# The pickle of a PyTorch state_dict is ~100 bytes per tensor; 64 MiB is room for ~500k tensors.
MAX_PICKLE_BYTES = 64 * 1024 * 1024
TORCH_LEGACY_MAGIC = bytes.fromhex("8a0a6cfc9c46f9206aa85019")  # LONG1 0x1950a86a20f9469cfc6c


def looks_like_pytorch_pickle(head: bytes) -> bool:
    """Legacy (pre-1.6) torch.save: a pickle whose first object is torch's magic number."""
    return head[:2] == b"\x80\x02" and head[2:14] == TORCH_LEGACY_MAGIC


def report_from_pytorch_zip(artifact: Artifact) -> Report:
    report = new_report(artifact, "pytorch")
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
    report = new_report(artifact, "pytorch")
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
    report.reload = framework_reload("A PyTorch file.", "PyTorch",
                            f"import torch\nstate = torch.load({artifact.name!r}, weights_only=True)  "
                            "# refuses arbitrary code",
                            caveats=["Use PyTorch >= 2.10: weights_only=True could still run code before "
                                     "2.6 (CVE-2025-32434) and corrupt memory before 2.10 (CVE-2026-24747).",
                                     "Never pass weights_only=False to a file you did not write; ask for "
                                     "safetensors instead."])
    return report
