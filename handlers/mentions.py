""""@ckptbot what's in <link>?" and "@ckptbot diff <a> <b>": answered in the message's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack_text import HELP, parse_mention
from handlers.answers import ThreadAnswer, busy_text, failure_text
from handlers.backend import SlackBackend
from handlers.questions import (
    SUBCOMMAND_WORDS,
    Question,
    answer_question,
    help_message,
    label_of,
    usage_problem,
)


def register(app: App, backend: SlackBackend) -> None:
    @app.event("app_mention")
    def mention_answered_in_thread(event: dict[str, Any], client: WebClient) -> None:
        if event.get("bot_id"):  # never answer a bot, ourselves included
            return
        channel, thread_ts = event["channel"], event.get("thread_ts") or event["ts"]
        request = parse_mention(event.get("text", ""), SUBCOMMAND_WORDS)
        if request.name == HELP:
            text, blocks = help_message()
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
            return
        problem = usage_problem(request)
        if problem:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=problem)
            return
        answer = ThreadAnswer(client, channel, thread_ts, label_of(request))

        def answer_in_thread() -> None:
            result = answer_question(backend, Question(request, event.get("user"), channel, answer.progress))
            answer.finish(result.text, result.blocks)

        answer.start()  # before the job is queued, so the job always finds the placeholder
        if not backend.submit(answer_in_thread, lambda: answer.finish(*failure_text(answer.name))):
            answer.finish(*busy_text())
