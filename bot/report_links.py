"""Unguessable links to a full report page: `<CKPTBOT_PUBLIC_URL>/r/<token>`.

A token is 192 random bits (`secrets.token_urlsafe(24)`).  It maps to the reference the card
answered (a path or URL), stored in Redis when REDIS_URL is set, so every replica can serve
it, and in this process otherwise.  It lives as long as a cached report does
(bot/cache/policy.py REPORT_TTL_SECONDS): opening it is a cache hit, and once the report
would be gone the link is too.  Anything else — no token, a wrong or expired one — is a 404
that says nothing more.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

from bot.cache.policy import REPORT_TTL_SECONDS

if TYPE_CHECKING:
    from bot.config import Settings

LINK_PATH = "/r/"
KEY_PREFIX = "ckptbot:link:"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_local: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def _redis(settings: "Settings") -> Any:
    import redis

    assert settings.redis_url, "report links need REDIS_URL"  # callers check
    return redis.Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)


def issue(settings: "Settings", reference: str, ttl_s: int = REPORT_TTL_SECONDS) -> str | None:
    """The full-report URL for `reference`, or None without CKPTBOT_PUBLIC_URL (or when Redis is down)."""
    if not settings.public_url:
        return None
    token = secrets.token_urlsafe(24)
    if settings.redis_url:
        import redis

        try:
            _redis(settings).set(KEY_PREFIX + token, reference.encode(), ex=ttl_s)
        except redis.RedisError:
            return None  # a link no replica could open is worse than no button
    else:
        with _lock:
            _local[token] = (reference, time.monotonic() + ttl_s)
    return settings.public_url.rstrip("/") + LINK_PATH + token


def resolve(settings: "Settings", token: str) -> str | None:
    if not _TOKEN.match(token):
        return None
    if settings.redis_url:
        import redis

        try:
            value = _redis(settings).get(KEY_PREFIX + token)
        except redis.RedisError:
            return None
        return value.decode() if value is not None else None
    with _lock:
        entry = _local.get(token)
        if entry is None or entry[1] < time.monotonic():
            _local.pop(token, None)
            return None
        return entry[0]


def make_link_wsgi_app(settings: "Settings", render: Callable[[str], str]) -> Callable[..., Iterable[bytes]]:
    """GET /r/<token> → the report page of the linked reference; `render(reference)` → HTML."""

    def link_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        token = environ.get("PATH_INFO", "")[len(LINK_PATH):]
        reference = resolve(settings, token) if environ.get("REQUEST_METHOD") in ("GET", "HEAD") else None
        if reference is None:
            body = b"not found"
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        body = render(reference).encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "private, no-store"), ("Referrer-Policy", "no-referrer"),
                                  ("X-Content-Type-Options", "nosniff")])
        return [body]

    return link_app
