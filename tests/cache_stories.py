"""Props for the cache stories: byte-counting artifacts, a loopback file server with ETags,
a stand-in inspection, and a worker process for cross-process single flight.

The stand-in inspection (`inspect_all_bytes`) reads every byte of the artifact and puts
their sha256 in the report, so a test can tell which version of a file an answer came from
and how many bytes each answer cost.  The cache never looks inside reports, so the real
analysis is not needed to test it (one story uses it anyway, for negative caching).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import sys
import threading
import time
from typing import Any, BinaryIO

from bot.report import Report, SourceInfo


class ByteCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.value += n


class _CountingFile:
    def __init__(self, f: BinaryIO, counter: ByteCounter) -> None:
        self._f = f
        self._counter = counter

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._counter.add(len(data))
        return data

    def readinto(self, buffer: Any) -> int:  # h5py's file-object driver reads this way
        n = self._f.readinto(buffer) or 0
        self._counter.add(n)
        return n

    def read1(self, n: int = -1) -> bytes:
        data = self._f.read1(n)
        self._counter.add(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> "_CountingFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


class CountingArtifact:
    """Wraps any Artifact; every byte read through open() is counted."""

    def __init__(self, artifact: Any, counter: ByteCounter) -> None:
        self._a = artifact
        self.counter = counter
        self.name = artifact.name
        self.uri = artifact.uri

    def open(self) -> _CountingFile:
        return _CountingFile(self._a.open(), self.counter)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._a, name)


def inspect_all_bytes(artifact: Any) -> Report:
    """A stand-in inspection: reads the whole file; the report names its sha256."""
    digest = hashlib.sha256()
    with artifact.open() as f:
        while chunk := f.read(64 * 1024):
            digest.update(chunk)
    return Report(
        source=SourceInfo(name=artifact.name, uri=artifact.uri, size_bytes=artifact.size()),
        format="keras-h5-model",
        format_detail=f"sha256={digest.hexdigest()}",
    )


def sha256_of(data: bytes) -> str:
    return "sha256=" + hashlib.sha256(data).hexdigest()


class FileServer:
    """A loopback HTTP server for a few in-memory files: HEAD, GET and Range, with ETags.

    Counts requests per method and body bytes sent, so a test can prove that a cached
    answer cost one HEAD and zero body bytes.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.counts = {"HEAD": 0, "GET": 0}
        self.body_bytes = 0
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self, with_body: bool) -> None:
                with server._lock:
                    server.counts[self.command] += 1
                    data = server.files.get(self.path)
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start, end, status = 0, len(data) - 1, 200
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    first, _, last = rng[6:].partition("-")
                    start = int(first)
                    end = min(int(last), len(data) - 1) if last else len(data) - 1
                    status = 206
                body = data[start:end + 1]
                self.send_response(status)
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                if with_body:
                    with server._lock:  # counted before sending, so the client never outruns it
                        server.body_bytes += len(body)
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self._serve(with_body=False)

            def do_GET(self) -> None:
                self._serve(with_body=True)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- a worker process for cross-process single flight -----------------------------------------

def flight_worker(redis_url: str, path: str, threads: int, go_file: str, log_file: str,
                  compute_seconds: float, lock_ttl_s: float = 75.0) -> list[str]:
    """Start `threads` threads asking the Redis cache about `path` at the same moment (when
    `go_file` appears).  Each real compute appends one line to `log_file`.  Returns each
    thread's answer (format_detail)."""
    from bot.cache.redis_cache import RedisCache
    from bot.sources.local import LocalSource

    cache = RedisCache(redis_url, lock_ttl_s=lock_ttl_s)
    source = LocalSource(path, roots=None)
    answers: list[str] = []

    def compute() -> Report:
        with open(log_file, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(compute_seconds)  # a slow inspection: everyone else arrives meanwhile
        return inspect_all_bytes(source.artifact())

    def ask() -> None:
        while not os.path.exists(go_file):
            time.sleep(0.002)
        report = cache.get_or_compute(source.identity(), compute)
        answers.append(report.format_detail or "")

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for w in workers:
        w.start()
    print("ready", flush=True)
    for w in workers:
        w.join()
    return answers


if __name__ == "__main__":
    # python tests/cache_stories.py URL PATH THREADS GO_FILE LOG_FILE COMPUTE_SECONDS [LOCK_TTL]
    url, path, n, go, log_path, seconds = sys.argv[1:7]
    lock_ttl = float(sys.argv[7]) if len(sys.argv) > 7 else 75.0
    result = flight_worker(url, path, int(n), go, log_path, float(seconds), lock_ttl)
    print(json.dumps(result), flush=True)
