"""A tiny protobuf wire-format reader: enough for TensorFlow's metadata files.

TensorFlow writes its SavedModel graph (`saved_model.pb`), Keras metadata (`keras_metadata.pb`),
fingerprints and tensor-bundle entries as protocol buffers.  Reading them needs no schema and no
`protobuf` package: a message is a flat run of `(field number, wire type, value)` records
(https://protobuf.dev/programming-guides/encoding/).  The caller knows which field numbers it
wants; everything else is skipped.

Every length is checked against the bytes that remain before anything is sliced, so a hostile
length (say 2**60) costs nothing: it raises `AnalysisError(CORRUPT)` instead of allocating.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Union

from bot.errors import AnalysisError, ErrorCode

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5
# Wire types 3 and 4 (start/end group) are proto2 relics TensorFlow never writes; we refuse them
# rather than guess how to skip a group.

# A varint carries at most 64 bits = 10 bytes of 7 bits; an 11th continuation byte is corruption.
MAX_VARINT_BYTES = 10

Value = Union[int, bytes]
UINT64 = (1 << 64) - 1


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The unsigned varint starting at `pos`, and the position just after it."""
    result = 0
    shift = 0
    end = len(buf)
    for _ in range(MAX_VARINT_BYTES):
        if pos >= end:
            raise AnalysisError(ErrorCode.CORRUPT, "A protobuf varint runs past the end of its data.")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & UINT64, pos
        shift += 7
    raise AnalysisError(ErrorCode.CORRUPT, "A protobuf varint is longer than 10 bytes.")


def iter_fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, Value]]:
    """Yield `(field_number, wire_type, value)` for each record of one message.

    Varints and fixed-width values come back as `int` (fixed32/64 unsigned little-endian);
    length-delimited values as `bytes` (a sub-message, a string or a packed array; the
    caller decides).
    """
    view = memoryview(buf)
    pos = 0
    end = len(view)
    while pos < end:
        key, pos = read_varint(view, pos)
        field_number, wire_type = key >> 3, key & 7
        if field_number == 0:
            raise AnalysisError(ErrorCode.CORRUPT, "A protobuf record has field number 0.")
        if wire_type == VARINT:
            value, pos = read_varint(view, pos)
            yield field_number, wire_type, value
        elif wire_type == FIXED64:
            if pos + 8 > end:
                raise AnalysisError(ErrorCode.CORRUPT, "A protobuf fixed64 runs past the end of its data.")
            yield field_number, wire_type, struct.unpack_from("<Q", view, pos)[0]
            pos += 8
        elif wire_type == FIXED32:
            if pos + 4 > end:
                raise AnalysisError(ErrorCode.CORRUPT, "A protobuf fixed32 runs past the end of its data.")
            yield field_number, wire_type, struct.unpack_from("<I", view, pos)[0]
            pos += 4
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(view, pos)
            if length > end - pos:
                raise AnalysisError(
                    ErrorCode.CORRUPT,
                    f"A protobuf field claims {length} bytes but only {end - pos} remain.",
                )
            yield field_number, wire_type, bytes(view[pos:pos + length])
            pos += length
        else:
            raise AnalysisError(ErrorCode.CORRUPT, f"Unsupported protobuf wire type {wire_type}.")


def fields_by_number(buf: bytes | memoryview) -> dict[int, list[Value]]:
    """All values of one message grouped by field number, in file order (repeated fields keep all)."""
    grouped: dict[int, list[Value]] = {}
    for number, _wire, value in iter_fields(buf):
        grouped.setdefault(number, []).append(value)
    return grouped


def first_int(fields: dict[int, list[Value]], number: int, default: int = 0) -> int:
    """The first integer value of a field (protobuf's default 0 when absent or not an int)."""
    for value in fields.get(number, ()):
        if isinstance(value, int):
            return value
    return default


def first_bytes(fields: dict[int, list[Value]], number: int) -> bytes | None:
    """The first length-delimited value of a field, or None when absent."""
    for value in fields.get(number, ()):
        if isinstance(value, bytes):
            return value
    return None


def all_bytes(fields: dict[int, list[Value]], number: int) -> list[bytes]:
    return [v for v in fields.get(number, ()) if isinstance(v, bytes)]


def text(value: bytes | None) -> str | None:
    """A protobuf `string` field as text; undecodable bytes are replaced, never fatal."""
    return None if value is None else value.decode("utf-8", "replace")


def packed_or_repeated_varints(fields: dict[int, list[Value]], number: int) -> list[int]:
    """A `repeated int64` field, written packed (one bytes value) or unpacked (many ints)."""
    result: list[int] = []
    for value in fields.get(number, ()):
        if isinstance(value, int):
            result.append(value)
        else:
            pos = 0
            while pos < len(value):
                item, pos = read_varint(value, pos)
                result.append(item)
    return result


def as_signed64(value: int) -> int:
    """Reinterpret an unsigned varint as a two's-complement int64 (protobuf `int64`)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class Span:
    """A length-delimited field left in the file: `length` bytes at `offset` (too big to read)."""

    __slots__ = ("offset", "length")

    def __init__(self, offset: int, length: int) -> None:
        self.offset = offset
        self.length = length


def _file_varint(f, pos: int, end: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    f.seek(pos)
    chunk = f.read(min(MAX_VARINT_BYTES, end - pos))
    value, used = read_varint(chunk, 0)
    return value, pos + used


def iter_file_fields(f, start: int, end: int,  # type: ignore[no-untyped-def]
                     inline_limit: int) -> Iterator[tuple[int, int, "Value | Span"]]:
    """Like `iter_fields`, but over `[start, end)` of a seekable file.

    Length-delimited values up to `inline_limit` bytes come back as bytes; longer ones as a
    `Span`, so a 2 GB tensor inside an ONNX graph is stepped over, never read.
    """
    pos = start
    while pos < end:
        key, pos = _file_varint(f, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise AnalysisError(ErrorCode.CORRUPT, "A protobuf record has field number 0.")
        if wire == VARINT:
            value, pos = _file_varint(f, pos, end)
            yield number, wire, value
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if pos + width > end:
                raise AnalysisError(ErrorCode.TRUNCATED, "A protobuf value runs past the end of the file.")
            f.seek(pos)
            yield number, wire, int.from_bytes(f.read(width), "little")
            pos += width
        elif wire == LENGTH_DELIMITED:
            length, pos = _file_varint(f, pos, end)
            if length > end - pos:
                raise AnalysisError(ErrorCode.TRUNCATED, f"A protobuf field claims {length} bytes but "
                                    f"only {end - pos} remain: the file is cut short or damaged.")
            if length <= inline_limit:
                f.seek(pos)
                yield number, wire, f.read(length)
            else:
                yield number, wire, Span(pos, length)
            pos += length
        else:
            raise AnalysisError(ErrorCode.CORRUPT, f"Unsupported protobuf wire type {wire}.")
