"""A minimal Slack Web API stand-in for the watcher stories: a threaded HTTP server on
127.0.0.1 that answers `auth.test` and `chat.postMessage` (JSON or form bodies) and records
every post.  Point `SLACK_API_URL` (Settings.slack_api_url) at `standin.api_url`.

    with SlackStandin() as slack:
        ... slack.posts -> [{"channel": ..., "text": ..., "thread_ts": ..., "ts": ..., "token": ...}]
        slack.wait_for_posts(2, timeout=30)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class SlackStandin:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ts = itertools.count(1)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                method = self.path.rsplit("/", 1)[-1]
                answer = standin._answer(method, args, token)
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _answer(self, method: str, args: dict[str, Any], token: str) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "team_id": "T1", "bot_id": "B1"}
        if method != "chat.postMessage":
            return {"ok": False, "error": "unknown_method"}
        if not token.startswith("xoxb-"):
            return {"ok": False, "error": "not_authed"}
        with self._changed:
            ts = f"{1700000000 + next(self._ts)}.000100"
            blocks = args.get("blocks")
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            self.posts.append({"channel": args.get("channel"), "text": args.get("text", ""),
                               "thread_ts": args.get("thread_ts"), "blocks": blocks, "ts": ts,
                               "token": token, "at": time.time()})
            self._changed.notify_all()
        return {"ok": True, "channel": args.get("channel"), "ts": ts}

    def wait_for_posts(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Waits (bounded) until at least `count` posts arrived; returns all posts so far."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.posts) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.posts)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.posts)

    def __enter__(self) -> "SlackStandin":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
