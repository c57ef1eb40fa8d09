"""The `ckptbot` command.

Only argparse and the standard library load at start-up; each command imports what it
needs, so `ckptbot inspect` never pays for Slack, Redis or rich when it does not use them
(tests/test_cli_imports.py holds this).

Exit codes (bot/exit_codes.py; every code is asserted by a CLI test):
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn, Sequence

from bot.exit_codes import (
    EXIT_CHECK_FAILS,
    EXIT_CONFIG,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOT_A_MODEL,
    EXIT_OK,
    EXIT_USAGE,
    TABLE,
)

__doc__ = (__doc__ or "") + TABLE


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's default exit code 2 would read as "not a model"
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ckptbot", description="What is in this checkpoint, and how do I load it?")
    p.add_argument("--version", action="version", version=f"ckptbot {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    i = sub.add_parser("inspect", help="describe a model file (path, URL, s3://…)")
    i.add_argument("source")
    i.add_argument("--json", action="store_true", help="print the JSON report only")
    i.add_argument("--all-layers", action="store_true", help="show every layer in the table")
    i.add_argument("--no-cache", action="store_true", help="do not use REDIS_URL's cache (remote files)")
    i.add_argument("--html", metavar="OUT.html", help="also write the full report as one self-contained HTML page")
    i.add_argument("--graph", action="store_true", help="print the architecture graph as a tree")

    d = sub.add_parser("diff", help="what changed between two checkpoints")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--json", action="store_true")
    d.add_argument("--values", action="store_true", help="also compare weight values (streamed)")
    d.add_argument("--html", metavar="OUT.html", help="also write both reports side by side as an HTML page")

    c = sub.add_parser("check", help="will these weights load into this architecture?")
    c.add_argument("weights")
    c.add_argument("--against", required=True, metavar="MODEL")
    c.add_argument("--json", action="store_true")

    s = sub.add_parser("serve", help="run the Slack bot")
    s.add_argument("--port", type=int)
    s.add_argument("--socket", action="store_true", help="Socket Mode (no public URL needed)")
    s.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")

    w = sub.add_parser("watch", help="announce new checkpoints in a Slack channel")
    w.add_argument("target", help="a directory or s3://bucket/prefix")
    w.add_argument("--channel", required=True)
    w.add_argument("--pattern", default=None, help="glob of file names to watch (default: model files)")
    w.add_argument("--interval", type=float, default=None, help="seconds between polls")
    w.add_argument("--once", action="store_true", help="scan once and exit")

    cache = sub.add_parser("cache", help="operate the Redis cache")
    cache.add_argument("action", choices=["stats", "clear"])

    # bot.queue.connection is constants only: the worker's own imports (rq, socket, uuid) stay off
    # every other command's start-up path (tests/test_cli_imports.py).
    from bot.queue.connection import QUEUES

    wk = sub.add_parser("worker", help="answer queued Slack questions (CKPTBOT_QUEUE=rq)")
    wk.add_argument("--queues", default=",".join(QUEUES), help="comma-separated, in priority order")
    wk.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    wk.add_argument("--max-jobs", type=int, help="exit after this many jobs")
    queue = sub.add_parser("queue", help="operate the work queue (CKPTBOT_QUEUE=rq)")
    queue.add_argument("action", choices=["stats"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except _ConfigError as exc:
        print(f"ckptbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


class _ConfigError(Exception):
    pass


def _settings(*, local_only: bool = False, **overrides):
    from bot.config import cli_settings

    try:
        return cli_settings(local_only=local_only, **overrides)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors: list[Any] = getattr(exc, "errors", lambda: [{}])()
        name = (errors[0].get("loc") or ["?"])[0] if errors else "?"
        raise _ConfigError(f"{name}: {errors[0].get('msg') if errors else exc}") from None


def _inspect(args: argparse.Namespace) -> int:
    from bot import service
    from bot.sources import is_local

    # A local file is read faster than Redis is imported and asked: the cache is for remote files.
    local = is_local(args.source)
    settings = _settings(local_only=local)
    cache = None
    if settings.redis_url and not args.no_cache and not local:
        from bot.cache import make_cache

        cache = make_cache(settings)
    report = service.inspect(args.source, settings, cache=cache, allow_any_local=True)
    if args.html:
        from bot.render.html import report_page

        _write(args.html, report_page(report))
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    elif args.graph:
        from bot.render.graph_tree import print_graph

        print_graph(report)
    else:
        from bot.render.terminal import print_report

        print_report(report, all_layers=args.all_layers)
    if report.error is None:
        return EXIT_OK
    return EXIT_INTERNAL if report.error.code == "internal" else EXIT_NOT_A_MODEL


def _diff(args: argparse.Namespace) -> int:
    from bot import service
    from bot.sources import is_local

    settings = _settings(local_only=is_local(args.a) and is_local(args.b))
    result = service.diff(args.a, args.b, settings, allow_any_local=True, values=args.values)
    if args.html:
        from bot.render.html import diff_page

        # Already inspected once by diff: with a cache these are hits; without, a second cheap read.
        rep_a, rep_b = (service.inspect(x, settings, allow_any_local=True) for x in (args.a, args.b))
        _write(args.html, diff_page(rep_a, rep_b, result))
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        from bot.render.terminal import print_diff

        print_diff(result)
    return EXIT_NOT_A_MODEL if result.error else EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from bot import service
    from bot.sources import is_local

    settings = _settings(local_only=is_local(args.weights) and is_local(args.against))
    result = service.check(args.weights, args.against, settings, allow_any_local=True)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        from bot.render.terminal import print_check

        print_check(result)
    if result.error:
        return EXIT_NOT_A_MODEL
    return EXIT_CHECK_FAILS if result.verdict == "fails" else EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from bot.app import serve

    settings = _settings(port=args.port)
    return serve(settings, port=args.port or settings.port, socket_mode=args.socket or bool(settings.slack_app_token),
                 host=args.host)


def _watch(args: argparse.Namespace) -> int:
    """Announce a folder's or an S3 prefix's new checkpoints in one channel (bot/watch)."""
    import os

    from bot import watch
    from bot.watch.poster import PostFailed

    settings = _settings()
    target: str = args.target
    s3 = watch.is_s3_target(target)
    if not s3:
        target = os.path.realpath(os.path.expanduser(target))
        if not os.path.isdir(target):
            print(f"ckptbot watch: {args.target} is not a folder (give the folder checkpoints are "
                  f"written to, or s3://bucket/prefix).", file=sys.stderr)
            return EXIT_USAGE
    try:
        announcer = watch.make_announcer(settings, allow_any_local=True)
    except PostFailed as exc:
        print(f"ckptbot watch: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not settings.redis_url:
        print("ckptbot watch: REDIS_URL is not set: announcements are remembered by this process "
              "only, so a restart announces the folder's checkpoints again.", file=sys.stderr)
    interval = args.interval or (watch.DEFAULT_S3_INTERVAL_S if s3 else watch.DEFAULT_LOCAL_INTERVAL_S)
    settle = max(interval, watch.MIN_SETTLE_S)
    watcher = watch.TargetWatcher(target, announcer, pattern=args.pattern, settle_s=settle)
    if args.once:
        watch.scan_once(watcher, [args.channel], settle)
    else:
        watch.watch_forever(watcher, [args.channel], interval, target if not s3 else None)
    return EXIT_OK


def _cache(args: argparse.Namespace) -> int:
    from bot.cache import RedisUnavailable, cache_clear, cache_stats, render_stats

    settings = _settings()
    if not settings.redis_url:
        print("ckptbot: REDIS_URL is not set, so there is no shared cache (each process keeps its own "
              "in-memory cache); nothing to show or clear.", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.action == "stats":
            print(render_stats(cache_stats(settings)))
        else:
            print(f"removed {cache_clear(settings)} cached reports")
    except RedisUnavailable as exc:
        print(f"ckptbot: Redis at REDIS_URL does not answer ({exc}); nothing was changed.", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from bot.queue.worker import worker_main

    return worker_main(args, _settings())


def _queue(args: argparse.Namespace) -> int:
    from redis import RedisError

    from bot.queue.connection import ack_redis
    from bot.queue.stats import queue_stats, render_queue_stats

    settings = _settings()
    if not settings.redis_url:
        print("ckptbot: REDIS_URL is not set, so there is no work queue.", file=sys.stderr)
        return EXIT_CONFIG
    try:
        print(render_queue_stats(queue_stats(ack_redis(settings.redis_url))))
    except (RedisError, OSError) as exc:
        print(f"ckptbot: Redis at REDIS_URL does not answer ({exc}).", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {path}", file=sys.stderr)


def _version() -> str:
    from bot import __version__

    return __version__


_COMMANDS = {"inspect": _inspect, "diff": _diff, "check": _check, "serve": _serve, "watch": _watch,
             "cache": _cache, "worker": _worker, "queue": _queue}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
