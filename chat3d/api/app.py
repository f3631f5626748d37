"""Build the FastAPI app: security headers, error shape, routers, JSON 404 for unknown /api paths."""

from __future__ import annotations

from fastapi import FastAPI

from chat3d.api.errors import error_response, install_error_handlers
from chat3d.api.public_routes import UNKNOWN_API_METHODS, UNKNOWN_API_PATH
from chat3d.api.routes import (
    admin,
    admin_models,
    auth,
    chat,
    events,
    files,
    health,
    imports,
    invitations,
    llm,
    notifications,
    password_reset,
    profile,
    public,
    query,
    shares,
    versions,
    waitlist,
)
from chat3d.api.security import (
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
    UploadGuardMiddleware,
    WebsocketOriginMiddleware,
)
from chat3d.domain.files import MAX_UPLOAD_BYTES
from chat3d.domain.imports import max_bytes as import_max_bytes
from chat3d.settings import get_settings

COMPOSER_MAX_ATTACHMENTS = 4  # chat3d.state.chat_composer.MAX_ATTACHMENTS (not imported: it loads Reflex state)


def create_api() -> FastAPI:
    settings = get_settings()
    docs = settings.api_docs_enabled  # API_DOCS; off by default in production (the route map is no one's business)
    api = FastAPI(
        title="Chat3D API",
        version="0.1.0",
        docs_url="/api/docs" if docs else None,
        swagger_ui_oauth2_redirect_url=None,  # no OAuth2 flows; keeps every route under /api
        redoc_url=None,
        openapi_url="/api/openapi.json" if docs else None,
    )
    api.add_middleware(
        BodySizeLimitMiddleware,
        limits={
            # multipart overhead on top of the 10 MB image cap
            "/api/files": (
                MAX_UPLOAD_BYTES + 64 * 1024,
                f"Images can be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
            ),
            "/api/chat/import": (
                import_max_bytes() + 64 * 1024,
                f"Imported files can be at most {import_max_bytes() / (1024 * 1024):g} MB.",
            ),
        },
    )
    # Reflex's own upload endpoint (composer images, CAD imports): signed-in only, capped before parsing.
    upload_cap = max(COMPOSER_MAX_ATTACHMENTS * MAX_UPLOAD_BYTES, import_max_bytes()) + 256 * 1024
    api.add_middleware(
        UploadGuardMiddleware,
        path="/_upload",
        cap=upload_cap,
        message=f"Uploads can be at most {upload_cap // (1024 * 1024)} MB at once.",
    )
    api.add_middleware(WebsocketOriginMiddleware)
    api.add_middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    install_error_handlers(api)
    api.include_router(auth.router)
    api.include_router(public.router)
    api.include_router(admin_models.router)  # before admin.router: both live under /api/admin
    api.include_router(admin.router)
    api.include_router(health.router)
    api.include_router(events.router)
    api.include_router(notifications.router)
    api.include_router(chat.router)
    api.include_router(query.router)
    api.include_router(files.router)
    api.include_router(llm.router)
    api.include_router(waitlist.router)
    api.include_router(invitations.router)
    api.include_router(profile.router)
    api.include_router(password_reset.router)
    api.include_router(versions.router)
    api.include_router(imports.router)
    api.include_router(shares.router)

    # Registered last so every real route matches first; without it Reflex would answer with its HTML 404 page.
    @api.api_route(UNKNOWN_API_PATH, methods=list(UNKNOWN_API_METHODS), include_in_schema=False)
    async def _unknown_api_path(path: str):
        return error_response(404, f"No API route /api/{path}")

    return api
