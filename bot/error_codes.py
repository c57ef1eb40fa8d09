"""Error codes: a closed list, one line of meaning each (the sentences are in bot.messages).

Its own module so that bot.messages (the sentences) and bot.errors (the exceptions, which
default to those sentences) both depend on it and not on each other.
"""

from __future__ import annotations

import enum


class ErrorCode(str, enum.Enum):
    EMPTY = "empty"  # zero bytes
    GIT_LFS_POINTER = "git-lfs-pointer"  # a Git LFS pointer text instead of the real file
    HTML = "html"  # an HTML page (login page, error page) saved instead of the file
    TRUNCATED = "truncated"  # the file ends before its own structures say it should
    CORRUPT = "corrupt"  # structures present but unreadable
    NOT_KERAS_HDF5 = "not-keras-hdf5"  # valid HDF5, but not written by Keras
    NOT_KERAS_ZIP = "not-keras-zip"  # valid zip, but not a Keras archive
    DATA_SHARD = "data-shard"  # a checkpoint .data-* shard without its .index
    UNSAFE = "unsafe"  # the file asks to read outside itself (HDF5 external links...)
    UNKNOWN = "unknown"  # no format we know
    LIMIT = "limit"  # a configured limit (bytes, requests, memory) was hit
    TIMEOUT = "timeout"  # the inspection took longer than allowed
    NOT_FOUND = "not-found"  # the file or URL does not exist
    FORBIDDEN = "forbidden"  # the source refused access, or the path is outside allowed roots
    BLOCKED = "blocked"  # the link points somewhere the bot may not connect to
    TOO_LARGE = "too-large"  # bigger than the bot is allowed to read
    UNREACHABLE = "unreachable"  # network failure talking to the source
    CHANGED = "changed"  # the file was replaced while it was being read
    INTERNAL = "internal"  # a bug in ckptbot; the report says so rather than crashing
