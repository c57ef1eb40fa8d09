"""Settings from the environment: the only place ckptbot reads environment variables.

Everything else receives a `Settings`; tests build `Settings(...)` directly.  The variable
names are part of the product's interface (README, manifest, Dockerfile) and are fixed.
"""

from __future__ import annotations

import os

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

# Sizes and times with their reasons; every limit is overridable from the environment.
MAX_READ_BYTES = 512 * 1024**2  # a metadata walk reads < 1 % of a file; 512 MB bounds a download fallback
MAX_WALL_SECONDS = 60.0  # Slack users wait; a healthy 5 GB remote inspection takes ~1 s
MAX_REQUESTS = 1000  # range requests per inspection (remote-reads.md §9.2 budget ceiling)
PARSER_MEMORY_BYTES = 1024 * 1024**2  # address-space cap of a parser child (h5py + numpy need ~300 MB)


def _split(value: object, sep: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in str(value).split(sep) if p.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    # Slack
    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_file_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["files.slack.com"], validation_alias="SLACK_FILE_HOSTS"
    )
    port: int = Field(3000, validation_alias="PORT")

    # Cache and workers
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")

    # Sources
    local_roots: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="CKPTBOT_LOCAL_ROOTS"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="CKPTBOT_ALLOWED_HOSTS"
    )
    max_read_bytes: int = Field(MAX_READ_BYTES, validation_alias="CKPTBOT_MAX_READ_BYTES")
    max_wall_seconds: float = Field(MAX_WALL_SECONDS, validation_alias="CKPTBOT_MAX_WALL_SECONDS")
    max_requests: int = Field(MAX_REQUESTS, validation_alias="CKPTBOT_MAX_REQUESTS")
    parser_memory_bytes: int = Field(PARSER_MEMORY_BYTES, validation_alias="CKPTBOT_PARSER_MEMORY_BYTES")

    # Webhook for training jobs (issue: checkpoint notifications)
    webhook_secret: str | None = Field(None, validation_alias="CKPTBOT_WEBHOOK_SECRET")

    @field_validator("slack_file_hosts", "allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> list[str]:
        return _split(v, ",")

    @field_validator("local_roots", mode="before")
    @classmethod
    def _path_list(cls, v: object) -> list[str]:
        return [os.path.realpath(os.path.expanduser(p)) for p in _split(v, os.pathsep)]

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://slack.com/api/")
        return v if v.endswith("/") else v + "/"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
