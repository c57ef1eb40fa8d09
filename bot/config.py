"""Settings from the environment: the only place ckptbot reads environment variables.

Everything else receives a `Settings`; tests build `Settings(...)` directly.  The variable
names are part of the product's interface (README, manifest, Dockerfile) and are fixed.

`Settings` (pydantic-settings) is built on first use: importing pydantic costs ~60 ms,
a third of a whole local `ckptbot inspect`.  When no ckptbot variable is set at all, the
CLI runs on `DefaultSettings`, the same defaults without pydantic (cli_settings()).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from bot._settings_type import Settings

# Sizes and times with their reasons; every limit is overridable from the environment.
MAX_READ_BYTES = 512 * 1024**2  # a metadata walk reads < 1 % of a file; 512 MB bounds a download fallback
MAX_WALL_SECONDS = 60.0  # Slack users wait; a healthy 5 GB remote inspection takes ~1 s
MAX_REQUESTS = 1000  # range requests per inspection (remote-reads.md §9.2 budget ceiling)
PARSER_MEMORY_BYTES = 1024 * 1024**2  # address-space cap of a parser child (h5py + numpy need ~300 MB)
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_FILE_HOSTS = ("files.slack.com",)
DEFAULT_PORT = 3000

# Any of these set means the full Settings (validation, lists, secrets) are needed.
_OUR_VARIABLES = ("SLACK_", "CKPTBOT_", "REDIS_URL", "PORT")


@dataclass(frozen=True)
class DefaultSettings:
    """The defaults of `Settings`, for a CLI run with no configuration in the environment."""

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
    public_url: str | None = None


def _split(value: object, sep: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in str(value).split(sep) if p.strip()]


def _build_settings_class() -> type:
    from pydantic import Field, field_validator
    from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
    from typing_extensions import Annotated

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
        # Where people reach `ckptbot serve` ("https://ckpt.example.com"): cards link to /r/<token>.
        public_url: str | None = Field(None, validation_alias="CKPTBOT_PUBLIC_URL")

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

    Settings.__module__ = __name__
    return Settings


def __getattr__(name: str) -> Any:
    if name == "Settings":
        cls = _build_settings_class()
        globals()["Settings"] = cls
        return cls
    raise AttributeError(f"module 'bot.config' has no attribute {name!r}")


def load_settings(**overrides: object) -> "Settings":
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    settings_cls = __getattr__("Settings") if "Settings" not in globals() else globals()["Settings"]
    return settings_cls(**{k: v for k, v in overrides.items() if v is not None})


def cli_settings(**overrides: object) -> "Settings | DefaultSettings":
    """What a CLI command runs on: the defaults when nothing is configured, else full Settings."""
    if not any(v is not None for v in overrides.values()) and not any(
            k.startswith(_OUR_VARIABLES) for k in os.environ):
        return DefaultSettings()
    return load_settings(**overrides)
