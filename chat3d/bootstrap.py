"""What every app process does once at start: migrate the schema and seed the first admin."""

from __future__ import annotations

import asyncio
import logging

from chat3d.db.migrate import upgrade_to_head
from chat3d.settings import get_settings

log = logging.getLogger("chat3d")


def prepare_database() -> None:
    """Bring the schema to head and seed the admin; safe to run in every process (idempotent)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.effective_storage_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head()
    from chat3d.domain.seed import seed_admin

    seed_admin()


async def on_app_start() -> None:
    """Reflex lifespan task: the mounted FastAPI app's own startup hooks never run under Reflex."""
    await asyncio.to_thread(prepare_database)


if __name__ == "__main__":
    prepare_database()
