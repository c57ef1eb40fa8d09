"""Configuration: the only place ckptbot reads environment variables.

Everything else receives a `Settings` (bot/settings.py, one static pydantic-settings class);
tests build `Settings(...)` directly.  `from bot.config import Settings` loads pydantic on
first use only (PEP 562 `__getattr__`): importing pydantic and pydantic-settings costs
~0.2 s and ~11 MB, as much as a whole local `ckptbot inspect`.

So a CLI command that reads only local files runs on `DefaultSettings` (the same defaults,
no pydantic) unless one of the variables that such a read uses is set (`LOCAL_READ_VARIABLES`):
the Slack tokens, `REDIS_URL` or `CKPTBOT_LOCAL_ROOTS` in the environment cost it nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.defaults import (
    DEFAULT_FILE_HOSTS,
    DEFAULT_PORT,
    DEFAULT_SLACK_API_URL,
    MAX_READ_BYTES,
    MAX_REQUESTS,
    MAX_WALL_SECONDS,
    PARSER_MEMORY_BYTES,
)

if TYPE_CHECKING:  # pragma: no cover
    from bot.settings import Settings

# What a CLI read of a local file consults (isolation's limits); the CLI reads any local path its
# user passes, so CKPTBOT_LOCAL_ROOTS is not among them, and it does not use the Redis cache.
LOCAL_READ_VARIABLES = ("CKPTBOT_MAX_READ_BYTES", "CKPTBOT_MAX_WALL_SECONDS", "CKPTBOT_MAX_REQUESTS",
                        "CKPTBOT_PARSER_MEMORY_BYTES")


@dataclass(frozen=True)
class DefaultSettings:
    """The defaults of `Settings`, for a CLI read of local files (tests/test_config.py holds them equal)."""

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_file_hosts: list[str] = field(default_factory=lambda: list(DEFAULT_FILE_HOSTS))
    port: int = DEFAULT_PORT
    redis_url: str | None = None
    local_roots: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    max_read_bytes: int = MAX_READ_BYTES
    max_wall_seconds: float = MAX_WALL_SECONDS
    max_requests: int = MAX_REQUESTS
    parser_memory_bytes: int = PARSER_MEMORY_BYTES
    webhook_secret: str | None = None
    queue: str | None = None
    public_url: str | None = None


def __getattr__(name: str) -> Any:
    if name == "Settings":
        from bot.settings import Settings

        return Settings
    raise AttributeError(f"module 'bot.config' has no attribute {name!r}")


def load_settings(**overrides: object) -> "Settings":
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    from bot.settings import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def cli_settings(*, local_only: bool = False, **overrides: object) -> "Settings | DefaultSettings":
    """What a CLI command runs on: the defaults for a local read nothing configures, else Settings."""
    if local_only and not any(v is not None for v in overrides.values()) and not any(
            name in os.environ for name in LOCAL_READ_VARIABLES):
        return DefaultSettings()
    return load_settings(**overrides)
