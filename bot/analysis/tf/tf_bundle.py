"""TensorFlow tensor bundles: the `.index` table of a checkpoint or a SavedModel's variables.

A bundle is `<prefix>.index` (a LevelDB-format SSTable mapping variable keys to
`BundleEntryProto`s) plus `<prefix>.data-SSSSS-of-NNNNN` shards of raw little-endian bytes
(keras-formats.md §6.2; `tensorflow/core/util/tensor_bundle/tensor_bundle.cc`).  Names, dtypes,
shapes and byte ranges all come from the index, so it is read whole (it is small) and the shards
are touched only for a few small scalars (the optimizer's step count, its learning rate) and the
serialized object graph.

Table layout (`tensorflow/core/lib/io/format.h`, `block.cc`):
  footer = last 48 bytes: metaindex handle, index handle (varint64 offset + size each), zero
  padding to 40 bytes, magic 0xdb4775248b80fb57 little-endian.  Each block is followed by a
  5-byte trailer (compression type byte, masked crc32c).  A block body is entries
  `varint shared, varint non_shared, varint value_len, key_delta, value`, then a u32 restart
  array and its u32 count.  The index block's values are handles of the data blocks.
"""

from __future__ import annotations

import re
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import BinaryIO

import google_crc32c

from bot.analysis.wire import protobuf as pb
from bot.errors import AnalysisError, ErrorCode

TABLE_MAGIC = bytes.fromhex("57fb808b247547db")  # kTableMagicNumber 0xdb4775248b80fb57, LE
FOOTER_BYTES = 48  # 2 × max BlockHandle (2 × 10 bytes each) padded to 40, + 8 magic
BLOCK_TRAILER_BYTES = 5  # compression type + masked crc32c (kBlockTrailerSize)
# The index holds ~60-150 bytes per variable (key + BundleEntryProto): 64 MiB is room for
# ~500k variables, far beyond any Keras model, and small enough to read into memory at once.
MAX_INDEX_BYTES = 64 * 1024 * 1024
# Bounded work on a hostile table: no real bundle comes near a million entries.
MAX_ENTRIES = 1_000_000
# Small scalars (step counter, learning rate) are the only tensor data we read: 16 bytes
# covers int64/float64 and refuses anything shaped like real weights.
MAX_SCALAR_BYTES = 16
# The TrackableObjectGraph (a scalar string tensor) lists one node per trackable object and
# one attribute per variable: ~100 bytes each.  16 MiB covers >100k variables.
MAX_OBJECT_GRAPH_BYTES = 16 * 1024 * 1024
# Object-graph edges that alias variables already owned elsewhere (lists kept by Keras models and
# by Keras 3 export modules); following them would hide which layer owns a variable.
ALIAS_EDGES = frozenset({"variables", "trainable_variables", "non_trainable_variables", "_all_variables",
                         "weights", "trainable_weights", "non_trainable_weights", "keras_api"})
# Shard file names carry the count in 5 digits (`-of-NNNNN`).
MAX_SHARDS = 99_999
SHARD_NAME = re.compile(r"^(?P<prefix>.+)\.data-(?P<shard>\d{5})-of-(?P<count>\d{5})$")
VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# tensorflow/core/framework/types.proto DataType → numpy-style names and item sizes.
DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 4), 2: ("float64", 8), 3: ("int32", 4), 4: ("uint8", 1), 5: ("int16", 2),
    6: ("int8", 1), 7: ("string", 0), 8: ("complex64", 8), 9: ("int64", 8), 10: ("bool", 1),
    11: ("qint8", 1), 12: ("quint8", 1), 13: ("qint32", 4), 14: ("bfloat16", 2), 15: ("qint16", 2),
    16: ("quint16", 2), 17: ("uint16", 2), 18: ("complex128", 16), 19: ("float16", 2),
    20: ("resource", 0), 21: ("variant", 0), 22: ("uint32", 4), 23: ("uint64", 8),
}


