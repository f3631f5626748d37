"""Templates: text and HTML in the shared layout, values escaped in HTML, the unsubscribe footer for marketing."""

from __future__ import annotations

import pytest

from chat3d.mail.render import render_mail
from chat3d.settings import reset_settings_cache


@pytest.fixture(autouse=True)
def default_base_url(monkeypatch):
    """Rendering needs settings only (links use APP_BASE_URL), no database."""
    monkeypatch.delenv("APP_BASE_URL", raising=False)
    reset_settings_cache()
    yield
    reset_settings_cache()


def test_welcome_renders_text_and_html() -> None:
    mail = render_mail("welcome", {"display_name": "<Ann & Bob>"})
    assert mail.subject == "Welcome to Chat3D"
    assert mail.text.startswith("Hi <Ann & Bob>,")
    assert "http://localhost:3000" in mail.text and mail.links == ["http://localhost:3000"]
    assert "&lt;Ann &amp; Bob&gt;" in mail.html and "<Ann" not in mail.html
    assert "<title>Welcome to Chat3D</title>" in mail.html
    assert "unsubscribe" not in mail.text.lower()


def test_marketing_mail_carries_the_unsubscribe_footer() -> None:
    mail = render_mail("welcome", {"display_name": "Ann", "unsubscribe_url": "https://x.example/u?t=1&a=2"}, marketing=True)
    assert "to stop them: https://x.example/u?t=1&a=2" in mail.text
    assert 'href="https://x.example/u?t=1&amp;a=2"' in mail.html
    with pytest.raises(KeyError):
        render_mail("welcome", {"display_name": "Ann"}, marketing=True)


@pytest.mark.parametrize("name", ["nope", "../layout", "layout"])
def test_unknown_templates_are_refused(name: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        render_mail(name, {"display_name": "Ann"})
