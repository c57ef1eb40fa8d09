"""The Slack app: Bolt wired to ckptbot's service, served over HTTP (gunicorn) or Socket Mode.

    build_app(settings) -> slack_bolt.App       listeners from handlers/, retries, dedupe
    create_wsgi()                               gunicorn 'bot.app:create_wsgi()' (POST /slack/events, GET /healthz)
    serve(settings, port, socket_mode) -> int   what `ckptbot serve [--port N] [--socket]` runs

Acknowledgements never wait for work: Bolt's listener executor (LISTENER_THREADS) only
parses and queues; inspections run on the backend's bounded pool (handlers/backend.py).
Events are deduplicated by `event_id` before dispatch (security.md §5.5), so a retried
delivery is answered once; Web API calls retry 429s after Retry-After (slack-bolt.md §4.4).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from bot.exit_codes import EXIT_CONFIG
from bot.report_links import LINK_PATH  # GET /r/<token>: the full report page
from bot.slack_client import slack_client

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.config import Settings
    from handlers.backend import SlackBackend

log = logging.getLogger(__name__)

# Threads acknowledging and routing requests.  Each listener only parses, posts one placeholder
# and queues; 32 keeps 50 simultaneous /ckpt acked well inside 3 s even while a few threads sit
# in a 429 Retry-After sleep (measured: benchmarks/bench_slack_acks.py).  Bolt's default of 5
# starves acks as soon as 5 listeners are slow (slack-bolt.md §1.2).
LISTENER_THREADS = 32
# gunicorn request threads (gthread): a request thread is held only until its ack.
HTTP_THREADS = 32
# Socket Mode envelopes handled at once (SocketModeClient's own pool).
SOCKET_MODE_CONCURRENCY = 16
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HOOK_PATH = "/hooks/checkpoint"
# Pre-started parser children of the bot: as many as inspections run at once (handlers/backend.py).
PARSER_WORKERS = 4


class ConfigError(ValueError):
    """Startup configuration is missing or wrong; the message names the variable."""


# --- configuration --------------------------------------------------------------------------

def check_settings(settings: "Settings", socket_mode: bool) -> None:
    """One clear error naming the variable, before anything connects to Slack."""
    token = settings.slack_bot_token or ""
    if not token:
        raise ConfigError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from the "
                          "app's OAuth & Permissions page.")
    if not token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-.")
    if socket_mode:
        app_token = settings.slack_app_token or ""
        if not app_token:
            raise ConfigError("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…) "
                              "with connections:write (Basic Information → App-Level Tokens).")
        if not app_token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-.")
    elif not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it "
                          "(Basic Information → Signing Secret), or use Socket Mode (SLACK_APP_TOKEN).")


def check_queue_settings(settings: "Settings") -> None:
    if settings.queue not in (None, "", "rq"):
        raise ConfigError("CKPTBOT_QUEUE must be 'rq' (workers answer, replicas enqueue) or unset (in-process).")
    if settings.queue == "rq" and not settings.redis_url:
        raise ConfigError("CKPTBOT_QUEUE=rq needs REDIS_URL: the queue lives in Redis.")


class RedactTokens(logging.Filter):
    """Slack tokens never reach the logs (security.md §5.2)."""

    TOKEN = re.compile(r"\b(xox[abposr]|xapp|xoxe(?:\.xox[bp])?)-[A-Za-z0-9-]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.TOKEN.sub(r"\1-…", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactTokens())
    # Bolt logs a failed request's body at INFO; keep request bodies out of the logs.
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)


# --- the app --------------------------------------------------------------------------------

def build_backend(settings: "Settings", service: ModuleType | Any = None) -> "SlackBackend":
    from bot.cache import make_cache
    from handlers.backend import SlackBackend

    if service is None:
        from bot import service
    return SlackBackend(settings, service, make_cache(settings), parser_workers=PARSER_WORKERS)


def build_app(settings: "Settings", service: ModuleType | Any = None, *,
              backend: "SlackBackend | None" = None) -> "App":
    """The Bolt app with every ckptbot listener; calls auth.test once (a bad token fails here)."""
    from slack_bolt import App

    import handlers

    backend = backend or build_backend(settings, service)
    app = App(client=slack_client(settings), signing_secret=settings.slack_signing_secret or "",
              listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS,
                                                   thread_name_prefix="bolt-listener"),
              process_before_response=False, logger=logging.getLogger("slack_bolt.App"))
    if settings.queue == "rq":  # replicas only acknowledge and enqueue; workers answer (bot/queue/)
        from bot.queue.middleware import install

        app.ckptbot_health = install(app, settings)  # type: ignore[attr-defined]
    app.use(_events_once(backend))
    handlers.register_all(app, backend)
    return app


def _events_once(backend: "SlackBackend") -> Callable[..., Any]:
    """Global middleware: an event_id already seen is acknowledged and dropped.

    Recorded on receipt, before dispatch (security.md §5.5), so a retry that arrives while the
    first delivery is still being answered is not answered again, and a retry whose first
    delivery never arrived is answered normally.
    """
    from slack_bolt import BoltResponse

    def event_seen_once(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id and not backend.first_delivery(f"slack-event:{event_id}"):
            log.info("event %s already answered; this delivery is a retry", event_id)
            return BoltResponse(status=200, body="")
        return next()

    return event_seen_once


# --- HTTP -----------------------------------------------------------------------------------

Wsgi = Callable[..., Iterable[bytes]]


def wsgi_for(app: "App", routes: dict[str, Wsgi] | None = None) -> Wsgi:
    """Bolt's WSGI handler for /slack/events, GET /healthz, and `routes` (path → WSGI app; the
    checkpoint webhook mounts here)."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    bolt = SlackRequestHandler(app, path=EVENTS_PATH)

    def ckptbot_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            probe = getattr(app, "ckptbot_health", None)  # queue mode: is Redis (the queue) reachable?
            up = probe is None or probe()
            body = b"ok" if up else b"queue unreachable"
            start_response("200 OK" if up else "503 Service Unavailable",
                           [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        path = environ.get("PATH_INFO", "")
        extra = (routes or {}).get(path)
        if extra is None and path.startswith(LINK_PATH):  # /r/<token>: one route for every token
            extra = (routes or {}).get(LINK_PATH)
        if extra is not None:
            return extra(environ, start_response)
        stamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        if stamp is not None and not stamp.strip().isdigit():
            # slack_sdk's verifier calls int() on it unguarded: refuse like any bad signature.
            body = b'{"error": "invalid request"}'
            start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                                ("Content-Length", str(len(body)))])
            return [body]
        return bolt(environ, start_response)

    return ckptbot_wsgi


