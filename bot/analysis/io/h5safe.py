"""Reading HDF5 metadata without letting the file reach outside itself.

Every HDF5 access of the analysis goes through here: open, attributes (Keras' chunked
`name0, name1…` form included), dataset shapes and dtypes, and the rare small scalar.
Dataset bytes are never read except scalars; links out of the file (external links,
external raw storage, virtual datasets) are refused before they are followed.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import h5py
import numpy as np

from bot.errors import AnalysisError, ErrorCode

# A Keras model of 10^12 parameters is implausible; a declared shape beyond that is a
# "shape bomb" meant to make readers allocate, and is refused before anything is allocated.
MAX_DECLARED_BYTES = 2**40
MAX_NDIM = 32
# Keras writes one group per layer and a few per weight; 200k objects is ~50k layers.
MAX_OBJECTS = 200_000
# Legacy model_config attributes are < 1 MB even for 1,000-layer models; refuse absurd ones.
MAX_JSON_ATTR_BYTES = 64 * 1024**2

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def open_h5(fileobj: BinaryIO) -> h5py.File:
    try:
        return h5py.File(fileobj, "r", locking=False)
    except OSError as exc:
        raise _translate(exc) from exc


def _translate(exc: Exception) -> AnalysisError:
    text = str(exc).lower()
    if "truncated" in text or "eof" in text and "addr" in text:
        return AnalysisError(ErrorCode.TRUNCATED)
    return AnalysisError(ErrorCode.CORRUPT, f"The HDF5 file is damaged and cannot be read ({_short(exc)}). "
                         "Copy it again from the original.")


def _short(exc: Exception) -> str:
    s = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return s[:160]


def guarded(fn):
    """Turns h5py's errors inside a reader into AnalysisError (corrupt / truncated)."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AnalysisError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise _translate(exc) from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def decode(value: Any) -> Any:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return decode(value[()])
    return value


def attr_str(obj: h5py.HLObject, name: str) -> str | None:
    if name not in obj.attrs:
        return None
    v = decode(obj.attrs[name])
    if isinstance(v, np.ndarray):  # h5py may hand back a 1-element array
        v = decode(v.reshape(-1)[0]) if v.size else None
    return None if v is None else str(v)


def attr_json(obj: h5py.HLObject, name: str) -> dict[str, Any] | None:
    text = attr_str(obj, name)
    if text is None:
        return None
    if len(text) > MAX_JSON_ATTR_BYTES:
        raise AnalysisError(ErrorCode.LIMIT, f"The `{name}` attribute is {len(text):,} bytes, over the "
                            f"{MAX_JSON_ATTR_BYTES:,}-byte limit for a model config.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnalysisError(ErrorCode.CORRUPT, f"The file's `{name}` is not valid JSON ({exc.msg} at "
                            f"character {exc.pos}); the file is damaged.") from exc


def attr_list(obj: h5py.HLObject, name: str) -> list[str] | None:
    """A list attribute as Keras reads it: `name`, else the chunks `name0`, `name1`, … until one is missing."""
    if name in obj.attrs:
        chunks = [obj.attrs[name]]
    elif f"{name}0" in obj.attrs:
        chunks = []
        while f"{name}{len(chunks)}" in obj.attrs:
            chunks.append(obj.attrs[f"{name}{len(chunks)}"])
    else:
        return None
    out: list[str] = []
    for chunk in chunks:
        arr = np.asarray(chunk)
        # Weightless layers store an empty float64 array.
        if arr.size == 0:
            continue
        out.extend(str(decode(x)) for x in arr.reshape(-1))
    return out


def child(group: h5py.Group, key: str) -> h5py.HLObject | None:
    """group[key], refusing links that leave the file; None when absent."""
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if isinstance(link, h5py.ExternalLink):
        raise AnalysisError(ErrorCode.UNSAFE, f"`{group.name}/{key}` is an external link to "
                            f"{link.filename!r}: this file asks to read another file, which I refuse.")
    if isinstance(link, h5py.SoftLink):
        raise AnalysisError(ErrorCode.UNSAFE, f"`{group.name}/{key}` is a soft link; Keras never writes "
                            "links, so I do not follow it.")
    return group[key]


