"""manifest.yml creates the app the code expects, in one step (slack-bolt.md §6.2 rules)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.app import EVENTS_PATH
from handlers.commands import COMMAND

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
# The manifest schema's pattern for unfurl domains: bare hosts, no scheme, no path.
UNFURL_DOMAIN = re.compile(r"^(?![\.\-])([-a-z0-9\.])+([a-z0-9])$")


def test_scopes_are_exactly_what_the_bot_uses():
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(
        ["commands", "chat:write", "app_mentions:read", "links:read", "links:write", "files:read",
         "files:write"])  # files:write: the "Show graph" PNG upload


def test_every_event_the_bot_listens_for_is_subscribed():
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "link_shared",
                                                                               "file_shared"}


def test_the_command_and_all_urls_point_at_bolts_one_endpoint():
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == COMMAND and command["should_escape"] is False
    urls = [command["url"], MANIFEST["settings"]["event_subscriptions"]["request_url"],
            MANIFEST["settings"]["interactivity"]["request_url"]]
    assert all(u.startswith("https://") and u.endswith(EVENTS_PATH) for u in urls)
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True  # the "Show all layers" button


def test_unfurl_domains_are_bare_hosts_and_at_most_five():
    domains = MANIFEST["features"]["unfurl_domains"]
    assert 1 <= len(domains) <= 5 and all(UNFURL_DOMAIN.match(d) for d in domains)


def test_display_texts_fit_slacks_lengths():
    info = MANIFEST["display_information"]
    assert len(info["name"]) <= 35 and 1 <= len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert len(MANIFEST["features"]["slash_commands"][0]["command"]) <= 32
