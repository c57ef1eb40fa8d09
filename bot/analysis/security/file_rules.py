"""Findings from what the readers already saw in the file itself: HDF5 links, bombs, pickles.

The readers refuse HDF5 links and bombs with an `unsafe`/`limit` error and name the pickle's imports in
a warning; this turns those into findings so the verdict names the CVE and the path.
"""

from __future__ import annotations

import re

from bot.report import Report, SecurityFinding

# Pickle globals a plain state dict needs (torch's own rebuild helpers, OrderedDict); anything else
# in a pickle is code the loader would import and may call.
_PLAIN_PICKLE_PREFIXES = ("torch", "collections.OrderedDict", "numpy")
_BACKTICKED = re.compile(r"`([^`]{1,300})`")


def _where(message: str) -> str:
    m = _BACKTICKED.search(message)
    return m.group(1) if m else "(file)"


def hdf5_link_findings(report: Report) -> list[SecurityFinding]:
    """External/soft links, external storage and virtual datasets (CVE-2026-1669), as refused by h5safe."""
    if report.error is None or report.error.code != "unsafe":
        return []
    msg = report.error.message
    kinds = ("external link", "soft link", "virtual dataset", "external file")
    if not any(k in msg for k in kinds):
        return [SecurityFinding("unsafe-structure", [], _where(msg), msg, [])]
    return [SecurityFinding("hdf5-link", ["CVE-2026-1669"], _where(msg),
                            msg + " Loaders that follow it read another file on the machine.", [])]


def bomb_findings(report: Report) -> list[SecurityFinding]:
    """Declared sizes far beyond the stored bytes; zip members that inflate past the caps (CVE-2026-0897)."""
    if report.error is None or report.error.code != "limit":
        return []
    msg = report.error.message
    if any(k in msg for k in ("declares shape", "inflates", "ratio", "bomb")):
        return [SecurityFinding("size-bomb", ["CVE-2026-0897"], _where(msg),
                                msg + " Loading it would try to allocate that much memory.", [])]
    return []


def pickle_findings(report: Report) -> list[SecurityFinding]:
    """Pickles anywhere: `.pt` files, object arrays in `.npy`/`.npz`, pickled Keras npz weights."""
    out: list[SecurityFinding] = []
    for w in report.warnings:
        if w.code == "pickle-imports":
            out.append(SecurityFinding("pickle-code", [], "data.pkl", w.message, []))
        elif w.code in ("pickled-arrays", "pickle-npz-weights"):
            out.append(SecurityFinding("pickle", [], "model.weights.npz" if w.code == "pickle-npz-weights"
                                       else "(arrays)", w.message, []))
    if report.error is not None and report.error.message.startswith("This is a Python pickle"):
        out.append(SecurityFinding("pickle-code", [], "(file)", report.error.message, []))
    if report.format == "pytorch" and not any(f.code == "pickle-code" for f in out):
        out.append(SecurityFinding("pickle", [], "data.pkl",
                                   "A PyTorch pickle that imports only torch rebuild helpers (read from its "
                                   "opcodes, never unpickled): safe with torch.load(weights_only=True).", []))
    return out


def file_findings(report: Report) -> list[SecurityFinding]:
    return hdf5_link_findings(report) + bomb_findings(report) + pickle_findings(report)
