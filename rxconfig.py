"""Reflex configuration. Ports, Redis and CORS come from Chat3D's own environment variables."""

import os

import reflex as rx

from chat3d.api.security import allowed_origins

_port = int(os.environ.get("PORT", "3000"))
_redis = os.environ.get("REDIS_URL") or None
# Cross-origin callers with credentials: APP_BASE_URL's origin (+ CORS_ALLOWED_ORIGINS, + localhost and
# 127.0.0.1 on PORT outside production); never "*". Websockets from other origins are refused by
# chat3d.api.security.WebsocketOriginMiddleware (Socket.IO skips its own check when this list is empty).
_origins = allowed_origins()

config = rx.Config(
    app_name="chat3d",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=_port,
    backend_port=_port,
    redis_url=_redis,
    state_manager_mode="redis" if _redis else "disk",
    cors_allowed_origins=_origins,
    plugins=[
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
