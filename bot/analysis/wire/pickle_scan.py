"""List what a pickle references without unpickling it: `pickletools.genops` is a tokenizer.

PyTorch saves tensors as persistent ids `('storage', <storage class>, key, location, numel)`
(torch/serialization.py `persistent_id`); a small model of the pickle machine's stack (marks,
tuples, the memo) is enough to collect them, with every imported global on the side, so a
booby-trapped pickle is named, never run.
"""

from __future__ import annotations

import io
import pickletools
from typing import Any


def split_pickles(data: bytes, limit: int = 6) -> list[bytes]:
    """The consecutive pickles at the start (legacy torch: magic, protocol, sys info, object, keys)."""
    out: list[bytes] = []
    pos = 0
    stream = io.BytesIO(data)
    while pos < len(data) and len(out) < limit:
        stream.seek(pos)
        try:
            end = next(p for op, _a, p in pickletools.genops(stream) if op.name == "STOP" and p is not None) + 1
        except (ValueError, StopIteration):  # genops: damaged or truncated pickle
            break
        out.append(data[pos:end])
        pos = end
    return out


def pickle_storages(pickles: list[bytes]) -> tuple[dict[str, tuple[str, int]], set[str]]:
    """Storage key → (dtype, elements) from `('storage', type, key, location, numel)` persistent ids."""
    storages: dict[str, tuple[str, int]] = {}
    globals_: set[str] = set()
    for data in pickles:
        frames: list[list[Any]] = [[]]
        memo: dict[Any, Any] = {}
        try:
            for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
                name, top = op.name, frames[-1]
                if name in ("GLOBAL", "STACK_GLOBAL"):
                    value = str(arg).replace(" ", ".") if arg else "?"
                    globals_.add(value)
                    top.append(("global", value))
                elif name == "MARK":
                    frames.append([])
                elif name in ("TUPLE", "LIST", "DICT", "OBJ", "INST", "FROZENSET") and len(frames) > 1:
                    items = frames.pop()
                    frames[-1].append(tuple(items) if name == "TUPLE" else None)
                elif name in ("SETITEMS", "APPENDS", "ADDITEMS", "POP_MARK") and len(frames) > 1:
                    frames.pop()
                elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                    k = int(name[-1])
                    items = top[-k:] if len(top) >= k else []
                    del top[-k:]
                    top.append(tuple(items))
                elif name.endswith("PUT") or name == "MEMOIZE":
                    memo[arg if name != "MEMOIZE" else len(memo)] = top[-1] if top else None
                elif name.endswith("GET"):
                    top.append(memo.get(arg))
                elif name in ("BINPERSID", "PERSID"):
                    pid = top.pop() if top else None
                    _record_storage(pid, storages)
                    top.append(None)
                else:
                    top.append(arg)
        except ValueError:  # genops on a damaged pickle: keep what was listed so far
            continue
    return storages, globals_


def _record_storage(pid: Any, storages: dict[str, tuple[str, int]]) -> None:
    if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage":
        kind = pid[1][1] if isinstance(pid[1], tuple) else str(pid[1])
        dtype = kind.rsplit(".", 1)[-1].replace("Storage", "").lower() or "untyped"
        dtype = {"float": "float32", "double": "float64", "half": "float16", "long": "int64",
                 "int": "int32", "short": "int16", "char": "int8", "byte": "uint8"}.get(dtype, dtype)
        if isinstance(pid[4], int):
            storages[str(pid[2])] = (dtype, pid[4])
