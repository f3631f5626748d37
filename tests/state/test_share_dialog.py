"""The share dialog and the contexts pane's thumbnails: pure helpers directly; handlers on a real Reflex state
tree (no browser) against a clean PostgreSQL database, with the signed-in user patched in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import reflex as rx
from sqlmodel import Session, select

from chat3d.db.models import ChatItem, Share
from chat3d.domain import chats, shares
from chat3d.state.auth import AuthState
from chat3d.state.chat_contexts import ContextsState
from chat3d.state.versions import EXPIRY_CHOICES, VersionsState, expiry_from_choice, expiry_label, reload_versions
from tests.domain.test_versions import _version

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def test_expiry_label_reads_like_a_person_would_say_it() -> None:
    assert expiry_label(None, now=NOW) == "Never expires"
    assert expiry_label(NOW + timedelta(days=7) - timedelta(seconds=5), now=NOW) == "Expires in 7 days (29 Nov 2026)"
    assert expiry_label(NOW + timedelta(days=6, hours=1), now=NOW) == "Expires in 6 days (28 Nov 2026)"
    assert expiry_label(NOW + timedelta(days=1), now=NOW) == "Expires in 1 day (23 Nov 2026)"
    assert expiry_label(NOW + timedelta(hours=5), now=NOW) == "Expires in 5 hours (22 Nov 2026)"
    assert expiry_label(NOW + timedelta(seconds=30), now=NOW) == "Expires in 1 minute (22 Nov 2026)"
    assert expiry_label(NOW - timedelta(days=2), now=NOW) == "Expired 20 Nov 2026"
    assert expiry_label((NOW - timedelta(days=2)).replace(tzinfo=None), now=NOW) == "Expired 20 Nov 2026"  # naive = UTC
    assert expiry_label(NOW + timedelta(days=3), revoked=True, now=NOW) == ""


def test_expiry_choice_to_days_or_a_moment() -> None:
    today = date(2026, 11, 22)
    assert EXPIRY_CHOICES[0] == "Never" and expiry_from_choice("Never", "", today) == (None, None)
    assert expiry_from_choice("7 days", "2030-01-01", today) == (7, None)
    assert expiry_from_choice("30 days", "", today) == (30, None)
    # A date lasts to the end of that day, UTC; today is allowed.
    assert expiry_from_choice("On a date", "2026-12-24", today) == (None, datetime(2026, 12, 25, tzinfo=UTC))
    assert expiry_from_choice("On a date", "2026-11-22", today)[1] == datetime(2026, 11, 23, tzinfo=UTC)
    for choice, value, message in [("On a date", "", "Choose the date"), ("On a date", "2026-11-21", "in the future"),
                                   ("On a date", "21/11/2026", "not a date"), ("Forever", "", "Choose when")]:
        with pytest.raises(ValueError, match=message):
            expiry_from_choice(choice, value, today)



# --- handlers ------------------------------------------------------------------------------------------


@pytest.fixture
def tree(db: Session, make_user, monkeypatch: pytest.MonkeyPatch):
    user = make_user("sharer@example.com")
    monkeypatch.setattr(AuthState, "_current_user", lambda self: user)
    root = rx.State(_reflex_internal_init=True)
    ctx = chats.create_context(db, user.id, name="Bracket")
    v1 = _version(db, ctx, 40.0)
    v2 = _version(db, ctx, 60.0)
    chats.create_context(db, user.id, name="Empty")
    db.commit()

    def sub(cls):
        return root.get_substate(cls.get_full_name().split(".")[1:])

    return user, str(ctx.id), [str(v1.id), str(v2.id)], sub


def test_contexts_rows_carry_the_current_versions_thumbnail(db: Session, tree) -> None:
    user, cid, (v1, v2), sub = tree
    contexts = sub(ContextsState)
    asyncio.run(contexts.set_search(""))
    by_name = {r.name: r for r in contexts.rows}
    png = next(f["id"] for f in chats.model_segment(db.get(ChatItem, uuid.UUID(v2)))["files"] if f["format"] == "png")
    assert by_name["Bracket"].thumb_url == f"/api/files/{png}"
    assert by_name["Empty"].thumb_url == ""


def test_share_dialog_creates_a_titled_expiring_link_and_refuses_bad_input(db: Session, tree) -> None:
    user, cid, (v1, v2), sub = tree
    versions = sub(VersionsState)
    reload_versions(versions, user.id, cid)
    versions.open_share(v2)
    assert versions.share_item_id == v2 and versions.share_version == "Version 2" and versions.share_expiry == "Never"

    versions.set_share_expiry("On a date")
    asyncio.run(versions.share({"title": "For Sam"}))
    assert versions.share_error == "Choose the date the link expires." and versions.share_url == ""
    versions.set_share_date("2001-01-01")
    asyncio.run(versions.share({"title": "For Sam"}))
    assert versions.share_error == "The expiry date must be in the future."
    versions.set_share_expiry("7 days")
    asyncio.run(versions.share({"title": "x" * 500}))
    assert versions.share_error == "A title can have at most 200 characters."
    assert db.exec(select(Share)).all() == []  # nothing stored for the refusals

    asyncio.run(versions.share({"title": "  For   Sam "}))
    assert versions.share_error == "" and "/share/" in versions.share_url
    [row] = versions.share_rows
    assert row.label == "Version 2 · For Sam" and row.status == "active" and row.expiry.startswith("Expires in 7 days")
    token = versions.share_url.rsplit("/", 1)[1]
    assert shares.resolve(db, token)[0].title == "For Sam"

    asyncio.run(versions.revoke(row.id))
    assert versions.share_rows[0].status == "revoked" and versions.share_rows[0].expiry == ""
    versions.share_open_change(False)
    assert (versions.share_item_id, versions.share_url) == ("", "")
