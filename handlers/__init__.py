"""Slack listeners: thin glue from Slack's events to ckptbot's service (bot/app.py wires them).

Each module has `register(app, backend)`; listeners parse, acknowledge, queue the work on
`backend` and return, so acknowledgements never wait for an inspection.
"""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, files, mentions, unfurls
from handlers.backend import SlackBackend

__all__ = ["register_all", "SlackBackend"]


def register_all(app: App, backend: SlackBackend) -> None:
    for module in (commands, mentions, unfurls, files, actions):
        module.register(app, backend)
