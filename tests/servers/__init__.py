"""Real servers on loopback for tests and benchmarks: each runs as a subprocess and is stopped
in `finally` (or by the context manager).  See range_server.py and moto_server.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from typing import Iterator

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STARTUP_SECONDS = 30.0


class LoopbackServer:
    """A started range_server subprocess: its base URL, counters and a way to stop it."""

    def __init__(self, proc: subprocess.Popen, port: int, host: str = "127.0.0.1") -> None:
        self.proc = proc
        self.port = port
        self.host = host
        self.base = f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def stats(self) -> dict:
        # Opens exactly one connection, counted by the server.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.url("__stats"), timeout=10) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.url("__reset"), timeout=10) as resp:
            resp.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_range_server(root: str, *flags: str) -> LoopbackServer:
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers.range_server", root, *flags],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"range server did not start: {line!r}")
    host = flags[flags.index("--host") + 1] if "--host" in flags else "127.0.0.1"
    return LoopbackServer(proc, int(line.split()[1]), host)


@contextmanager
def range_server(root: str, *flags: str) -> Iterator[LoopbackServer]:
    server = start_range_server(root, *flags)
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """moto's S3 API in server mode on loopback; yields its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers.moto_server", str(port)],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("READY"):
            raise RuntimeError(f"moto server did not start: {line!r}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
