"""The bot's Slack Web API client, one recipe for the replicas and the queue workers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from bot.config import Settings

# Retries per Web API call after a 429 (each sleeps Retry-After) or a dropped connection.
RATE_LIMIT_RETRIES = 3
CONNECTION_RETRIES = 2


def slack_client(settings: "Settings") -> Any:
    from slack_sdk import WebClient
    from slack_sdk.http_retry import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                     retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
                                     RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)])