def extra_routes(settings: "Settings") -> dict[str, Wsgi]:
    """`POST /hooks/checkpoint`: training jobs and CI announce a checkpoint (HMAC-signed)."""
    from bot.report_links import make_link_wsgi_app
    from bot.watch import make_announcer
    from handlers.hooks import make_hook_wsgi_app

    def page_of(reference: str) -> str:
        from bot import service
        from bot.cache import make_cache
        from bot.render.html import report_page

        return report_page(service.inspect(reference, settings, cache=make_cache(settings)))

    return {HOOK_PATH: make_hook_wsgi_app(settings, _queued_announcer(settings) or make_announcer(settings)),
            LINK_PATH: make_link_wsgi_app(settings, page_of)}


def _queued_announcer(settings: "Settings") -> Any:
    """Queue mode: announcements are inspected and posted by workers (bot/queue/announce.py)."""
    if settings.queue != "rq":
        return None
    from bot.queue.announce import QueuedAnnouncer

    return QueuedAnnouncer(settings)


def start_background(settings: "Settings") -> None:
    """The `/ckpt watch` subscriptions: scanned on a daemon thread with its own parser pool."""
    from bot.isolation import ParserPool
    from bot.watch import make_announcer, start_subscription_watcher

    announcer = _queued_announcer(settings) or make_announcer(settings, pool=ParserPool(1, settings))
    start_subscription_watcher(settings, announcer=announcer)


