"""Every sentence ckptbot says about a failure, one function per ErrorCode.

Each message says what happened and what to do next, in words a person who just pasted
a link understands.  Renderers (Slack, terminal) and the JSON report use these texts.
"""

from __future__ import annotations

from bot.error_codes import ErrorCode

_DEFAULTS: dict[ErrorCode, str] = {
    ErrorCode.EMPTY: "The file is empty (0 bytes): the save or the upload did not finish. "
    "Save or upload it again.",
    ErrorCode.GIT_LFS_POINTER: "This is a Git LFS pointer, not the model: the real file was never "
    "downloaded. Run `git lfs install && git lfs pull` in the repository (or download the file "
    "from the LFS server) and try again.",
    ErrorCode.HTML: "This is an HTML page, not a model, most likely a login or error page saved "
    "instead of the file. Download it again with credentials (or use the direct file link).",
    ErrorCode.TRUNCATED: "The file is cut short: it ends before its own structures do. The copy or "
    "download was interrupted; copy it again and compare sizes with the original.",
    ErrorCode.CORRUPT: "The file is damaged: its structures cannot be read. Copy it again from the "
    "original; if the original is damaged too, the save itself failed.",
    ErrorCode.NOT_KERAS_HDF5: "This is a valid HDF5 file, but Keras did not write it (no model "
    "config, layer names or Keras weight groups).",
    ErrorCode.NOT_KERAS_ZIP: "This is a zip archive, but not a Keras `.keras` archive (it has no "
    "config.json and metadata.json).",
    ErrorCode.DATA_SHARD: "This is a TensorFlow checkpoint data shard (.data-*): it holds raw "
    "bytes only. Point me at the matching .index file (or the checkpoint prefix) instead.",
    ErrorCode.UNSAFE: "The file asks to read data outside itself (HDF5 external links, external "
    "storage or virtual datasets), which I refuse to follow.",
    ErrorCode.UNKNOWN: "I do not recognise this file as any model format I know (Keras HDF5, "
    ".keras, TF SavedModel or checkpoint, ONNX, TFLite, safetensors, PyTorch).",
    ErrorCode.LIMIT: "Reading this file hit a safety limit before I could finish.",
    ErrorCode.TIMEOUT: "Inspecting this file took too long, so I stopped. The file may be damaged "
    "or built to be slow to read.",
    ErrorCode.NOT_FOUND: "There is no file at that location. Check the path or link.",
    ErrorCode.FORBIDDEN: "I am not allowed to read that location.",
    ErrorCode.BLOCKED: "I will not fetch that link: it points at an address the bot may not reach.",
    ErrorCode.TOO_LARGE: "The file is larger than I am allowed to read.",
    ErrorCode.UNREACHABLE: "I could not reach the server holding the file. Try again later.",
    ErrorCode.CHANGED: "The file changed while I was reading it (someone saved a new version). "
    "Try again once it stops changing.",
    ErrorCode.INTERNAL: "ckptbot failed on this file; this is a bug in ckptbot, not in your file.",
}


def error_message(code: ErrorCode) -> str:
    return _DEFAULTS[ErrorCode(code)]


def git_lfs_pointer(oid: str | None, size: int | None) -> str:
    extra = ""
    if size:
        extra = f" The real file is {human_bytes(size)}"
        extra += f" (sha256 {oid[:12]}…)." if oid else "."
    return _DEFAULTS[ErrorCode.GIT_LFS_POINTER] + extra


def html_page(title: str | None) -> str:
    base = _DEFAULTS[ErrorCode.HTML]
    return f"{base} The page's title is “{title}”." if title else base


def human_bytes(n: int | float | None) -> str:
    """852 KB, 1.6 GB: decimal units, as file browsers and Slack show sizes."""
    if n is None:
        return "unknown size"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(n)} B"
            return f"{n:.0f} {unit}" if n >= 100 else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def human_int(n: int | None) -> str:
    return "unknown" if n is None else f"{n:,}"
