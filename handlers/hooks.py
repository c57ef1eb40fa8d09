"""`POST /hooks/checkpoint`: a training job or CI announces a checkpoint it just wrote.

Request (the body is JSON; sign the exact bytes you send):

    POST /hooks/checkpoint
    X-Ckptbot-Timestamp: 1795867202                      (unix seconds, now)
    X-Ckptbot-Signature: sha256=<hex HMAC-SHA256(CKPTBOT_WEBHOOK_SECRET, "<timestamp>." + body)>
    {"reference": "s3://team-models/exp1/ckpt-0007.keras", "channel": "C0123", "run": "exp1"}

`reference` is a path, URL or S3 key, read as a user's link would be (CKPTBOT_LOCAL_ROOTS,
the SSRF guard); `channel` is where to post; `run` (optional) groups the announcement into a
run's thread and delta chain (default: the reference's folder, as a folder watcher groups it;
a file announced here and seen by a watcher of its folder is posted once, not twice).

The signature covers the timestamp, so a captured request cannot be re-dated; a timestamp more
than 5 minutes from now is refused (as Slack does, security.md §5.1).  A replay inside that
window announces nothing new: announcements are exactly-once per file version.

Answers: 200 {"ok": true, "outcome": "posted"|"already"|"busy", "ts": ...};
401 bad or missing signature, stale timestamp; 400 malformed body; 413 body too large;
422 the reference is not a model (the error says why); 503 no secret configured or Slack/Redis
unavailable (retry later).  The inspection runs inside the request (up to
CKPTBOT_MAX_WALL_SECONDS): callers should allow a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import posixpath
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.watch.announcer import Announcer

SIGNATURE_HEADER = "X-Ckptbot-Signature"
TIMESTAMP_HEADER = "X-Ckptbot-Timestamp"
SIGNATURE_PREFIX = "sha256="
# Slack's window for its own signed requests (security.md §5.1); clocks of CI runners drift
# by seconds, not minutes.
MAX_CLOCK_SKEW_SECONDS = 300
# A reference, a channel id and a run name fit in well under 1 KB; 16 KB leaves room for long
# presigned URLs and refuses anything else before parsing it.
MAX_BODY_BYTES = 16 * 1024
_MAX_FIELD_CHARS = 4096


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a caller sends: `sha256=<hex>` over `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify_signature(body: bytes, headers: Mapping[str, str], secret: str, now: float | None = None) -> str | None:
    """None if the request is authentic and fresh, else the reason (for the 401 body)."""
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
    try:
        stamp = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be unix seconds"
    now = time.time() if now is None else now
    if abs(now - stamp) > MAX_CLOCK_SKEW_SECONDS:
        return f"{TIMESTAMP_HEADER} is more than {MAX_CLOCK_SKEW_SECONDS} s from now"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        return "signature does not match"
    return None


def checkpoint_hook(body: bytes, headers: Mapping[str, str], settings: "Settings",
                    announcer: "Announcer") -> tuple[int, dict[str, Any]]:
    """Verify, parse, inspect, announce; returns (HTTP status, JSON body)."""
    if not settings.webhook_secret:
        return 503, {"ok": False, "error": "the webhook is off: CKPTBOT_WEBHOOK_SECRET is not set"}
    if len(body) > MAX_BODY_BYTES:
        return 413, {"ok": False, "error": f"body over {MAX_BODY_BYTES} bytes"}
    problem = verify_signature(body, headers, settings.webhook_secret)
    if problem:
        return 401, {"ok": False, "error": f"invalid request: {problem}"}
    request, problem = _parse(body)
    if problem:
        return 400, {"ok": False, "error": problem}
    return _announce(request, settings, announcer)


def _parse(body: bytes) -> tuple[dict[str, str], str | None]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}, "the body must be JSON"
    if not isinstance(data, dict):
        return {}, "the body must be a JSON object"
    out: dict[str, str] = {}
    for name in ("reference", "channel", "run"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_FIELD_CHARS:
            return {}, f"'{name}' must be a non-empty string"
        out[name] = value.strip()
    for required in ("reference", "channel"):
        if required not in out:
            return {}, f"'{required}' is required"
    return out, None


def _announce(request: dict[str, str], settings: "Settings", announcer: "Announcer") -> tuple[int, dict[str, Any]]:
    from bot.sources import resolve
    from bot.sources.base import SourceError
    from bot.watch.announcer import Outcome
    from bot.watch.scanner import version_and_run

    reference = request["reference"]
    try:
        source = resolve(reference, settings)
        version, folder = version_and_run(source.identity())
    except SourceError as exc:
        return 422, {"ok": False, "error": exc.message, "code": exc.code.value}
    name = posixpath.basename(reference.rstrip("/")) or reference
    run = request.get("run") or folder
    result = announcer.announce(channel=request["channel"], version=version, uri=reference, name=name, run=run)
    if result.outcome is Outcome.NOT_A_MODEL:
        err = result.report.error if result.report else None
        return 422, {"ok": False, "error": err.message if err else "not a model",
                     "code": err.code if err else None}
    if result.outcome is Outcome.DEFERRED:
        return 503, {"ok": False, "error": "Slack or Redis is unavailable; retry later"}
    return 200, {"ok": True, "outcome": result.outcome.value, "ts": result.ts}


def make_hook_wsgi_app(settings: "Settings", announcer: "Announcer") -> Callable[..., Iterable[bytes]]:
    """A WSGI app answering `POST /hooks/checkpoint` with checkpoint_hook(); mount it beside
    Bolt's handler (dispatch on PATH_INFO, as for /healthz).  The body is read only up to
    MAX_BODY_BYTES, from Content-Length, so a huge upload is refused unread."""

    def hook_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _wsgi_answer(start_response, 405, {"ok": False, "error": "POST a signed JSON body"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _wsgi_answer(start_response, 400, {"ok": False, "error": "bad Content-Length"})
        if length > MAX_BODY_BYTES:
            return _wsgi_answer(start_response, 413, {"ok": False, "error": f"body over {MAX_BODY_BYTES} bytes"})
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
        status, payload = checkpoint_hook(body, headers, settings, announcer)
        return _wsgi_answer(start_response, status, payload)

    return hook_app


def _wsgi_answer(start_response: Callable[..., Any], status: int, payload: dict[str, Any]) -> list[bytes]:
    from http import HTTPStatus

    data = json.dumps(payload).encode()
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
