"""Story: a folder full of odd entries (issue 12 point 6, issue 13 point 4) gets a bounded, crash-free identity."""

import os
import socket

from bot.sources import local
from bot.sources.local import LocalSource


def test_odd_entries_never_crash_identity(tmp_path):
    os.symlink("/nonexistent/target", tmp_path / "dangling")
    os.symlink("loop", tmp_path / "loop")  # points at itself
    os.mkfifo(tmp_path / "fifo")  # opening it would block: identity must only lstat it
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        ident = LocalSource(str(tmp_path), roots=None).identity()
    finally:
        sock.close()
    newest = dict(ident.validators)["newest_mtime_ns"]
    assert int(newest) == max(os.lstat(tmp_path / n).st_mtime_ns for n in ("dangling", "loop", "fifo", "sock"))


def test_identity_looks_at_a_bounded_number_of_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "MAX_IDENTITY_ENTRIES", 5)
    for i in range(20):
        (tmp_path / f"f{i:02d}").write_bytes(b"x")
    calls = []
    real_scandir = os.scandir

    class Counting:
        def __init__(self, path):
            self.it = real_scandir(path)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.it.close()

        def __iter__(self):
            for e in self.it:
                calls.append(e.name)
                yield e

    monkeypatch.setattr(local.os, "scandir", Counting)
    LocalSource(str(tmp_path), roots=None).identity()
    assert len(calls) == 6  # five counted, the sixth stops the walk