def create_wsgi() -> Callable[..., Iterable[bytes]]:
    """gunicorn factory: `gunicorn -k gthread --threads 32 'bot.app:create_wsgi()'`."""
    from bot.config import load_settings

    settings = load_settings()
    check_settings(settings, socket_mode=False)
    check_queue_settings(settings)
    configure_logging()
    start_background(settings)
    return wsgi_for(build_app(settings), extra_routes(settings))


def _serve_http(wsgi: Callable[..., Any], host: str, port: int) -> int:
    from gunicorn.app.base import BaseApplication

    class CkptbotServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # One worker: the inspection pool and queue live in it; Redis shares dedupe and cache
            # if several containers run.  The app was built (auth.test passed) before the fork.
            for key, value in {"bind": f"{host}:{port}", "workers": 1, "worker_class": "gthread",
                               "threads": HTTP_THREADS, "timeout": 60, "graceful_timeout": 10,
                               "keepalive": 5, "accesslog": None,
                               # no admin socket under $HOME: the container's user has no home to write
                               "control_socket_disable": True}.items():
                self.cfg.set(key, value)

        def load(self) -> Callable[..., Any]:
            return wsgi

    CkptbotServer().run()
    return 0


# --- Socket Mode ----------------------------------------------------------------------------

def _serve_socket_mode(app: "App", settings: "Settings", host: str, port: int,
                       routes: dict[str, Wsgi]) -> int:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer, make_server

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, settings.slack_app_token, concurrency=SOCKET_MODE_CONCURRENCY)

    def health(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        extra = routes.get(LINK_PATH if path.startswith(LINK_PATH) else path)
        if extra is not None:  # the checkpoint webhook and report links work without a Slack endpoint too
            return extra(environ, start_response)
        if environ.get("PATH_INFO") != HEALTH_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        up = handler.client.is_connected()
        start_response("200 OK" if up else "503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"ok" if up else b"socket mode disconnected"]

    # Threaded: a webhook's inspection must not hold up health checks.
    server_class = type("ThreadingWSGIServer", (ThreadingMixIn, WSGIServer), {"daemon_threads": True})
    httpd: WSGIServer = make_server(host, port, health, server_class=server_class)
    threading.Thread(target=httpd.serve_forever, name="healthz", daemon=True).start()
    log.info("Socket Mode: connecting to Slack; health on http://%s:%s%s", host, port, HEALTH_PATH)
    handler.start()  # blocks
    return 0


# --- entry points ---------------------------------------------------------------------------

def serve(settings: "Settings", port: int | None = None, socket_mode: bool = False, host: str = "0.0.0.0") -> int:
    """`ckptbot serve`: HTTP (gunicorn) by default, Socket Mode when asked or SLACK_APP_TOKEN is set.

    Returns an exit code; configuration problems print one line naming the variable.
    """
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackClientError

    port = port or settings.port
    try:
        check_settings(settings, socket_mode)
        check_queue_settings(settings)
        configure_logging()
        app = build_app(settings)
    except ConfigError as exc:
        print(f"ckptbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (BoltError, SlackClientError, OSError) as exc:  # auth.test at build: refused token, no Slack
        print(f"ckptbot: cannot start: Slack refused SLACK_BOT_TOKEN or could not be reached at "
              f"SLACK_API_URL ({settings.slack_api_url}): {exc}", file=sys.stderr)
        return EXIT_CONFIG
    start_background(settings)
    if socket_mode:
        return _serve_socket_mode(app, settings, host, port, extra_routes(settings))
    log.info("HTTP mode: POST %s, POST %s and GET %s on %s:%s", EVENTS_PATH, HOOK_PATH, HEALTH_PATH, host, port)
    return _serve_http(wsgi_for(app, extra_routes(settings)), host, port)


def serve_main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.app [--port N] [--socket] [--host H]` (the same as `ckptbot serve`)."""
    from bot.config import load_settings

    parser = argparse.ArgumentParser(prog="ckptbot serve")
    parser.add_argument("--port", type=int)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--socket", action="store_true")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(port=args.port)
    except ValueError as exc:
        print(f"ckptbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return serve(settings, args.port, args.socket or bool(settings.slack_app_token), host=args.host)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve_main())
