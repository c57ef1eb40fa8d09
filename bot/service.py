"""The single entry point every surface calls: inspect, diff, check.

reference → sources.resolve (roots, SSRF guard) → identity → cache (single flight) →
isolated analysis (child process with limits) → Report.  Errors of any stage become
`Report.error`; nothing a user types or uploads raises out of here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from bot.errors import CkptbotError, ErrorCode
from bot.report import Report

if TYPE_CHECKING:
    from bot.cache import Cache
    from bot.compare.results import CheckReport, DiffReport
    from bot.config import Settings
    from bot.isolation import ParserPool
    from bot.sources.base import Source

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def inspect(reference: str, settings: "Settings | None" = None, *, cache: "Cache | None" = None,
            pool: "ParserPool | None" = None, allow_any_local: bool = False, isolate: bool = True,
            progress: Progress | None = None) -> Report:
    """What is in the artifact at `reference`, from cache when its identity is unchanged."""
    settings = settings or _settings()
    try:
        source = _resolve(reference, settings, allow_any_local)
        identity = source.identity()
    except CkptbotError as exc:
        return error_report(reference, exc.code, exc.message)
    except Exception:  # noqa: BLE001 - a bug must not take the bot down; the log keeps the traceback
        log.exception("resolving %r failed", reference)
        return error_report(reference, ErrorCode.INTERNAL)
    if progress:
        progress(f"Reading {source.display_name}…")

    def compute() -> Report:
        return _analyze(source, reference, settings, allow_any_local, isolate, pool)

    if cache is None:
        return compute()
    return cache.get_or_compute(identity, compute)


def inspect_source(source: "Source", settings: "Settings", *, cache: "Cache | None" = None,
                   pool: "ParserPool | None" = None, isolate: bool = True) -> Report:
    """For sources that are not typed references (Slack uploads): same path from the identity on."""
    try:
        identity = source.identity()
    except CkptbotError as exc:
        return error_report(source.reference, exc.code, exc.message)

    def compute() -> Report:
        return _analyze(source, source.reference, settings, False, isolate, pool)

    return compute() if cache is None else cache.get_or_compute(identity, compute)


def inspect_slack_file(file_info: dict, settings: "Settings", *, cache: "Cache | None" = None,
                       pool: "ParserPool | None" = None, progress: Progress | None = None) -> Report:
    """A Slack upload (from a signed event): downloaded with the bot token, only from SLACK_FILE_HOSTS."""
    from bot import sources

    name = str(file_info.get("name") or file_info.get("title") or "upload")
    url = file_info.get("url_private_download") or file_info.get("url_private") or file_info.get("id")
    if not url:
        return error_report(name, ErrorCode.NOT_FOUND, "Slack gave me no download link for this file; "
                            "re-upload it or paste a link to where it lives.")
    try:
        source = sources.slack_file_source(str(url), settings)
    except CkptbotError as exc:
        return error_report(name, exc.code, exc.message)
    if progress:
        progress(f"Reading {name}…")
    report = inspect_source(source, settings, cache=cache, pool=pool)
    report.source.name = name  # people know the upload by its name, not by its url_private
    return report


def _resolve(reference: str, settings: "Settings", allow_any_local: bool) -> "Source":
    from bot import sources

    return sources.resolve(reference, settings, allow_any_local=allow_any_local)


def _analyze(source: "Source", reference: str, settings: "Settings", allow_any_local: bool,
             isolate: bool, pool: "ParserPool | None") -> Report:
    """The bytes → Report step: in the bot's worker pool, a forked child (CLI), or in-process (tests)."""
    slack_file = getattr(source, "kind", "") == "slack"
    try:
        if pool is not None:
            return pool.submit(reference, allow_any_local=allow_any_local, slack_file=slack_file)
        if isolate:
            from bot import isolation

            return isolation.analyze_isolated(reference, settings, allow_any_local=allow_any_local,
                                              slack_file=slack_file)
        from bot.analysis import read_report

        return read_report(source.artifact())
    except CkptbotError as exc:
        return error_report(reference, exc.code, exc.message)
    except Exception:  # noqa: BLE001 - see inspect()
        log.exception("analysing %r failed", reference)
        return error_report(reference, ErrorCode.INTERNAL)


error_report = Report.for_error  # the name every surface has used


def _settings() -> "Settings":
    from bot.config import load_settings

    return load_settings()


def diff(a: str, b: str, settings: "Settings | None" = None, *, cache: "Cache | None" = None,
         pool: "ParserPool | None" = None, allow_any_local: bool = False, isolate: bool = True,
         values: bool = False) -> "DiffReport":
    """What changed from A to B: layers, weights, parameters, steps; with `values`, how far each weight moved."""
    from bot.compare.diff import diff_reports
    from bot.compare.results import DiffReport

    settings = settings or _settings()
    rep_a = inspect(a, settings, cache=cache, pool=pool, allow_any_local=allow_any_local, isolate=isolate)
    rep_b = inspect(b, settings, cache=cache, pool=pool, allow_any_local=allow_any_local, isolate=isolate)
    try:
        result = diff_reports(rep_a, rep_b)
        if values and result.error is None:
            result.values, result.values_note = _compare_values(a, b, rep_a, rep_b, settings, allow_any_local)
        return result
    except Exception:  # noqa: BLE001 - see inspect()
        log.exception("diff %r %r failed", a, b)
        return DiffReport(error=error_report(a, ErrorCode.INTERNAL).error)


def _compare_values(a: str, b: str, rep_a: Report, rep_b: Report, settings: "Settings",
                    allow_any_local: bool) -> tuple[list, str | None]:
    """Streams both files' weight values through bot.compare.values; failures become a note."""
    from bot.compare.values import compare_values

    try:
        art_a = _resolve(a, settings, allow_any_local).artifact()
        art_b = _resolve(b, settings, allow_any_local).artifact()
        return compare_values(art_a, rep_a, art_b, rep_b)
    except CkptbotError as exc:
        return [], f"Values not compared: {exc.message}"


def check(weights: str, against: str, settings: "Settings | None" = None, *, cache: "Cache | None" = None,
          pool: "ParserPool | None" = None, allow_any_local: bool = False, isolate: bool = True) -> "CheckReport":
    """Will the weights at `weights` load into the architecture at `against`? Keras' rules, no TensorFlow."""
    from bot.compare.compat import check_reports
    from bot.compare.results import CheckReport

    settings = settings or _settings()
    rep_w = inspect(weights, settings, cache=cache, pool=pool, allow_any_local=allow_any_local, isolate=isolate)
    rep_m = inspect(against, settings, cache=cache, pool=pool, allow_any_local=allow_any_local, isolate=isolate)
    try:
        return check_reports(rep_w, rep_m)
    except Exception:  # noqa: BLE001 - see inspect()
        log.exception("check %r against %r failed", weights, against)
        return CheckReport(error=error_report(weights, ErrorCode.INTERNAL).error)
