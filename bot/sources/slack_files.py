"""Slack uploads: `url_private` links and file ids, read with the bot token (security.md §5.3).

The token goes only to hosts in `SLACK_FILE_HOSTS` (default files.slack.com), only as
`Authorization`, only over https (or to a host an operator opted in with
`CKPTBOT_ALLOWED_HOSTS`, as the tests' loopback stand-in is), and never across a redirect.
Without the `files:read` scope Slack answers with an HTML login page instead of the file:
that becomes `Forbidden` with a message saying which scope is missing.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from bot.sources.base import Forbidden, NotFound, Unreachable
from bot.sources.http import HttpSource
from bot.sources.limits import ReadBudget
from bot.sources.ssrf import HostPolicy, VettedURL, vet_url
from bot.sources.transport import PinnedClient, Response, raise_for_status

if TYPE_CHECKING:
    from bot.config import Settings

FILE_ID = re.compile(r"^F[A-Z0-9]{6,20}$")
FILES_INFO_MAX_BYTES = 1024 * 1024  # a files.info answer is a few KB; more is not Slack
MISSING_SCOPE = ("Slack sent a login page instead of the file: the app lacks the files:read scope. "
                 "Ask a workspace admin to add files:read to the app and reinstall it.")


def _token_may_go_to(url: VettedURL, settings: "Settings") -> bool:
    if url.host not in {h.lower().rstrip(".") for h in settings.slack_file_hosts}:
        return False
    if url.scheme == "https":
        return True
    policy = HostPolicy(settings.allowed_hosts)  # plain http only to an opted-in internal host
    return policy.host_allowed(url.host) or policy.address_allowed(url.ip)


def _refuse_html(resp: Response) -> None:
    content_type = (resp.header("content-type") or "").lower()
    if resp.status < 300 and content_type.startswith("text/html"):
        resp.raw.close()
        raise Forbidden(MISSING_SCOPE)


def url_private_for(file_id: str, settings: "Settings") -> str:
    """files.info → the file's url_private_download (or url_private)."""
    if not settings.slack_bot_token:
        raise Forbidden("The bot has no Slack token (SLACK_BOT_TOKEN), so it cannot read uploads.")
    api = settings.slack_api_url
    api_host = vet_url(api, list(settings.allowed_hosts) + [_host_of(api)]).host
    client = PinnedClient(ReadBudget.from_settings(settings), list(settings.allowed_hosts) + [api_host])
    try:
        resp = client.request(api + "files.info?" + urlencode({"file": file_id}),
                              credentials={"Authorization": f"Bearer {settings.slack_bot_token}"})
        raise_for_status(resp, "files.info")
        body = json.loads(resp.read_all(client.budget, limit=FILES_INFO_MAX_BYTES))
    except json.JSONDecodeError as exc:
        raise Unreachable("Slack's files.info answer was not JSON.") from exc
    finally:
        client.close()
    if not body.get("ok"):
        error = body.get("error", "unknown_error")
        if error in ("file_not_found", "file_deleted"):
            raise NotFound(f"Slack says the file {file_id} does not exist (or was deleted).")
        if error in ("missing_scope", "not_allowed_token_type", "no_permission"):
            raise Forbidden(MISSING_SCOPE if error == "missing_scope" else
                            f"Slack refused files.info for {file_id}: {error}.")
        raise Unreachable(f"Slack's files.info failed: {error}.")
    info = body.get("file") or {}
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise NotFound(f"Slack's files.info gave no download link for {file_id}.")
    return str(url)


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower()


def slack_file_source(reference: str, settings: "Settings") -> HttpSource:
    """A Slack upload by `url_private` link or by file id (from a signed event)."""
    url = url_private_for(reference, settings) if FILE_ID.match(reference.strip()) else reference
    vetted = vet_url(url, settings.allowed_hosts)
    credentials = None
    if settings.slack_bot_token and _token_may_go_to(vetted, settings):
        credentials = {"Authorization": f"Bearer {settings.slack_bot_token}"}

    def client_factory() -> PinnedClient:
        return PinnedClient(ReadBudget.from_settings(settings), settings.allowed_hosts)

    return HttpSource(reference, vetted, client_factory, credentials=credentials,
                      check_first=_refuse_html, kind="slack")
