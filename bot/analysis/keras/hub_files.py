"""The files of a KerasHub preset, wherever they sit: a folder, the folder of a `config.json`, or a zip.

The preset reader asks for members by name (`config.json`, `assets/tokenizer/vocabulary.spm`,
`model_00001.weights.h5`), never lists a folder, so the same code reads a local folder, a remote
one reached through `Artifact.sibling`/`child`, and a zip read in place.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
import zlib
from typing import Any, BinaryIO, Iterator

from bot.analysis.io import h5safe
from bot.analysis.io.artifact import Artifact
from bot.errors import AnalysisError, ErrorCode

# Preset JSON files are a few KB; a tokenizer vocabulary of 256k pieces is ~5 MB.
MAX_JSON_BYTES = 64 * 1024**2
MAX_ASSET_BYTES = 64 * 1024**2
# A deflated weights member is inflated in memory (see ZipFiles.open); bigger presets are read as folders.
MAX_INFLATED_MEMBER_BYTES = 1024**3
MAX_INFLATE_RATIO = 200


class PresetFiles:
    """Named members of one preset."""

    where: str = "folder"

    def open(self, name: str) -> BinaryIO | None:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def json(self, name: str) -> dict[str, Any] | None:
        data = self.read(name, MAX_JSON_BYTES)
        if data is None:
            return None
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AnalysisError(ErrorCode.CORRUPT, f"`{name}` of the preset is not valid JSON.") from exc
        if not isinstance(value, dict):
            raise AnalysisError(ErrorCode.CORRUPT, f"`{name}` of the preset is not a JSON object.")
        return value

    def read(self, name: str, limit: int) -> bytes | None:
        if not self.exists(name):
            return None
        if self.size(name) > limit:
            raise AnalysisError(ErrorCode.LIMIT, f"`{name}` is {self.size(name):,} bytes (limit {limit:,}).")
        try:
            f = self.open(name)
            if f is None:
                return None
            with f as fo:
                return fo.read(limit + 1)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as exc:
            # A damaged member (bad CRC, cut deflate stream, an unsupported method) is the file's fault.
            raise AnalysisError(ErrorCode.CORRUPT, f"`{name}` in the archive cannot be read ({exc}); the file is damaged.") from exc

    @contextlib.contextmanager
    def h5(self, name: str) -> Iterator[Any]:
        f = self.open(name)
        if f is None:
            raise AnalysisError(ErrorCode.CORRUPT, f"`{name}` is missing from the preset.")
        with f as fo, h5safe.open_h5(fo) as h5:
            yield h5


class FolderFiles(PresetFiles):
    """A preset folder (child) or the folder around a `config.json` given directly (sibling)."""

    def __init__(self, artifact: Artifact, via_sibling: bool = False) -> None:
        self._a = artifact
        self._sibling = via_sibling
        self.where = "config.json" if via_sibling else "folder"

    def _get(self, name: str) -> Artifact | None:
        return self._a.sibling(name) if self._sibling else self._a.child(name)

    def exists(self, name: str) -> bool:
        return self._get(name) is not None

    def size(self, name: str) -> int:
        a = self._get(name)
        return (a.size() or 0) if a is not None else 0

    def open(self, name: str) -> BinaryIO | None:
        a = self._get(name)
        return a.open() if a is not None else None


class ZipFiles(PresetFiles):
    """A zip of a preset folder: members at the root or under one top folder (`gemma/config.json`)."""

    where = "zip"

    def __init__(self, f: BinaryIO, zf: zipfile.ZipFile, prefix: str) -> None:
        self._f, self._zf, self.prefix = f, zf, prefix
        self._names = set(zf.namelist())

    def exists(self, name: str) -> bool:
        return self.prefix + name in self._names

    def size(self, name: str) -> int:
        return self._zf.getinfo(self.prefix + name).file_size if self.exists(name) else 0

    def open(self, name: str) -> BinaryIO | None:
        if not self.exists(name):
            return None
        info = self._zf.getinfo(self.prefix + name)
        if name.endswith(".h5") and info.compress_type != zipfile.ZIP_STORED:
            # `shutil.make_archive` and most zip tools deflate; the isolated parser may not write temp files
            # (RLIMIT_FSIZE), so a compressed weights member is inflated in memory, within bounds.
            if info.file_size > MAX_INFLATED_MEMBER_BYTES or (
                    info.compress_size and info.file_size / info.compress_size > MAX_INFLATE_RATIO):
                raise AnalysisError(ErrorCode.LIMIT, f"`{name}` inflates from {info.compress_size:,} to "
                                    f"{info.file_size:,} bytes (limit {MAX_INFLATED_MEMBER_BYTES:,}); unzip the "
                                    "preset and point me at the folder.")
            with self._zf.open(info) as m:
                return io.BytesIO(m.read(MAX_INFLATED_MEMBER_BYTES + 1))
        if name.endswith(".h5"):
            from bot.analysis.keras.keras_v3 import _member_file
            from bot.report import Report, SourceInfo

            return _ClosingMember(_member_file(self._f, self._zf, info, Report(SourceInfo("", ""), "")))  # type: ignore[return-value]
        return self._zf.open(info)  # type: ignore[return-value]


class _ClosingMember:
    """Adapts keras_v3's member context manager to `with files.open(name) as f`."""

    def __init__(self, cm: Any) -> None:
        self._cm = cm
        self._f: Any = None

    def __enter__(self) -> BinaryIO:
        self._f = self._cm.__enter__()
        return self._f

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


def zip_prefix(names: list[str]) -> str | None:
    """'' when config.json sits at the root, 'top/' when under one folder, None when not a preset zip."""
    if "config.json" in names and "metadata.json" in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    for top in sorted(tops):
        if f"{top}/config.json" in names and f"{top}/metadata.json" in names:
            return f"{top}/"
    return None


def is_hub_metadata(metadata: dict[str, Any] | None, config: dict[str, Any] | None) -> bool:
    """Presets always record `keras_hub_version` (older: `keras_nlp_version`); a .keras never does."""
    if isinstance(metadata, dict) and ("keras_hub_version" in metadata or "keras_nlp_version" in metadata):
        return True
    reg = (config or {}).get("registered_name")
    return metadata is None and isinstance(reg, str) and reg.startswith(("keras_hub>", "keras_nlp>"))
