"""One typed settings object, read from the environment (prefix-free, as twelve-factor apps do)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("gpuval.db")


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as an environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL. Default: an embedded SQLite file in the working directory.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    api_key_secret: SecretStr | None = Field(
        default=None,
        description="Server secret for HMAC-SHA256 hashes of API keys. Unset: a random secret is "
        "created once in SECRET_FILE (mode 0600). Set it in production, never commit it.",
    )
    secret_file: Path = Path(".gpuval-secret")
    require_read_key: bool = Field(
        default=False,
        description="Reads need a key with the `read` scope (writes always need one).",
    )
    shutdown_drain_s: float = Field(
        default=5.0,
        ge=0,
        le=120,
        description="On SIGTERM, /readyz fails for this long before the server stops accepting.",
    )
    json_logs: bool = Field(default=True, description="One JSON object per log line.")
    warm_calibration: bool = Field(
        default=True,
        description="Calibrate for today in the background at start-up, so that the first "
        "/quote does not wait for it, then value today's default fleet question, so that the "
        "first page of /valuations does not either.",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
