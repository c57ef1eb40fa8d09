"""A loopback file server for tests and benchmarks, run as a subprocess.

    python -m tests.servers.range_server ROOT [--no-range] [--no-head] [--latency-ms N]
        [--bandwidth-mbps N] [--redirect /from=URL ...] [--slack-token TOKEN] [--host 127.0.0.N]

Serves ROOT on 127.0.0.1 (port printed as `READY <port>`), HTTP/1.1 keep-alive, Range
`bytes=a-b | a- | -n` → 206 with Content-Range, 416 past the end, ETag and Last-Modified.
Counters for everything except its own control paths: `/__stats` (JSON) and `/__reset`.
`connections` counts accepted sockets, so a test can prove that a refused link made none
(each `/__stats` call opens exactly one).  Switches: `--no-range` answers 200 with the whole
file (a server ignoring Range), `--no-head` answers 405 to HEAD, `--redirect` sends 302s,
`--slack-token` plays files.slack.com: without `Authorization: Bearer TOKEN` it answers a
200 HTML login page, as Slack does for an app lacking files:read.  `--cut-ranges-by N` sends
every 206 body that does not start at byte 0 N bytes short of its Content-Length and closes
the connection: a transfer cut short.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import posixpath
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

PACE_CHUNK = 64 * 1024
LOG_LIMIT = 100_000
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.connections = 0
        self.requests = 0
        self.get = 0
        self.head = 0
        self.bytes_sent = 0
        self.log: list[dict] = []

    def as_dict(self) -> dict:
        with self.lock:
            return {"connections": self.connections, "requests": self.requests, "get": self.get,
                    "head": self.head, "bytes_sent": self.bytes_sent, "log": list(self.log)}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, addr = super().get_request()
        with self.stats.lock:  # type: ignore[attr-defined]
            self.stats.connections += 1  # type: ignore[attr-defined]
        return sock, addr


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, *args) -> None:
        pass

    # -- control ---------------------------------------------------------------------
    def _control(self) -> bool:
        path = urlsplit(self.path).path
        if path == "/__stats":
            self._send_small(200, json.dumps(self.server.stats.as_dict()).encode(), "application/json")
            return True
        if path == "/__reset":
            with self.server.stats.lock:
                self.server.stats.reset()
            self._send_small(200, b"{}", "application/json")
            return True
        return False

    def _send_small(self, status: int, body: bytes, ctype: str, extra: dict | None = None,
                    head_only: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _record(self, **fields) -> None:
        with self.server.stats.lock:
            s = self.server.stats
            s.requests += 1
            if self.command == "GET":
                s.get += 1
            elif self.command == "HEAD":
                s.head += 1
            if len(s.log) < LOG_LIMIT:
                s.log.append({"method": self.command, "path": self.path,
                              "range": self.headers.get("Range"),
                              "authorization": self.headers.get("Authorization"), **fields})

    # -- serving ---------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._serve(head_only=True)

    def do_GET(self) -> None:
        self._serve(head_only=False)

    def _serve(self, head_only: bool) -> None:
        if self._control():
            return
        opts = self.server.opts  # type: ignore[attr-defined]
        self._record()
        time.sleep(opts.latency_ms / 1000.0)
        path = urlsplit(self.path).path
        for rule in opts.redirect:
            src, _, dst = rule.partition("=")
            if path == src:
                self._send_small(302, b"", "text/plain", {"Location": dst}, head_only)
                return
        if head_only and opts.no_head:
            self._send_small(405, b"HEAD not allowed", "text/plain", head_only=True)
            return
        if opts.slack_token and self.headers.get("Authorization") != f"Bearer {opts.slack_token}":
            page = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
            self._send_small(200, page, "text/html; charset=utf-8", head_only=head_only)
            return
        rel = posixpath.normpath(unquote(path)).lstrip("/")
        full = os.path.realpath(os.path.join(opts.root, rel))
        if not full.startswith(opts.root + os.sep) or not os.path.isfile(full):
            self._send_small(404, b"not found", "text/plain", head_only=head_only)
            return
        st = os.stat(full)
        size = st.st_size
        etag = f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
        headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True)}
        if not opts.no_range:
            headers["Accept-Ranges"] = "bytes"
        if_match = self.headers.get("If-Match")
        if if_match and if_match != etag:
            self._send_small(412, b"", "text/plain", head_only=head_only)
            return
        start, end, status = 0, size, 200
        rng = self.headers.get("Range")
        if rng and not opts.no_range:
            m = _RANGE.match(rng.strip())
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(size, int(m.group(2)) + 1) if m.group(2) else size
                else:
                    start, end = max(0, size - int(m.group(2))), size
                if start >= size or start >= end:
                    self._send_small(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"}, head_only)
                    return
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if head_only:
            return
        if status == 206 and start > 0 and opts.cut_ranges_by:
            # The promised Content-Length is never met: the client sees the connection close early.
            self.close_connection = True
            end = max(start, end - opts.cut_ranges_by)
        self._send_body(full, start, end, opts.bandwidth_mbps)

    def _send_body(self, full: str, start: int, end: int, mbps: float) -> None:
        began = time.monotonic()
        sent = 0
        with open(full, "rb") as f:
            f.seek(start)
            while sent < end - start:
                chunk = f.read(min(PACE_CHUNK, end - start - sent))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
                with self.server.stats.lock:
                    self.server.stats.bytes_sent += len(chunk)
                if mbps > 0:  # pace this response to the bandwidth cap
                    ahead = sent / (mbps * 1e6) - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--no-range", action="store_true")
    p.add_argument("--no-head", action="store_true")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--bandwidth-mbps", type=float, default=0.0, help="MB/s per response; 0 = unlimited")
    p.add_argument("--redirect", action="append", default=[], help="/path=URL (302)")
    p.add_argument("--slack-token", default=None)
    p.add_argument("--cut-ranges-by", type=int, default=0, help="send 206 bodies (past byte 0) N bytes short")
    p.add_argument("--host", default="127.0.0.1", help="a loopback address to bind (127.0.0.0/8 only)")
    opts = p.parse_args(argv)
    opts.root = os.path.realpath(opts.root)
    if not opts.host.startswith("127."):
        raise SystemExit("test servers bind loopback addresses only")
    server = Server((opts.host, 0), Handler)
    server.opts = opts  # type: ignore[attr-defined]
    server.stats = Stats()  # type: ignore[attr-defined]
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
