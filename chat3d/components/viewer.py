"""The 3D viewer: a local JSX component (assets/chat3d_viewer.jsx) wrapping react-three-fiber and drei.

It loads the GLB straight from `/api/files/{id}` in the browser; mesh bytes never pass through Reflex state.
Keep it mounted across URL changes (no `key` on the URL): it shows the old model until the new one has loaded
and keeps the camera, so a parameter preview neither blanks nor resets the view.
"""

from __future__ import annotations

import reflex as rx

from chat3d.settings import get_settings

VIEWER_LIBS = ["three@0.187.0", "@react-three/fiber@9.8.2", "@react-three/drei@10.7.9"]


class ModelViewer(rx.NoSSRComponent):
    library = rx.asset("chat3d_viewer.jsx").importable_path
    tag = "ModelViewer"
    lib_dependencies: list[str] = VIEWER_LIBS

    url: rx.Var[str]
    size_mm: rx.Var[list[float]]
    dark: rx.Var[bool]
    units: rx.Var[str]  # "mm" or "in": what the size overlay, grid legend and measure readout speak
    fit_key: rx.Var[str]  # the camera is fitted again when this changes (another chat), not for a new URL
    # Picking (issue 27): the shown version's face/edge words (GET /api/chat/items/{id}/topology; "" turns
    # picking off), the ids picked and the version they belong to; `on_pick_geometry(version, ids)` asks for a new set.
    topology_url: rx.Var[str]
    picked_ids: rx.Var[list[str]]
    picked_version: rx.Var[str]
    # Reflex reads the event's argument spec from this annotation at runtime; a call is no type to mypy.
    on_pick_geometry: rx.EventHandler[rx.event.passthrough_event_spec(str, list[str])]  # type: ignore[type-arg, valid-type]
    part_names: rx.Var[list[str]]  # issue 27: the parts' names per solid (solid_<n>), for the part toggles
    # `window.chat3dViewer`, the read-only hook browser tests and scripts use: on in development and test builds,
    # off in production ones (decided when the frontend is compiled; the image builds with CHAT3D_ENV=production).
    test_hook: rx.Var[bool]


def model_viewer(**props) -> rx.Component:
    """The viewer, with its test hook on unless this is a production build."""
    return ModelViewer.create(test_hook=get_settings().chat3d_env != "production", **props)
