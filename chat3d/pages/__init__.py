"""Reflex pages, one module per route group; `register_pages` adds them all to the app."""

import reflex as rx

from chat3d.pages import home


def register_pages(app: rx.App) -> None:
    app.add_page(home.page, route="/", title="Chat3D — describe a part, get a CAD model")