@dataclass(frozen=True)
class BundleEntry:
    dtype: str
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int  # bytes in the data shard
    crc32c: int
    sliced: bool = False  # a partitioned variable: its bytes live in slice entries

    @property
    def count(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        """Bytes of the whole tensor: a sliced variable's full entry has size 0, its slices hold the data."""
        if self.sliced:
            return self.count * next((size for name, size in DTYPES.values() if name == self.dtype), 0)
        return self.size


@dataclass
class BundleIndex:
    num_shards: int
    endianness: str  # "little" or "big"
    entries: dict[str, BundleEntry] = field(default_factory=dict)

    def shard_name(self, prefix: str, shard_id: int) -> str:
        return f"{prefix}.data-{shard_id:05d}-of-{self.num_shards:05d}"


def looks_like_bundle_index(tail8: bytes) -> bool:
    """True when the last 8 bytes of a file are the SSTable magic a `.index` ends with."""
    return bytes(tail8[-8:]) == TABLE_MAGIC


def read_bundle_index(f: BinaryIO, size: int) -> BundleIndex:
    """Parse a tensor-bundle `.index` file: header and every entry, without touching the shards."""
    if size < FOOTER_BYTES:
        raise AnalysisError(ErrorCode.TRUNCATED, f"The checkpoint index is only {size} bytes, shorter "
                            f"than its {FOOTER_BYTES}-byte footer: the file is cut short.")
    if size > MAX_INDEX_BYTES:
        raise AnalysisError(ErrorCode.LIMIT, f"The checkpoint index is {size} bytes; I read indexes of "
                            f"up to {MAX_INDEX_BYTES} bytes.")
    f.seek(0)
    data = f.read(size)
    if len(data) < size:
        raise AnalysisError(ErrorCode.TRUNCATED, "The checkpoint index ended while reading it.")
    footer = data[-FOOTER_BYTES:]
    if footer[-8:] != TABLE_MAGIC:
        raise AnalysisError(ErrorCode.TRUNCATED, "The checkpoint index does not end with the table "
                            "footer (magic number): the file is cut short or is not a checkpoint index.")
    _meta_handle, pos = _block_handle(footer, 0)
    index_handle, _ = _block_handle(footer, pos)
    body_end = size - FOOTER_BYTES
    entries: dict[str, BundleEntry] = {}
    header: dict[int, list[pb.Value]] | None = None
    for _key, handle_bytes in _block_entries(data, index_handle, body_end):
        data_handle, _ = _block_handle(handle_bytes, 0)
        for key, value in _block_entries(data, data_handle, body_end):
            if len(entries) >= MAX_ENTRIES:
                raise AnalysisError(ErrorCode.LIMIT, f"The checkpoint index lists more than "
                                    f"{MAX_ENTRIES} entries; I stop there.")
            name = key.decode("utf-8", "replace")
            if name == "":
                header = pb.fields_by_number(value)
            else:
                entries[name] = _bundle_entry(name, value)
    if header is None:
        raise AnalysisError(ErrorCode.CORRUPT, "The checkpoint index has no bundle header entry.")
    num_shards = pb.first_int(header, 1)
    if num_shards < 1 or num_shards > MAX_SHARDS:
        raise AnalysisError(ErrorCode.CORRUPT, f"The checkpoint index claims {num_shards} data shards.")
    endianness = "big" if pb.first_int(header, 2) == 1 else "little"
    return BundleIndex(num_shards=num_shards, endianness=endianness, entries=entries)


def _block_handle(buf: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = pb.read_varint(buf, pos)
    length, pos = pb.read_varint(buf, pos)
    return (offset, length), pos


def _block_entries(data: bytes, handle: tuple[int, int], body_end: int):
    """Yield (key, value) of one block, after checking its bounds, trailer and restart array."""
    offset, length = handle
    if offset + length + BLOCK_TRAILER_BYTES > body_end:
        raise AnalysisError(ErrorCode.CORRUPT, f"A block of the checkpoint index ({length} bytes at "
                            f"{offset}) lies outside the file's {body_end} bytes of blocks.")
    compression = data[offset + length]
    if compression != 0:
        raise AnalysisError(ErrorCode.CORRUPT, f"The checkpoint index uses block compression type "
                            f"{compression}; TensorFlow writes bundle indexes uncompressed (type 0).")
    stored_crc = struct.unpack_from("<I", data, offset + length + 1)[0]
    if _masked_crc32c(data[offset:offset + length + 1]) != stored_crc:
        raise AnalysisError(ErrorCode.CORRUPT, f"A block of the checkpoint index (at byte {offset}) "
                            "fails its checksum: the file is damaged.")
    block = memoryview(data)[offset:offset + length]
    if length < 4:
        raise AnalysisError(ErrorCode.CORRUPT, "A block of the checkpoint index is too short.")
    num_restarts = struct.unpack_from("<I", block, length - 4)[0]
    if 4 + 4 * num_restarts > length:
        raise AnalysisError(ErrorCode.CORRUPT, "A block's restart array is larger than the block.")
    entries_end = length - 4 - 4 * num_restarts
    pos = 0
    key = b""
    while pos < entries_end:
        shared, pos = pb.read_varint(block, pos)
        non_shared, pos = pb.read_varint(block, pos)
        value_len, pos = pb.read_varint(block, pos)
        if shared > len(key) or non_shared + value_len > entries_end - pos:
            raise AnalysisError(ErrorCode.CORRUPT, "An entry of the checkpoint index runs past its block.")
        key = key[:shared] + bytes(block[pos:pos + non_shared])
        pos += non_shared
        yield key, bytes(block[pos:pos + value_len])
        pos += value_len


def _bundle_entry(name: str, value: bytes) -> BundleEntry:
    fields = pb.fields_by_number(value)
    dtype_code = pb.first_int(fields, 1)
    dtype = DTYPES.get(dtype_code, (f"dtype-{dtype_code}", 0))[0]
    shape: list[int] = []
    shape_msg = pb.first_bytes(fields, 2)
    if shape_msg:
        for dim in pb.all_bytes(pb.fields_by_number(shape_msg), 2):
            size = pb.as_signed64(pb.first_int(pb.fields_by_number(dim), 1))
            if size < 0:
                raise AnalysisError(ErrorCode.CORRUPT, f"Variable `{name}` has a negative dimension.")
            shape.append(size)
    return BundleEntry(
        dtype=dtype,
        shape=tuple(shape),
        shard_id=pb.first_int(fields, 3),
        offset=pb.as_signed64(pb.first_int(fields, 4)),
        size=pb.as_signed64(pb.first_int(fields, 5)),
        crc32c=pb.first_int(fields, 6),
        sliced=bool(fields.get(7)),
    )


def read_small_scalar(shard_file: BinaryIO, shard_size: int | None, entry: BundleEntry,
                      endianness: str = "little") -> int | float | None:
    """The value of a numeric scalar entry (≤ 16 bytes), or None if it is not one or not there."""
    item = {"int64": "q", "int32": "i", "float32": "f", "float64": "d", "uint8": "B",
            "int16": "h", "int8": "b", "uint32": "I", "uint64": "Q"}.get(entry.dtype)
    if item is None or entry.shape or entry.size > MAX_SCALAR_BYTES or entry.size != struct.calcsize(item):
        return None
    raw = _entry_bytes(shard_file, shard_size, entry)
    if raw is None:
        return None
    return struct.unpack(("<" if endianness == "little" else ">") + item, raw)[0]


def _entry_bytes(shard_file: BinaryIO, shard_size: int | None, entry: "BundleEntry") -> bytes | None:
    """An entry's bytes from its data shard (callers bound `entry.size` first); None when they are
    not all there."""
    if entry.offset < 0 or (shard_size is not None and entry.offset + entry.size > shard_size):
        return None
    shard_file.seek(entry.offset)
    raw = shard_file.read(entry.size)
    return raw if len(raw) == entry.size else None


# The object-graph edge Keras names a layer by ("layer-3", "layer_with_weights-0").
LAYER_EDGE = re.compile(r"^(layer_with_weights|layer)-\d+$")


@dataclass
class ObjectGraph:
    """The `TrackableObjectGraph` saved beside the variables: who owns which variable.

    Node 0 is the root (the model for `save_weights`, the `tf.train.Checkpoint` or the export
    module).  `children[i]` are (node id, local name) edges; `variables[i]` are the
    (checkpoint key, full variable name) pairs node i saves; `slot_owners` are the checkpoint
    keys of variables an optimizer keeps slots for (legacy optimizers record them explicitly).
    """

    children: list[list[tuple[int, str]]] = field(default_factory=list)
    variables: list[list[tuple[str, str]]] = field(default_factory=list)
    slot_owners: set[str] = field(default_factory=set)

    def variable_names(self) -> dict[str, str]:
        return {key: name for node in self.variables for key, name in node if name}

    def root_children(self) -> list[str]:
        return [name for _node, name in self.children[0]] if self.children else []

    def object_paths(self) -> dict[str, str]:
        """checkpoint key → the owning object's path through attributes, not through list aliases.

        TensorFlow names a variable by the first path it finds, which may run through a
        `variables` list (`variables/0/...` for a nested model's weights in a tf.keras
        SavedModel).  Skipping such aliases finds the path through the layers instead:
        `layer_with_weights-0/layer_with_weights-0` (breadth first, like TensorFlow).
        """
        paths: dict[int, str] = {0: ""}
        queue = deque([0])
        found: dict[str, str] = {}
        while queue:
            node = queue.popleft()
            for key, _name in self.variables[node]:
                found.setdefault(key, paths[node])
            for child, name in self.children[node]:
                if name in ALIAS_EDGES or child in paths or not 0 <= child < len(self.children):
                    continue
                paths[child] = f"{paths[node]}/{name}" if paths[node] else name
                queue.append(child)
        return found

    def key_order(self) -> dict[str, int]:
        """checkpoint key → rank in depth-first order through attributes: model creation order
        (kernel before bias, layers in model order), which sorted keys lose."""
        order: dict[str, int] = {}
        seen: set[int] = set()
        stack = [0]
        while stack:
            node = stack.pop()
            if node in seen or not 0 <= node < len(self.children):
                continue
            seen.add(node)
            for key, _name in self.variables[node]:
                order.setdefault(key, len(order))
            stack.extend(child for child, name in reversed(self.children[node]) if name not in ALIAS_EDGES)
        return order

    def keys_reached_from(self, root_child: str) -> set[str]:
        """Checkpoint keys of variables reachable from the root's child `root_child`."""
        start = [node for node, name in (self.children[0] if self.children else []) if name == root_child]
        seen: set[int] = set()
        keys: set[str] = set()
        while start:
            node = start.pop()
            if node in seen or not 0 <= node < len(self.children):
                continue
            seen.add(node)
            keys.update(key for key, _name in self.variables[node])
            start.extend(child for child, _name in self.children[node])
        return keys


def read_object_graph(shard_file: BinaryIO, shard_size: int | None,
                      entry: BundleEntry) -> ObjectGraph | None:
    """The object graph stored in `_CHECKPOINTABLE_OBJECT_GRAPH`, or None when unreadable.

    It is a scalar DT_STRING tensor: varint64 length, 4-byte crc32c of the lengths, then a
    serialized `TrackableObjectGraph { repeated TrackableObject nodes = 1 }`; a node has
    `children = 1 { node_id = 1; local_name = 2 }`, `attributes = 2 { name = 1; full_name = 2;
    checkpoint_key = 3 }`, `slot_variables = 3 { original_variable_node_id = 1; ... }`.
    Names are a nicety, never a reason to fail, so damage here yields None.
    """
    if entry.dtype != "string" or entry.shape or entry.size > MAX_OBJECT_GRAPH_BYTES:
        return None
    raw = _entry_bytes(shard_file, shard_size, entry)
    if raw is None:
        return None
    try:
        length, pos = pb.read_varint(raw, 0)
        serialized = raw[pos + 4:pos + 4 + length]
        if len(serialized) != length:
            return None
        graph = ObjectGraph()
        slot_nodes: list[int] = []
        for node in pb.all_bytes(pb.fields_by_number(serialized), 1):
            fields = pb.fields_by_number(node)
            graph.children.append([
                (pb.first_int(ref, 1), pb.text(pb.first_bytes(ref, 2)) or "")
                for ref in map(pb.fields_by_number, pb.all_bytes(fields, 1))
            ])
            graph.variables.append([
                (pb.text(pb.first_bytes(attr, 3)) or "", pb.text(pb.first_bytes(attr, 2)) or "")
                for attr in map(pb.fields_by_number, pb.all_bytes(fields, 2))
            ])
            slot_nodes.extend(pb.first_int(pb.fields_by_number(slot), 1)
                              for slot in pb.all_bytes(fields, 3))
        for node_id in slot_nodes:
            if 0 <= node_id < len(graph.variables):
                graph.slot_owners.update(key for key, _ in graph.variables[node_id])
        return graph
    except AnalysisError:
        return None


# --- crc32c (Castagnoli), as LevelDB masks it -------------------------------------------------
# google-crc32c (C, hardware-accelerated; its own pure-Python fallback elsewhere): the table loop
# it replaces took ~90-220 ms per MiB, 6 s on a 64 MiB index.

CRC_MASK_DELTA = 0xA282EAD8  # leveldb/util/crc32c.h kMaskDelta
UINT32 = (1 << 32) - 1


def crc32c(data: bytes | memoryview) -> int:
    return int(google_crc32c.value(bytes(data)))


def _masked_crc32c(data: bytes | memoryview) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & UINT32) + CRC_MASK_DELTA) & UINT32
