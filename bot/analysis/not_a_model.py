"""Files that are not models, named precisely so people know what to do next."""

from __future__ import annotations

import html
import re

from bot import messages
from bot.errors import AnalysisError, ErrorCode

_LFS_OID = re.compile(rb"^oid sha256:([0-9a-f]{64})\s*$", re.M)
_LFS_SIZE = re.compile(rb"^size (\d+)\s*$", re.M)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def git_lfs_error(head: bytes) -> AnalysisError:
    oid = _LFS_OID.search(head)
    size = _LFS_SIZE.search(head)
    return AnalysisError(ErrorCode.GIT_LFS_POINTER, messages.git_lfs_pointer(
        oid.group(1).decode() if oid else None, int(size.group(1)) if size else None))


def html_error(head: bytes) -> AnalysisError:
    m = _TITLE.search(head)
    title = None
    if m:
        title = html.unescape(m.group(1).decode("utf-8", "replace")).strip()[:120] or None
    return AnalysisError(ErrorCode.HTML, messages.html_page(title))


def unknown_error(name: str, head: bytes) -> AnalysisError:
    sample = head[:64]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    if sample and printable == len(sample):
        first = sample.decode("ascii", "replace").strip().splitlines()[0][:60] if sample.strip() else ""
        what = f"a text file starting “{first}”"
    else:
        what = f"binary data starting {sample[:8].hex(' ')}"
    return AnalysisError(ErrorCode.UNKNOWN, f"{messages.error_message(ErrorCode.UNKNOWN)} `{name}` is {what}.")
