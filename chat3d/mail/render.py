"""Render a mail from its template files: `<name>.txt` (a `Subject:` line, a blank line, the text) and
`<name>.html` (the HTML body), each wrapped in the shared layout.

`string.Template` keeps templates logic-free; every value is HTML-escaped for the HTML part, and a
missing value fails at render time, which is when the mail is enqueued.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from chat3d.settings import get_settings

APP_NAME = "Chat3D"
TEMPLATES_DIR = Path(__file__).parent / "templates"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LINK = re.compile(r"https?://[^\s<>\"')]+")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str

    @property
    def links(self) -> list[str]:
        return list(dict.fromkeys(_LINK.findall(self.text)))


@functools.lru_cache(maxsize=64)
def _template(filename: str) -> Template:
    return Template((TEMPLATES_DIR / filename).read_text(encoding="utf-8"))


def _parts(name: str) -> tuple[Template, Template, Template]:
    """(subject, text body, html body) of a message template."""
    if not _NAME.match(name) or not (TEMPLATES_DIR / f"{name}.txt").is_file():
        raise ValueError(f"no mail template named {name!r}")
    head, _, body = _template(f"{name}.txt").template.partition("\n\n")
    if not head.startswith("Subject: "):
        raise ValueError(f"mail template {name}.txt must start with a 'Subject: ' line")
    return Template(head.removeprefix("Subject: ").strip()), Template(body), _template(f"{name}.html")


def render_mail(name: str, context: Mapping[str, Any], *, marketing: bool = False) -> RenderedMail:
    """Text and HTML versions of template `name`; `marketing` adds the unsubscribe footer (needs `unsubscribe_url`)."""
    values = {"app_name": APP_NAME, "app_url": get_settings().public_base_url, **context}
    escaped = {key: html.escape(str(value)) for key, value in values.items()}
    subject_t, text_t, html_t = _parts(name)
    subject = subject_t.substitute(values)
    text_footer = _template("unsubscribe.txt").substitute(values).strip() if marketing else ""
    html_footer = _template("unsubscribe.html").substitute(escaped).rstrip() if marketing else ""
    text = _template("layout.txt").substitute(values, body=text_t.substitute(values).strip(), unsubscribe=text_footer)
    body_html = html_t.substitute(escaped).strip()
    page = _template("layout.html").substitute(
        escaped, subject=html.escape(subject), body=body_html, unsubscribe=html_footer
    )
    return RenderedMail(subject=subject, text=text.rstrip() + "\n", html=page)
