"""Run the Alembic chain from code, so both `make dev` and `make test` start on the newest schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from chat3d.settings import REPO_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().effective_database_url).replace("%", "%%"))
    return cfg


def upgrade_to_head(url: str | None = None) -> None:
    command.upgrade(alembic_config(url), "head")


def downgrade_to_base(url: str | None = None) -> None:
    command.downgrade(alembic_config(url), "base")


if __name__ == "__main__":
    upgrade_to_head()
