"""Small browser-side calls to our own REST API, for the few actions that must go through HTTP.

Sign-in and sign-out set or clear the HttpOnly session cookie, which only an HTTP response can do; the
password goes straight from the form to `/api/auth/*` and never passes through Reflex state.
"""

from __future__ import annotations

import json

CSRF_HEADER = "X-Chat3D-CSRF"


def post_form_json(path: str, form_id: str, fields: dict[str, str]) -> str:
    """JS that posts named fields of a form as JSON and resolves to {status, error, detail}.

    `fields` maps JSON keys to form input names; empty optional inputs are sent as null.
    """
    pairs = ", ".join(
        f"{json.dumps(key)}: (f.elements[{json.dumps(name)}] ? (f.elements[{json.dumps(name)}].value || null) : null)"
        for key, name in fields.items()
    )
    return (
        "(() => { const f = document.getElementById(" + json.dumps(form_id) + ");"
        " return fetch(" + json.dumps(path) + ", {method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json', " + json.dumps(CSRF_HEADER) + ": '1'},"
        " body: JSON.stringify({" + pairs + "})})"
        ".then(async r => { const b = await r.json().catch(() => ({})); return {status: r.status, error: b.error || null, detail: b.detail || null}; })"
        ".catch(e => ({status: 0, error: 'Cannot reach Chat3D: ' + e.message, detail: null})); })()"
    )


def post_json(path: str, body: dict | None = None) -> str:
    return (
        "fetch(" + json.dumps(path) + ", {method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json', " + json.dumps(CSRF_HEADER) + ": '1'},"
        " body: " + json.dumps(json.dumps(body or {})) + "})"
        ".then(async r => { const b = await r.json().catch(() => ({})); return {status: r.status, error: b.error || null}; })"
        ".catch(e => ({status: 0, error: 'Cannot reach Chat3D: ' + e.message}))"
    )


def navigate(path: str) -> str:
    """A full page load, so the websocket reconnects and carries the new cookie."""
    return "window.location.assign(" + json.dumps(path) + ")"
