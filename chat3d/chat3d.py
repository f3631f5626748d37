"""The Reflex app: every page, with the FastAPI sub-app (REST, SSE, files, health) on the same port."""

import reflex as rx

from chat3d.api import create_api
from chat3d.bootstrap import app_lifespan
from chat3d.pages import register_pages

app = rx.App(api_transformer=create_api())
app.register_lifespan_task(app_lifespan)
register_pages(app)
