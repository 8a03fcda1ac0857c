"""The one place that reads the environment (and a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.i18n import SUPPORTED


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIGILOG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default a SQLite file in the data directory.",
    )
    data_dir: Path = Field(
        default_factory=lambda: user_data_path("digilog", appauthor=False),
        description="Where the default SQLite database lives.",
    )
    language: str = Field(default="sv", description="Language of new cohorts and the CLI.")
    timezone: str = Field(default="Europe/Stockholm", description="Time zone of new cohorts.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("language")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value not in SUPPORTED:
            raise ValueError(f"choose one of {', '.join(SUPPORTED)}")
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'digilog.db'}"

    def prepare(self) -> None:
        """Create the data directory when the default SQLite database will be used."""
        if not self.database_url:
            self.data_dir.mkdir(parents=True, exist_ok=True)