def dataset_meta(ds: h5py.Dataset) -> tuple[list[int], str, int]:
    """(shape, dtype name, declared bytes) from metadata only, after the safety checks."""
    if ds.is_virtual:
        raise AnalysisError(ErrorCode.UNSAFE, f"`{ds.name}` is a virtual dataset that maps other files; "
                            "I refuse to follow it.")
    if ds.external:
        raise AnalysisError(ErrorCode.UNSAFE, f"`{ds.name}` keeps its data in an external file "
                            f"({ds.external[0][0]!r}); I refuse to read outside the checkpoint.")
    shape = [int(d) for d in (ds.shape or ())]
    if len(shape) > MAX_NDIM:
        raise AnalysisError(ErrorCode.LIMIT, f"`{ds.name}` declares {len(shape)} dimensions; that is not a "
                            "model weight.")
    itemsize = ds.dtype.itemsize
    count = 1
    for d in shape:
        count *= d
    nbytes = count * itemsize
    if nbytes > MAX_DECLARED_BYTES:
        raise AnalysisError(ErrorCode.LIMIT, f"`{ds.name}` declares shape {tuple(shape)} ({nbytes:,} bytes), "
                            "far beyond any real model: refusing a shape bomb.")
    return shape, dtype_name(ds), nbytes


def dtype_name(ds: h5py.Dataset) -> str:
    dt = ds.dtype
    marker = ds.attrs.get("dtype") if "dtype" in ds.attrs else None
    if marker is not None:
        return str(decode(marker))
    if dt.kind == "V" and dt.itemsize == 2:
        # Keras 3 legacy H5 stores bfloat16 as opaque 2-byte values without a marker (§3.4).
        return "bfloat16"
    if dt.kind in ("S", "O", "U"):
        return "string"
    return dt.name


def read_scalar(ds: h5py.Dataset) -> float | int | None:
    """The one dataset read we allow: a 0-d numeric scalar (iteration count, learning rate)."""
    if ds.shape != () or ds.dtype.kind not in "iuf" or ds.dtype.itemsize > 8:
        return None
    v = ds[()]
    return int(v) if ds.dtype.kind in "iu" else float(v)


def walk_datasets(root: h5py.Group) -> list[tuple[str, h5py.Dataset]]:
    """Every dataset under root as (path relative to root, dataset), links checked, bounded."""
    out: list[tuple[str, h5py.Dataset]] = []
    stack: list[tuple[str, h5py.Group]] = [("", root)]
    seen = 0
    while stack:
        prefix, group = stack.pop()
        for key in list(group.keys()):
            seen += 1
            if seen > MAX_OBJECTS:
                raise AnalysisError(ErrorCode.LIMIT, f"The file holds more than {MAX_OBJECTS:,} HDF5 objects; "
                                    "no Keras model needs that many.")
            obj = child(group, key)
            path = f"{prefix}{key}"
            if isinstance(obj, h5py.Dataset):
                out.append((path, obj))
            elif isinstance(obj, h5py.Group):
                stack.append((path + "/", obj))
    out.sort(key=lambda item: _natural_key(item[0]))
    return out


def _natural_key(path: str) -> list[Any]:
    # v3 variables are datasets 0..N, which HDF5 lists as 0,1,10,11,2…: sort numerically.
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.split("/")]


def read_scalar_attr(obj: h5py.HLObject, name: str) -> int | float | None:
    if name not in obj.attrs:
        return None
    v = np.asarray(obj.attrs[name])
    if v.size != 1 or v.dtype.kind not in "iuf":
        return None
    x = v.reshape(-1)[0]
    return int(x) if v.dtype.kind in "iu" else float(x)
