"""The questions ckptbot answers, as one table shared by `/ckpt` and @mentions.

To add a subcommand (`/ckpt watch …` is next), add a `Subcommand` to SUBCOMMANDS: its usage
line shows up in `/ckpt help`, its argument count is checked before anything is queued,
and `answer` runs on the inspection pool and returns the message to post.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from bot.render import blocks as render
from bot.slack_text import HELP, INSPECT, Request
from handlers.backend import Progress, SlackBackend

Message = tuple[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Answer:
    text: str
    blocks: list[dict[str, Any]]
    ok: bool  # False: the question could not be answered (not a model, refused link, …)


@dataclass(frozen=True)
class Question:
    """One question as asked: what, by whom, where, and how to report progress."""

    request: Request
    asker: str | None
    channel: str | None
    progress: Progress | None = None


@dataclass(frozen=True)
class Subcommand:
    usage: str  # "/ckpt diff <a> <b>"
    what: str  # one line for /ckpt help
    nargs: int  # references it needs
    answer: Callable[[SlackBackend, Question], Answer]


def layers_button_value(reference: str | None = None, file_id: str | None = None) -> str:
    """What the "Show all layers" button carries so handlers/actions.py can find the report again."""
    return json.dumps({"f": file_id} if file_id else {"r": reference}, separators=(",", ":"))


def report_answer(report: Any, asker: str | None, button_value: str | None, report_url: str | None = None) -> Answer:
    if report.error is not None:
        text, blocks = render.error_blocks(report)
        return Answer(text, blocks, ok=False)
    text, blocks = render.report_blocks(report, requested_by=asker, layers_button_value=button_value,
                                        report_url=report_url)
    return Answer(text, blocks, ok=True)


def _inspect(backend: SlackBackend, q: Question) -> Answer:
    reference = q.request.args[0]
    report = backend.inspect(reference, progress=q.progress)
    url = backend.report_link(reference) if report.error is None else None
    return report_answer(report, q.asker, layers_button_value(reference=reference), url)


def _result_answer(title: str, result: Any) -> Answer:
    text, blocks = render.result_blocks(title, result)
    return Answer(text, blocks, ok=not getattr(result, "error", None))


def _diff(backend: SlackBackend, q: Question) -> Answer:
    a, b = q.request.args[:2]
    return _result_answer(f"diff {_label(a)} → {_label(b)}", backend.diff(a, b))


def _check(backend: SlackBackend, q: Question) -> Answer:
    weights, model = q.request.args[:2]
    return _result_answer(f"check {_label(weights)} against {_label(model)}", backend.check(weights, model))


def _help(backend: SlackBackend, q: Question) -> Answer:
    text, blocks = help_message()
    return Answer(text, blocks, ok=True)


def payload_answer(payload: dict[str, Any]) -> Answer:
    """A `respond()` payload ({"response_type", "text"[, "blocks"]}) as an Answer."""
    text = payload.get("text", "")
    blocks = payload.get("blocks") or render.notice_blocks(text)[1]
    return Answer(text, blocks, ok=payload.get("response_type") == "in_channel")


def _watch_subcommand(name: str) -> Callable[[SlackBackend, Question], Answer]:
    """`/ckpt watch|unwatch|watches` (handlers/watch_commands.py) run with this channel and text."""

    def answer(backend: SlackBackend, q: Question) -> Answer:
        from handlers.watch_commands import WATCH_SUBCOMMANDS

        return payload_answer(WATCH_SUBCOMMANDS[name](q.channel or "", q.request.text, backend.settings))

    return answer


SUBCOMMANDS: dict[str, Subcommand] = {
    INSPECT: Subcommand("/ckpt <link-or-path>", "what is in a model file, and how to load it", 1, _inspect),
    "diff": Subcommand("/ckpt diff <a> <b>", "what changed between two checkpoints", 2, _diff),
    "check": Subcommand("/ckpt check <weights> <model>", "will these weights load into that model?", 2, _check),
    "watch": Subcommand("/ckpt watch <folder-or-s3-prefix>", "announce new checkpoints there in this channel",
                        1, _watch_subcommand("watch")),
    "unwatch": Subcommand("/ckpt unwatch <folder-or-s3-prefix>", "stop announcing it here", 1,
                          _watch_subcommand("unwatch")),
    "watches": Subcommand("/ckpt watches", "what this channel watches", 0, _watch_subcommand("watches")),
    HELP: Subcommand("/ckpt help", "this message", 0, _help),
}
# Words that pick a subcommand when typed first (`inspect` is the default, never typed).
SUBCOMMAND_WORDS = frozenset(name for name in SUBCOMMANDS if name != INSPECT)


def help_message() -> Message:
    return render.help_blocks([(s.usage, s.what) for s in SUBCOMMANDS.values()])


def usage_problem(request: Request) -> str | None:
    """A one-sentence reason the request cannot run as typed (mrkdwn, escaped), or None."""
    sub = SUBCOMMANDS[request.name]
    if len(request.args) < sub.nargs:
        what = "a link or path" if sub.nargs == 1 else f"{sub.nargs} links or paths"
        return f"`{render.escape(sub.usage)}` needs {what}."
    return None


def answer_question(backend: SlackBackend, question: Question) -> Answer:
    """Runs on the inspection pool: the message that answers the question."""
    return SUBCOMMANDS[question.request.name].answer(backend, question)


def label_of(request: Request) -> str:
    if request.name == INSPECT:
        return _label(request.args[0])
    if not request.args:
        return request.name
    return f"{request.name} " + " ".join(_label(a) for a in request.args[:2])


def _label(reference: str) -> str:
    return reference.rstrip("/").rsplit("/", 1)[-1] or reference
