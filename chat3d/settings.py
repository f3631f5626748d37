"""All configuration in one place: environment variables and `.env`, read once.

Every other module asks `get_settings()`; nothing else reads `os.environ` for app configuration.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "change-me-in-production"
REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Chat3D settings; field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    chat3d_env: Literal["development", "production", "test"] = "development"
    port: int = 3000
    app_base_url: str = ""
    data_dir: Path = REPO_ROOT / "data"
    storage_dir: Path | None = None
    database_url: str = ""
    redis_url: str = ""
    cors_allowed_origins: str = ""
    # Serve /api/docs and /api/openapi.json; unset = on in development and test, off in production.
    api_docs: bool | None = None

    # Signing/encryption keys (issue 21): from the environment when set; otherwise generated once per deployment and
    # stored in the database (chat3d.domain.keys). Only CHAT3D_ENV=test falls back to well-known values.
    jwt_secret: str = ""
    link_signing_key: str = ""  # waitlist status/unsubscribe links and the trusted-device cookie
    credential_key: str = ""  # encrypts stored credentials (issue 26)
    jwt_issuer: str = "chat3d"
    jwt_audience: str = "chat3d-app"
    jwt_expiry_minutes: int = 7 * 24 * 60

    render_service_url: str = ""
    # Shared secret for the render service (RENDER_SERVICE_TOKEN): sent as `Authorization: Bearer ...`.
    render_service_token: str = ""
    render_host: str = "127.0.0.1"
    render_port: int = 8090
    render_timeout_s: float = 60.0
    # Largest STEP/STL file a user may import as the start of a chat (bytes; checked before rendering).
    import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=32 * 1024 * 1024)

    smtp_host: str = ""
    smtp_port: int = 0
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: bool = False
    mail_from: str = "Chat3D <no-reply@chat3d.local>"

    openai_api_key: str = ""
    openai_base_url: str = ""
    anthropic_api_key: str = ""
    anthropic_base_url: str = ""
    xai_api_key: str = ""
    xai_base_url: str = "https://api.x.ai/v1"
    ollama_base_url: str = ""
    ollama_token: str = ""  # bearer token for a protected Ollama (a proxy in front of it)
    llm_models_file: Path | None = None
    # Defaults for new chats. Empty: the admin console's choice, else the offline models
    # (chat3d.domain.model_settings.default_model); a value set here wins and the console shows it read-only.
    default_conversation_model: str = ""
    default_codegen_model: str = ""
    llm_timeout_s: float = 120.0

    seed_admin_email: str = ""
    seed_admin_password: str = ""

    # Cost 12 everywhere; only the test environment may lower it, to keep the suite fast.
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    # `limits` rate strings, e.g. "10/minute" or "3 per 2 seconds".
    rate_limit_login: str = "10/minute"
    rate_limit_register: str = "10/minute"
    # Failed sign-ins: per client IP (any account), and per account from clients it has not seen before.
    rate_limit_login_ip: str = "30/10 minutes"
    rate_limit_login_account: str = "10/10 minutes"
    # Open registration confirms the address by mail before the account works; off only for closed deployments.
    registration_email_verification: bool = True
    rate_limit_api: str = "300/minute"
    smtp_timeout_s: float = 10.0
    outbox_poll_interval_s: float = 2.0
    outbox_max_attempts: int = 10
    outbox_retry_base_s: float = 30.0
    outbox_retry_max_s: float = 3600.0

    # Query pipeline: repair rounds after the first attempt, geometry check tolerance, per-user limits.
    max_repair_rounds: int = Field(default=3, ge=0, le=10)
    geometry_tolerance_pct: float = 5.0
    geometry_tolerance_mm: float = 0.5
    # Issue 23: repair rounds spent on stated requirements that failed on the measured solid, and rounds a vision
    # model's review of the rendered views may add (both within max_repair_rounds).
    requirement_repair_rounds: int = Field(default=1, ge=0, le=5)
    review_rounds: int = Field(default=1, ge=0, le=3)  # env REVIEW_ROUNDS
    max_concurrent_queries_per_user: int = Field(default=2, ge=1)
    daily_token_budget_per_user: int = Field(default=2_000_000, ge=0)
    daily_cost_budget_usd_per_user: float = Field(default=5.0, ge=0)
    query_lease_s: float = 60.0
    query_sweep_interval_s: float = 10.0
    query_max_attempts: int = 2
    pipeline_concurrency: int = 4
    # Model evaluations from the admin console (issue 23): at most this many of their tasks (one render each at
    # a time) run at once, apart from the users' queue, so an evaluation never starves users' requests.
    eval_render_concurrency: int = Field(default=1, ge=1, le=8)

    # Event stream: keep-alive comment interval, table polling while Redis is away, batch and reader threads.
    events_heartbeat_s: float = 15.0
    events_poll_interval_s: float = 2.0
    events_batch_size: int = 500
    events_read_threads: int = 8

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: object) -> object:
        """`<NAME>_FILE` (e.g. JWT_SECRET_FILE=/run/secrets/jwt_secret, a Swarm secret) supplies a secret field."""
        if isinstance(data, dict):
            for name in SECRET_FILE_FIELDS:
                value = read_secret_file(
                    name.upper(), str(data.get(name) or ""), os.environ.get(f"{name.upper()}_FILE", "")
                )
                if value is not None:
                    data[name] = value
        return data

    @field_validator("llm_models_file", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        """`LLM_MODELS_FILE=` (as in .env.example) means no file, not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.chat3d_env != "test" and DEFAULT_JWT_SECRET in (
            self.jwt_secret,
            self.link_signing_key,
            self.credential_key,
        ):
            raise ValueError(
                "JWT_SECRET (and the other keys) must be private values; leave them unset to have "
                "one generated and stored for this deployment"
            )
        if self.bcrypt_rounds < 12 and self.chat3d_env != "test":
            raise ValueError("BCRYPT_ROUNDS below 12 is only allowed when CHAT3D_ENV=test")
        return self

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file under DATA_DIR."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'chat3d.db').resolve()}"

    @property
    def effective_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "files").resolve()

    @property
    def outbox_dir(self) -> Path:
        """Where mail goes when no SMTP server is configured."""
        return (self.data_dir / "outbox").resolve()

    @property
    def effective_render_url(self) -> str:
        return self.render_service_url or f"http://{self.render_host}:{self.render_port}"

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allowed_origins.split(",") if o.strip()]

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.chat3d_env != "production"

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host and self.smtp_port)

    @property
    def public_base_url(self) -> str:
        """The address users open, for links in mail."""
        return self.app_base_url.rstrip("/") or f"http://localhost:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry `Secure` when the app is served over HTTPS."""
        return self.app_base_url.startswith("https")


