"""Which reader a file needs, decided by its content, never its name (keras-formats.md §1).

Order matters: directories by their members, then magic numbers at the head (HDF5, zip,
TFLite, pickle), the tail (TF tensor-bundle index), then text (Git LFS pointers, HTML,
JSON indexes, checkpoint state files).
"""

from __future__ import annotations

import enum
import re

HEAD_BYTES = 4096
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# HDF5 may sit behind a user block of 512, 1024, 2048… bytes; Keras writes none, others might.
HDF5_OFFSETS = (0, 512, 1024, 2048)
BUNDLE_INDEX_MAGIC = bytes.fromhex("57fb808b247547db")
_DATA_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")


class Kind(str, enum.Enum):
    EMPTY = "empty"
    HDF5 = "hdf5"
    ZIP = "zip"
    BUNDLE_INDEX = "bundle-index"
    DATA_SHARD = "data-shard"
    CHECKPOINT_STATE = "checkpoint-state"
    SHARDED_INDEX = "sharded-index"
    GIT_LFS = "git-lfs"
    HTML = "html"
    SAFETENSORS = "safetensors"
    ONNX = "onnx"
    TFLITE = "tflite"
    PICKLE = "pickle"
    NUMPY = "numpy"
    SAVED_MODEL_PB = "saved-model-pb"
    UNKNOWN = "unknown"
    # directories
    SAVED_MODEL_DIR = "saved-model-dir"
    KERAS_DIR = "keras-dir"
    ORBAX_DIR = "orbax-dir"
    CHECKPOINT_DIR = "checkpoint-dir"
    UNKNOWN_DIR = "unknown-dir"


def sniff_dir(entries: list[str]) -> Kind:
    names = set(entries)
    if names & {"saved_model.pb", "saved_model.pbtxt"}:
        return Kind.SAVED_MODEL_DIR
    if "config.json" in names and ("model.weights.h5" in names or "model.weights.npz" in names):
        return Kind.KERAS_DIR
    if names & {"orbax.checkpoint", "pytree.orbax-checkpoint", "checkpoint_metadata", "_CHECKPOINT_METADATA"}:
        return Kind.ORBAX_DIR
    if "checkpoint" in names and any(n.endswith(".index") for n in names):
        return Kind.CHECKPOINT_DIR
    return Kind.UNKNOWN_DIR


def sniff_file(name: str, size: int | None, head: bytes, tail: bytes) -> tuple[Kind, int]:
    """(kind, offset) — offset is where an HDF5 signature sits, 0 otherwise."""
    if size == 0 or (size is None and not head):
        return Kind.EMPTY, 0
    # A zip first: a small .keras (KerasHub tasks) can hold its model.weights.h5 member at byte 2048,
    # which would pass for an HDF5 user block (observed with keras_hub BertTextClassifier.save).
    if head[:8] == HDF5_SIGNATURE:
        return Kind.HDF5, 0
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return Kind.ZIP, 0
    for off in HDF5_OFFSETS:
        if head[off:off + 8] == HDF5_SIGNATURE:
            return Kind.HDF5, off
    if tail[-8:] == BUNDLE_INDEX_MAGIC:
        return Kind.BUNDLE_INDEX, 0
    if _DATA_SHARD.search(name):
        return Kind.DATA_SHARD, 0
    if head[4:8] == b"TFL3":
        return Kind.TFLITE, 0
    if head[:6] == b"\x93NUMPY":
        return Kind.NUMPY, 0
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return Kind.PICKLE, 0
    if _is_safetensors(head, size):
        return Kind.SAFETENSORS, 0
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    low = text[:512].lower()
    if text.startswith(b"version https://git-lfs.github.com/spec/") or text.startswith(b"version https://hawser"):
        return Kind.GIT_LFS, 0
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
            low.startswith(b"<") and b"<html" in low):
        return Kind.HTML, 0
    if text.startswith(b"{") and b"weight_map" in head:
        return Kind.SHARDED_INDEX, 0
    if text.startswith(b"model_checkpoint_path:"):
        return Kind.CHECKPOINT_STATE, 0
    if name == "saved_model.pb":
        return Kind.SAVED_MODEL_PB, 0
    if _is_onnx(head):
        return Kind.ONNX, 0
    return Kind.UNKNOWN, 0


def _is_safetensors(head: bytes, size: int | None) -> bool:
    if len(head) < 10:
        return False
    n = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 2 <= n and (size is None or 8 + n <= size)


def _is_onnx(head: bytes) -> bool:
    # ModelProto starts with ir_version (field 1, varint: 0x08) and names its producer early;
    # the other-formats reader confirms with a full parse.
    try:
        from bot.analysis.others import onnx_files
    except ImportError:
        return head[:1] == b"\x08" and b"onnx" in head[:512].lower()
    return onnx_files.looks_like_onnx(head)
