"""`/ckpt …`: acknowledged at once, answered in the channel through the command's response_url.

response_url works in channels the bot has not joined (slack-bolt.md §1.4), so /ckpt answers
anywhere it is typed.  A report is posted `in_channel`; a question that could not be answered
(refused link, not a model) goes only to the person who asked, who is the one to fix it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.render import blocks as render
from bot.slack_text import HELP, parse_command
from handlers.answers import busy_text, failure_text
from handlers.backend import SlackBackend
from handlers.questions import (
    SUBCOMMAND_WORDS,
    Question,
    answer_question,
    help_message,
    label_of,
    usage_problem,
)

log = logging.getLogger(__name__)

COMMAND = "/ckpt"


def _send(respond: Respond, text: str, blocks: list[dict[str, Any]], response_type: str) -> None:
    resp = respond(text=text, blocks=blocks, response_type=response_type, replace_original=False)
    if resp.status_code != 200:
        log.warning("response_url answered %s: %s", resp.status_code, resp.body[:200])


def register(app: App, backend: SlackBackend) -> None:
    @app.command(COMMAND)
    def ckpt_command_acked_within_3s(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        request = parse_command(command.get("text", ""), SUBCOMMAND_WORDS)
        if request.name == HELP:
            text, blocks = help_message()
            ack(response_type="ephemeral", text=text, blocks=blocks)
            return
        problem = usage_problem(request)
        if problem:
            ack(response_type="ephemeral", text=problem)
            return
        label = label_of(request)
        asker = command.get("user_id")

        def answer_through_response_url() -> None:
            answer = answer_question(backend, Question(request, asker, command.get("channel_id")))
            _send(respond, answer.text, answer.blocks, "in_channel" if answer.ok else "ephemeral")

        def tell_about_failure() -> None:
            _send(respond, *failure_text(label), "ephemeral")

        if not backend.submit(answer_through_response_url, tell_about_failure):
            text, _ = busy_text()
            ack(response_type="ephemeral", text=text)
            return
        ack(response_type="ephemeral", text=render.progress_text(f"`{render.escape(label)}`", "looking…"))
