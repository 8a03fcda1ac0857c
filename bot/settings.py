"""The one place that reads the environment (and a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.core.i18n import SUPPORTED, Translator


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIGILOG_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default a SQLite file in the data directory.",
        repr=False,  # it may carry a password
    )
    data_dir: Path = Field(
        default_factory=lambda: user_data_path("digilog", appauthor=False),
        description="Where the default SQLite database lives.",
    )
    language: str = Field(default="sv", description="Language of new cohorts and the CLI.")
    timezone: str = Field(default="Europe/Stockholm", description="Time zone of new cohorts.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object per line, each with its request id (for a "
        "log collector); text: one readable line each.",
    )
    host: str = Field(default="0.0.0.0", description="Where `digilog serve` listens.")
    port: int = Field(
        default=3000,
        validation_alias=AliasChoices("DIGILOG_PORT", "PORT"),
        description="Port of `digilog serve` (PORT works too, as platforms set it).",
    )

    # Scheduling: seconds. Several processes share one PostgreSQL; one keeps the calendar.
    schedule_sweep_seconds: float = Field(
        default=10.0, gt=0, description="How soon a changed calendar is noticed at the latest."
    )
    sender_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often a sender looks for rows another process wrote."
    )
    sender_lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a sender holds a row before another may take it."
    )
    leader_retry_seconds: float = Field(
        default=5.0, gt=0, description="How often a waiting process tries to keep the calendar."
    )

    # The inbound journal: people's actions, recorded before they are acknowledged.
    inbound_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker holds an action before another process may take it "
        "(how soon the actions of a process that died are done by another).",
    )
    inbound_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often a worker looks for actions others left."
    )
    inbound_attempts: int = Field(
        default=3, ge=1, description="Tries of an action's work before the person is told."
    )
    inbound_backoff_seconds: float = Field(
        default=2.0, ge=0, description="The pause before the first retry; 4 × longer each time."
    )

    # Slack: the usual variable names, without our prefix.
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_CLIENT_SECRET"
    )
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_posts_per_second: float = Field(
        default=4.0,
        gt=0,
        description="Scheduled posts per second and workspace, in each sending process; "
        "Slack allows about one a second per channel and a few hundred a minute per "
        "workspace, so with several processes share that between them.",
    )
    slack_lookups_per_minute: int = Field(
        default=50,
        gt=0,
        description="Calls a minute per Tier 3 method (conversations.open, .history) and "
        "workspace, in each sending process: the lookups of posts whose outcome is in doubt.",
    )

    # Secrets at rest: the Fernet keys that seal stored OAuth tokens (bot/slack/secure_store.py).
    secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys, newest first: the first seals, any opens. "
        "Needed with Slack OAuth (SLACK_CLIENT_ID); `digilog secrets new-key` makes one.",
    )

    # Microsoft Teams: the bot's Entra app registration (Azure Bot resource).
    teams_app_id: str | None = Field(default=None, validation_alias="TEAMS_APP_ID")
    teams_app_password: SecretStr | None = Field(
        default=None, validation_alias="TEAMS_APP_PASSWORD"
    )
    teams_tenant_id: str | None = Field(default=None, validation_alias="TEAMS_TENANT_ID")
    teams_anonymous: bool = Field(
        default=False,
        description="Take unauthenticated Teams activities, for the Microsoft 365 Agents "
        "Playground on this machine only: refused unless DIGILOG_HOST is a loopback address.",
    )
    teams_token_url: str | None = Field(
        default=None,
        description="Where to get the bot's access token (default: the tenant's Entra "
        "endpoint); for tests against a fake.",
    )

    @field_validator("language")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in SUPPORTED:
            raise ValueError(f"choose one of {', '.join(SUPPORTED)}")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @property
    def slack_enabled(self) -> bool:
        """A bot token, an app token (Socket Mode) or OAuth credentials turn Slack on."""
        return bool(self.slack_bot_token or self.slack_client_id)

    def slack_problems(self, t: Translator) -> list[str]:
        """What is missing for the Slack configuration given, in words an operator can act on,
        in `t`'s language; the variables keep their names."""
        problems = []
        if self.slack_client_id and not self.slack_client_secret:
            problems.append(t("SLACK_CLIENT_ID is set but SLACK_CLIENT_SECRET is not"))
        if self.slack_app_token is None and self.slack_signing_secret is None:
            problems.append(
                t(
                    "SLACK_SIGNING_SECRET is needed to verify requests over HTTP "
                    "(or set SLACK_APP_TOKEN for Socket Mode)"
                )
            )
        if self.slack_app_token is not None and self.slack_bot_token is None:
            problems.append(t("Socket Mode (SLACK_APP_TOKEN) needs SLACK_BOT_TOKEN too"))
        if self.slack_client_id:
            problems += self.secret_key_problems(t)
        return problems

    def secret_key_list(self) -> list[str]:
        """The Fernet keys of DIGILOG_SECRET_KEYS, newest first."""
        if self.secret_keys is None:
            return []
        return [
            key.strip() for key in self.secret_keys.get_secret_value().split(",") if key.strip()
        ]

    def secret_key_problems(self, t: Translator) -> list[str]:
        """Why the stored tokens could not be sealed, in `t`'s language, in words that never
        contain a key."""
        if not self.secret_key_list():
            return [
                t(
                    "Slack OAuth (SLACK_CLIENT_ID) stores each workspace's token, encrypted "
                    "with DIGILOG_SECRET_KEYS, which is not set; make a key with "
                    "`digilog secrets new-key`"
                )
            ]
        # Here: Fernet (cryptography) is loaded only where stored tokens are sealed.
        from bot.sealing import Sealer, SecretKeyError

        try:
            Sealer(self.secret_key_list())
        except SecretKeyError as error:
            return [error.said(t)]
        return []

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id or self.teams_anonymous)

    def teams_problems(self, t: Translator) -> list[str]:
        """What is wrong with the Teams configuration given, in words an operator can act on,
        in `t`'s language; the variables keep their names."""
        problems = []
        if self.teams_anonymous:
            if not is_loopback(self.host):
                problems.append(
                    t(
                        "DIGILOG_TEAMS_ANONYMOUS takes activities without checking who sent "
                        "them: it is for the Agents Playground on this machine only, so "
                        "DIGILOG_HOST must be 127.0.0.1 (or ::1)"
                    )
                )
            return problems
        if self.teams_app_id and not self.teams_app_password:
            problems.append(
                t("TEAMS_APP_ID is set but TEAMS_APP_PASSWORD (its client secret) is not")
            )
        if self.teams_app_id and not self.teams_tenant_id:
            problems.append(t("TEAMS_APP_ID is set but TEAMS_TENANT_ID (your Entra tenant) is not"))
        return problems

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'digilog.db'}"

    def prepare(self) -> None:
        """Create the data directory when the default SQLite database will be used."""
        if not self.database_url:
            self.data_dir.mkdir(parents=True, exist_ok=True)


def is_loopback(host: str) -> bool:
    import ipaddress

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
