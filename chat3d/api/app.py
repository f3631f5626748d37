"""Build the FastAPI app: routers, error shape, JSON 404 for unknown /api paths."""

from __future__ import annotations

from fastapi import FastAPI

from chat3d.api.errors import error_response, install_error_handlers
from chat3d.api.routes import health


def create_api() -> FastAPI:
    api = FastAPI(
        title="Chat3D API",
        version="0.1.0",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    install_error_handlers(api)
    api.include_router(health.router)

    # Registered last so every real route matches first; without it Reflex would answer with its HTML 404 page.
    @api.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], include_in_schema=False)
    async def _unknown_api_path(path: str):
        return error_response(404, f"No API route /api/{path}")

    return api
