"""``python -m render_service``: run the render service with uvicorn (RENDER_HOST/RENDER_PORT)."""

from __future__ import annotations

import logging
import os

import uvicorn

from .app import create_app
from .sandbox import set_dumpable
from .settings import Settings


def main() -> None:
    level = os.environ.get("RENDER_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Non-dumpable: a job running under our uid (minimal mode) cannot read our memory or environment.
    set_dumpable(False)
    settings = Settings.from_env()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