SECRET_FILE_FIELDS = (
    "jwt_secret",
    "link_signing_key",
    "credential_key",
    "render_service_token",
    "smtp_password",
    "openai_api_key",
    "anthropic_api_key",
    "xai_api_key",
    "ollama_token",
    "seed_admin_password",
)


def read_secret_file(var: str, plain: str, path: str) -> str | None:
    """The value `<VAR>_FILE` points at, or None to keep `plain` (the same rules as render_service/settings.py).

    A file that exists wins, and then `<VAR>` must be empty (both set is ambiguous). A missing file falls back to a
    non-empty `<VAR>`: one docker-compose.yml serves Compose, which does not mount Swarm's external secrets, and
    Swarm, which does. Missing with `<VAR>` empty, empty or unreadable is an error naming the variable.
    """
    if not path.strip():
        return None
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if plain:
            return None
        raise ValueError(
            f"{var}_FILE={path} does not exist and {var} is empty; create the secret or set {var}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{var}_FILE={path} cannot be read: {exc}") from None
    if plain:
        raise ValueError(f"both {var} and {var}_FILE ({path}) are set; set only one")
    if not value:
        raise ValueError(f"{var}_FILE={path} is empty")
    return value


def normalize_database_url(url: str) -> str:
    """`postgres://…` and `postgresql://…` (the usual forms) get the installed driver, psycopg2.

    SQLAlchemy 2.1 picks psycopg 3 for a PostgreSQL URL without a driver, and that is not installed.
    """
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


@functools.lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change the environment and call this to re-read it."""
    get_settings.cache_clear()
