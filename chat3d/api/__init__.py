"""The FastAPI sub-app mounted into Reflex: REST contract under /api, plus /health and /ready."""

from chat3d.api.app import create_api

__all__ = ["create_api"]
