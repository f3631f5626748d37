"""Reflex configuration. Ports, Redis and CORS come from Chat3D's own environment variables."""

import os

import reflex as rx

_port = int(os.environ.get("PORT", "3000"))
_redis = os.environ.get("REDIS_URL") or None
_origins = [o.strip() for o in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]

config = rx.Config(
    app_name="chat3d",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=_port,
    backend_port=_port,
    redis_url=_redis,
    state_manager_mode="redis" if _redis else "disk",
    cors_allowed_origins=_origins or ["*"],
    plugins=[
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
