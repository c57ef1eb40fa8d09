"""The Settings class: every configurable value, its environment name, default and check.

One static pydantic-settings class.  Import it through `bot.config` (`from bot.config import
Settings`), which loads this module only when a Settings is really built: pydantic and
pydantic-settings cost ~0.2 s and ~11 MB, as much as a whole local `ckptbot inspect`.
The environment names are part of the product's interface (README, manifest, Dockerfile).
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.defaults import (
    DEFAULT_FILE_HOSTS,
    DEFAULT_PORT,
    DEFAULT_SLACK_API_URL,
    MAX_READ_BYTES,
    MAX_REQUESTS,
    MAX_WALL_SECONDS,
    PARSER_MEMORY_BYTES,
)


def split_list(value: object, sep: str) -> list[str]:
    """"a, b" or ["a", "b"] → ["a", "b"]: list variables are written separated."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in str(value).split(sep) if p.strip()]


class Settings(BaseSettings):
    # populate_by_name: tests and callers may write Settings(allowed_hosts=[...]) as well as the
    # environment names (Settings(CKPTBOT_ALLOWED_HOSTS="...")).
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore",
                                      populate_by_name=True)

    # Slack
    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, validation_alias="SLACK_API_URL")
    slack_file_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_FILE_HOSTS), validation_alias="SLACK_FILE_HOSTS")
    port: int = Field(DEFAULT_PORT, validation_alias="PORT")

    # Cache and workers
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")

    # Sources
    local_roots: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                                        validation_alias="CKPTBOT_LOCAL_ROOTS")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                                          validation_alias="CKPTBOT_ALLOWED_HOSTS")
    max_read_bytes: int = Field(MAX_READ_BYTES, gt=0, validation_alias="CKPTBOT_MAX_READ_BYTES")
    max_wall_seconds: float = Field(MAX_WALL_SECONDS, gt=0, validation_alias="CKPTBOT_MAX_WALL_SECONDS")
    max_requests: int = Field(MAX_REQUESTS, gt=0, validation_alias="CKPTBOT_MAX_REQUESTS")
    parser_memory_bytes: int = Field(PARSER_MEMORY_BYTES, gt=64 * 1024**2,
                                     validation_alias="CKPTBOT_PARSER_MEMORY_BYTES")

    # Webhook for training jobs (checkpoint notifications)
    webhook_secret: str | None = Field(None, validation_alias="CKPTBOT_WEBHOOK_SECRET")
    # CKPTBOT_QUEUE=rq: `serve` only acknowledges and enqueues; `ckptbot worker` answers (bot/queue/).
    queue: str | None = Field(None, validation_alias="CKPTBOT_QUEUE")
    # Where people reach `ckptbot serve` ("https://ckpt.example.com"): cards link to /r/<token>.
    public_url: str | None = Field(None, validation_alias="CKPTBOT_PUBLIC_URL")

    @field_validator("slack_file_hosts", "allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> list[str]:
        return split_list(v, ",")

    @field_validator("local_roots", mode="before")
    @classmethod
    def _path_list(cls, v: object) -> list[str]:
        return [os.path.realpath(os.path.expanduser(p)) for p in split_list(v, os.pathsep)]

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://slack.com/api/")
        return v if v.endswith("/") else v + "/"
