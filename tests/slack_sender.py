"""Sends what Slack sends: signed slash commands, events and button clicks, over real HTTP.

The signature covers the exact bytes sent (form-encode or `json.dumps` once, then sign that
string), as Slack does; `signature=` and `timestamp=` override them for tampered and stale
requests.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from tests.slack_standin import BOT_USER_ID, TEAM_ID

_ids = itertools.count(1)


def sign(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSender:
    def __init__(self, url: str, signing_secret: str) -> None:
        self.url = url
        self.secret = signing_secret

    def post(self, body: str, *, content_type: str, timestamp: str | None = None,
             signature: str | None = None, extra_headers: dict[str, str] | None = None,
             timeout: float = 10.0) -> tuple[int, str]:
        ts = timestamp if timestamp is not None else str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": signature or sign(self.secret, ts, body), **(extra_headers or {})}
        req = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def command(self, text: str, response_url: str, *, command: str = "/ckpt", user: str = "U222",
                channel: str = "C111", **kwargs: Any) -> tuple[int, str]:
        body = urlencode({"token": "legacy", "team_id": TEAM_ID, "team_domain": "example",
                          "channel_id": channel, "channel_name": "general", "user_id": user,
                          "user_name": "ann", "command": command, "text": text, "api_app_id": "A111",
                          "is_enterprise_install": "false", "response_url": response_url,
                          "trigger_id": f"{next(_ids)}.1.abc"})
        return self.post(body, content_type="application/x-www-form-urlencoded", **kwargs)

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None,
              **kwargs: Any) -> tuple[int, str]:
        envelope = {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A111", "type": "event_callback",
                    "event_id": event_id or f"Ev{next(_ids):08d}", "event_time": int(time.time()),
                    "event": event,
                    "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                        "is_bot": True, "is_enterprise_install": False}]}
        extra = kwargs.pop("extra_headers", {})
        if retry_num is not None:
            extra = {**extra, "X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(json.dumps(envelope), content_type="application/json", extra_headers=extra, **kwargs)

    def button(self, action_id: str, value: str, *, channel: str, message_ts: str, response_url: str,
               user: str = "U222") -> tuple[int, str]:
        payload = {"type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": user},
                   "api_app_id": "A111", "token": "legacy", "trigger_id": f"{next(_ids)}.1.abc",
                   "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
                   "channel": {"id": channel}, "message": {"ts": message_ts, "type": "message"},
                   "response_url": response_url,
                   "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value,
                                "action_ts": str(time.time())}]}
        return self.post(urlencode({"payload": json.dumps(payload)}),
                         content_type="application/x-www-form-urlencoded")
