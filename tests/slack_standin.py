"""A stand-in for Slack's side of the conversation, over real HTTP on 127.0.0.1.

    slack = SlackStandIn(bot_token="xoxb-test").start()
    slack.api_url            -> "http://127.0.0.1:<port>/api/"   (SLACK_API_URL for the bot)
    slack.response_url("c1") -> where a /ckpt command's answers go
    slack.add_file("F1", "model.h5", data, channel="C1")   files.info + a file host that demands the token
    slack.fail_once["chat.postMessage"] = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    slack.publish("model.h5", data) -> a public link to it (a model host for link unfurls)
    slack.wait_for("chat.update", count=1, timeout=20) -> the recorded calls
    slack.stop()

It implements auth.test, chat.postMessage, chat.update, chat.unfurl, files.info (and, with a
`socket_mode` stand-in attached, apps.connections.open) as Slack
documents them (form, query or JSON arguments; `Authorization: Bearer`), records every call
with its arguments, and answers any other method with `unknown_method`, as Slack does.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER_ID = "UBOT"
TEAM_ID = "T111"
HOLD_LIMIT_S = 120.0


@dataclass
class Call:
    method: str  # "chat.postMessage", "response_url", "file_download", …
    args: dict[str, Any]
    headers: dict[str, str]
    path: str
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    reply_ts: str | None = None  # chat.postMessage: the ts Slack gave the new message


@dataclass
class StoredFile:
    file_id: str
    name: str
    data: bytes
    channel: str
    share_ts: str
    user: str = "U222"


class SlackStandIn:
    def __init__(self, bot_token: str = "xoxb-test-token") -> None:
        self.bot_token = bot_token
        self.calls: list[Call] = []
        self.files: dict[str, StoredFile] = {}
        self.public: dict[str, bytes] = {}
        self.public_delay_s: dict[str, float] = {}  # a slow model host: seconds before each GET answers
        self.held: dict[str, threading.Event] = {}  # hold(name): its GETs wait until the test releases them
        self.held_gets: dict[str, int] = {}
        self.fail_once: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = {}
        self.uploads: dict[str, bytes] = {}  # file id -> bytes POSTed to its upload_url
        self._ts = itertools.count(1)
        self._cond = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None
        self.socket_mode: Any = None  # a SocketModeStandIn: apps.connections.open hands out its URL

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> "SlackStandIn":
        standin = self

        class Handler(_Handler):
            owner = standin

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/response_url/{name}"

    def add_file(self, file_id: str, name: str, data: bytes, channel: str = "C111", user: str = "U222") -> StoredFile:
        stored = StoredFile(file_id, name, data, channel, share_ts=self.next_ts(), user=user)
        self.files[file_id] = stored
        return stored

    def publish(self, name: str, data: bytes, delay_s: float = 0.0) -> str:
        self.public[name] = data
        self.public_delay_s[name] = delay_s
        return f"{self.url}/models/{name}"

    def hold(self, name: str) -> threading.Event:
        """GETs of the published `name` block (up to HOLD_LIMIT_S) until the returned event is set."""
        gate = self.held[name] = threading.Event()
        return gate

    def file_info(self, file_id: str) -> dict[str, Any]:
        f = self.files[file_id]
        url = f"{self.url}/files-pri/{TEAM_ID}-{file_id}/{f.name}"
        return {"id": f.file_id, "name": f.name, "title": f.name, "size": len(f.data), "user": f.user,
                "mimetype": "application/octet-stream", "filetype": "binary", "mode": "hosted",
                "url_private": url, "url_private_download": url + "?download=1",
                "shares": {"public": {f.channel: [{"ts": f.share_ts, "channel_name": "general"}]}}}

    # --- what happened ------------------------------------------------------------------
    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0, where: Any = None) -> list[Call]:
        """The first `count` calls to `method` (matching `where(call)`), waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.method == method and (where is None or where(c))]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.status) for c in self.calls]
                    raise AssertionError(f"{count} × {method} not seen within {timeout}s; calls: {seen}")
                self._cond.wait(left)


