"""Posting to Slack with the bot token: chat.postMessage through slack_sdk's WebClient.

The watcher runs outside any Slack request, so there is no response_url: it posts as the bot
(`chat:write`; the bot must be in the channel, or have `chat:write.public`).  429s are retried
after Retry-After by slack_sdk's RateLimitErrorRetryHandler, which is off by default
(slack-bolt.md, must-know 6).
"""

from __future__ import annotations

from typing import Any

# A watcher posting a backlog can hit chat.postMessage's ~1/s per channel limit; two waits of
# Retry-After are enough to get through a burst without stalling the scan for long.
RATE_LIMIT_RETRIES = 2
# Slack answers chat.postMessage in well under a second; a stuck connection must not stall
# every other announcement of the scan.
POST_TIMEOUT_SECONDS = 15


class PostFailed(Exception):
    """Slack refused or did not answer; the message was not posted (the caller retries later)."""


class SlackPoster:
    def __init__(self, token: str, base_url: str) -> None:
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

        self._client = WebClient(token=token, base_url=base_url, timeout=POST_TIMEOUT_SECONDS)
        self._client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None) -> str:
        """Posts and returns the message ts (the thread key for replies)."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            resp = self._client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                                 thread_ts=thread_ts, unfurl_links=False)
        except SlackApiError as exc:
            raise PostFailed(f"Slack refused the post to {channel}: {exc.response.get('error')}") from exc
        except (SlackClientError, OSError) as exc:
            raise PostFailed(f"Slack did not answer: {exc}") from exc
        return str(resp["ts"])


def poster_for(settings: Any) -> SlackPoster:
    if not settings.slack_bot_token:
        raise PostFailed("SLACK_BOT_TOKEN is not set, so I cannot post announcements.")
    return SlackPoster(settings.slack_bot_token, settings.slack_api_url)
