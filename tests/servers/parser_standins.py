"""Stand-in readers for isolation tests: each misbehaves the way a hostile file can make a
parser misbehave (block, spin, eat memory, crash), on purpose and reliably."""

from __future__ import annotations

import ctypes
import time

HOG_BYTES = 8 * 1024**3  # far above any parser memory limit a test sets


def blocks_forever(artifact):
    time.sleep(3600)  # a blocking call escapes RLIMIT_CPU: only the wall timeout stops it


def spins_forever(artifact):
    while True:
        pass


def eats_memory(artifact):
    return bytearray(HOG_BYTES)


def crashes(artifact):
    ctypes.string_at(0)  # SIGSEGV, as a memory-safety bug in HDF5 would