class _Handler(BaseHTTPRequestHandler):
    owner: SlackStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet test output
        pass

    def _args(self) -> dict[str, Any]:
        parts = urlsplit(self.path)
        args: dict[str, Any] = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw:
            if (self.headers.get("Content-Type") or "").startswith("application/json") or raw[:1] == b"{":
                args.update(json.loads(raw))
            else:
                args.update(parse_qsl(raw.decode()))
        for key in ("blocks", "unfurls", "attachments"):  # form-encoded calls send these as JSON text
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def _route(self) -> None:
        owner = self.owner
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path.startswith("/upload/"):  # files.getUploadURLExternal's upload_url: raw bytes, any type
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            owner.uploads[path[len("/upload/"):]] = raw
            owner.record(Call("file_upload", {"file_id": path[len("/upload/"):], "bytes": raw}, headers, self.path))
            self._send(200, b"OK - " + str(len(raw)).encode(), content_type="text/plain")
            return
        args = self._args()
        if path.startswith("/api/"):
            method = path[len("/api/"):]
        elif path.startswith("/response_url/"):
            method = "response_url"
        elif path.startswith("/files-pri/"):
            method = "file_download"
        elif path.startswith("/models/"):
            method = "model_download"
        else:
            method = "unknown"
        call = self._call = Call(method, args, headers, self.path)
        failure = owner.fail_once.pop(method, None)
        if failure is not None:
            call.status = failure[0]
            owner.record(call)
            self._send(failure[0], failure[1], failure[2])
            return
        owner.record(call)
        if method == "response_url":
            self._send(200, b"ok", content_type="text/plain")
        elif method == "file_download":
            self._file_download(path, headers)
        elif method == "model_download":
            name = path[len("/models/"):]
            data = owner.public.get(name)
            if self.command == "GET" and owner.public_delay_s.get(name):
                time.sleep(owner.public_delay_s[name])
            if self.command == "GET" and name in owner.held:
                with owner._cond:
                    owner.held_gets[name] = owner.held_gets.get(name, 0) + 1
                    owner._cond.notify_all()
                owner.held[name].wait(HOLD_LIMIT_S)
            if data is None:
                self._send(404, b"not found", content_type="text/plain")
            else:
                self._send_bytes(data, headers)
        elif method == "unknown":
            self._send(404, {"ok": False, "error": "not_found"})
        else:
            self._api(method, args, headers)

    def _api(self, method: str, args: dict[str, Any], headers: dict[str, str]) -> None:
        owner = self.owner
        if method == "apps.connections.open":  # app-level token, not the bot token
            socket_mode = owner.socket_mode
            if socket_mode is None or headers.get("authorization") != f"Bearer {socket_mode.app_token}":
                self._send(200, {"ok": False, "error": "invalid_auth"})
            else:
                self._send(200, {"ok": True, "url": socket_mode.url})
            return
        if headers.get("authorization") != f"Bearer {owner.bot_token}":
            self._send(200, {"ok": False, "error": "invalid_auth"})
            return
        if method == "auth.test":
            self._send(200, {"ok": True, "url": "https://example.slack.com/", "team": "Example",
                             "user": "ckptbot", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "BBOT"})
        elif method == "chat.postMessage":
            self._call.reply_ts = ts = owner.next_ts()
            self._send(200, {"ok": True, "channel": args.get("channel"), "ts": ts,
                             "message": {"text": args.get("text"), "bot_id": "BBOT"}})
        elif method == "chat.update":
            self._send(200, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"),
                             "text": args.get("text")})
        elif method == "chat.unfurl":
            ok = bool(args.get("unfurls")) and (bool(args.get("unfurl_id") and args.get("source"))
                                                or bool(args.get("channel") and args.get("ts")))
            self._send(200, {"ok": True} if ok else {"ok": False, "error": "invalid_arguments"})
        elif method == "files.info":
            file_id = args.get("file", "")
            if file_id not in owner.files:
                self._send(200, {"ok": False, "error": "file_not_found"})
            else:
                self._send(200, {"ok": True, "file": owner.file_info(file_id)})
        elif method == "files.getUploadURLExternal":  # Slack's upload flow, step 1 of 3
            if not args.get("filename") or not str(args.get("length", "")).isdigit():
                self._send(200, {"ok": False, "error": "invalid_arguments"})
                return
            file_id = f"FUP{owner.next_ts().replace('.', '')}"
            self._send(200, {"ok": True, "upload_url": f"{owner.url}/upload/{file_id}", "file_id": file_id})
        elif method == "files.completeUploadExternal":  # step 3: share the uploaded bytes
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            if not files or any(f.get("id") not in owner.uploads for f in files):
                self._send(200, {"ok": False, "error": "file_not_found"})
                return
            self._send(200, {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]})
        else:
            self._send(200, {"ok": False, "error": "unknown_method"})

    def _file_download(self, path: str, headers: dict[str, str]) -> None:
        owner = self.owner
        if headers.get("authorization") != f"Bearer {owner.bot_token}":
            # Slack's behaviour without a valid token: a 200 sign-in page (slack-bolt.md must-know 7).
            self._send(200, b"<!DOCTYPE html><html><title>Slack</title>sign in</html>", content_type="text/html")
            return
        file_id = path.split("/")[2].split("-", 1)[-1]
        stored = owner.files.get(file_id)
        if stored is None:
            self._send(404, b"not found", content_type="text/plain")
            return
        self._send_bytes(stored.data, headers)

    def _send_bytes(self, data: bytes, headers: dict[str, str]) -> None:
        """The bytes, honouring `Range: bytes=a-b` (206) as file hosts do; HEAD gets headers only."""
        start, end = 0, len(data) - 1
        tag = {"ETag": '"' + hashlib.sha1(data).hexdigest() + '"', "Accept-Ranges": "bytes"}
        rng = headers.get("range", "")
        if rng.startswith("bytes="):
            first, _, last = rng[len("bytes="):].partition("-")
            start = int(first or 0)
            end = min(int(last), len(data) - 1) if last else len(data) - 1
            self._send(206, data[start:end + 1], {"Content-Range": f"bytes {start}-{end}/{len(data)}", **tag},
                       "application/octet-stream")
            return
        self._send(200, data, tag, "application/octet-stream")
