"""Run the Alembic chain from code, so both `make dev` and `make test` start on the newest schema.

Several app workers may start at once: on PostgreSQL an advisory lock makes them migrate one at a time
(the later ones find the schema at head and do nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from chat3d.settings import REPO_ROOT, get_settings

_MIGRATION_LOCK_ID = 3_141_592_653


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().effective_database_url).replace("%", "%%"))
    return cfg


def upgrade_to_head(url: str | None = None) -> None:
    cfg = alembic_config(url)
    target = url or get_settings().effective_database_url
    if not target.startswith("postgresql"):
        command.upgrade(cfg, "head")
        return
    engine = sa.create_engine(target, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                conn.commit()
    finally:
        engine.dispose()


if __name__ == "__main__":
    upgrade_to_head()
