"""Read-only share links for one version.

A link carries a random token; only its SHA-256 is stored, so a database leak reveals no working link.
The public view exposes exactly one version: its metrics, its rendered files and (only when the owner
chose one) a title. Never the chat's name, its other items, the prompt, the program's brief, or the
owner. A link can expire and can be revoked; either makes every public route answer 404 (an expired link
says so, `ShareExpired`: whoever holds the token was given it, so "expired" tells them nothing new, and it
tells them to ask the owner for a new link rather than suspect a typo).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from chat3d.db.models import ChatItem, Share, StoredFile, utcnow
from chat3d.domain import parts, versions
from chat3d.domain.coerce import aware
from chat3d.domain.errors import InvalidInput, NotFound
from chat3d.domain.segments import ModelSegment
from chat3d.domain.tokens import hash_token, new_token

MAX_EXPIRY_DAYS = 365
MAX_TITLE = 200
# Formats a share offers; the program text (`py`) is the owner's work too, and shared on purpose. `png` is the
# thumbnail the share page shows. A stored `svg` (older versions) is never offered: the program wrote it.
SHARED_FORMATS = ("glb", "stl", "step", "3mf", "py", "png")


GONE = "This link does not exist or is no longer shared."


class ShareExpired(NotFound):
    """The link existed and was not revoked, but its expiry has passed (still a 404 to the public API)."""

    def __init__(self) -> None:
        super().__init__("This link has expired.")


@dataclass
class CreatedShare:
    share: Share
    token: str  # shown once; never stored


def create_share(
    session: Session,
    owner_id: uuid.UUID,
    item_id: uuid.UUID | str,
    *,
    title: str | None = None,
    expires_in_days: int | None = None,
    expires_at: datetime | None = None,
) -> CreatedShare:
    """A new link; it expires after `expires_in_days` or at `expires_at` (naive = UTC), or never."""
    item, _ = versions.get_version(session, owner_id, item_id)
    from chat3d.domain.users import clean_line  # control characters out (issue 21, item 15)

    clean_title = clean_line(title) or None
    if clean_title and len(clean_title) > MAX_TITLE:
        raise InvalidInput(f"A title can have at most {MAX_TITLE} characters.")
    if expires_in_days is not None and expires_at is not None:
        raise InvalidInput("Give the expiry either in days or as a date, not both.")
    now = utcnow()
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise InvalidInput(f"A link can last from 1 to {MAX_EXPIRY_DAYS} days.")
        expires_at = now + timedelta(days=expires_in_days)
    elif expires_at is not None:
        expires_at = aware(expires_at)
        if expires_at <= now:
            raise InvalidInput("The expiry date must be in the future.")
        if expires_at > now + timedelta(days=MAX_EXPIRY_DAYS):
            raise InvalidInput(f"A link can last at most {MAX_EXPIRY_DAYS} days.")
    token, token_hash = new_token()
    share = Share(
        owner_id=owner_id,
        item_id=item.id,
        context_id=item.context_id,
        token_hash=token_hash,
        title=clean_title,
        expires_at=expires_at,
    )
    session.add(share)
    session.flush()
    return CreatedShare(share=share, token=token)


def list_shares(session: Session, owner_id: uuid.UUID) -> list[Share]:
    return list(
        session.exec(select(Share).where(Share.owner_id == owner_id).order_by(col(Share.created_at).desc())).all()
    )


def revoke_share(session: Session, owner_id: uuid.UUID, share_id: uuid.UUID | str) -> Share:
    try:
        sid = share_id if isinstance(share_id, uuid.UUID) else uuid.UUID(str(share_id))
    except ValueError:
        raise NotFound("No such share link.") from None
    share = session.get(Share, sid)
    if share is None or share.owner_id != owner_id:
        raise NotFound("No such share link.")
    if share.revoked_at is None:
        share.revoked_at = utcnow()
        session.add(share)
        session.flush()
    return share


def is_active(share: Share, now: datetime | None = None) -> bool:
    now = now or utcnow()
    expires = aware(share.expires_at)
    return share.revoked_at is None and (expires is None or expires > now)


def is_expired(share: Share, now: datetime | None = None) -> bool:
    """Not revoked, but past its expiry."""
    expires = aware(share.expires_at)
    return share.revoked_at is None and expires is not None and expires <= (now or utcnow())


def resolve(session: Session, token: str, *, count_view: bool = False) -> tuple[Share, ChatItem, ModelSegment]:
    """The live share behind a token with its version; any problem is the same 404."""
    if not token or len(token) > 200:
        raise NotFound(GONE)
    share = session.exec(select(Share).where(Share.token_hash == hash_token(token))).first()
    if share is not None and is_expired(share):
        raise ShareExpired()
    if share is None or not is_active(share):
        raise NotFound(GONE)
    item = session.get(ChatItem, share.item_id)
    model = versions.model_of(item) if item is not None else None
    if item is None or model is None or item.owner_id != share.owner_id:
        raise NotFound(GONE)
    if count_view:
        share.views += 1
        share.last_viewed_at = utcnow()
        session.add(share)
    return share, item, model


def shared_refs(model: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in model.get("files") or [] if f.get("format") in SHARED_FORMATS]


def public_view(share: Share, model: Mapping[str, Any]) -> dict:
    """Everything the public page shows: nothing identifies the owner or the rest of the chat."""
    metrics = model.get("metrics") or {}
    keep = ("bbox_size_mm", "bbox_min_mm", "bbox_max_mm", "volume_mm3", "area_mm2", "solids", "faces", "edges", "valid")
    return {
        "title": share.title,
        "metrics": {k: metrics[k] for k in keep if k in metrics},
        # Issue 23: what was asked and whether the part meets it (labels and statuses only, no details or code).
        "requirements": [{"label": r.get("label"), "status": r.get("status")} for r in model.get("requirements") or []],
        "files": [
            {
                "id": f["id"],
                "format": f["format"],
                "filename": f.get("filename") or f"model.{f['format']}",
                "size": f.get("size", 0),
            }
            for f in shared_refs(model)
        ],
        # Issue 27: named parts, each measured, with its own files when the version has several.
        "parts": public_parts(model),
        "expiresAt": aware(share.expires_at).isoformat() if share.expires_at else None,
    }


def public_parts(model: Mapping[str, Any]) -> list[dict]:
    rows, bundle = parts.downloadable(model)
    return [
        {
            "number": r["solid"],
            "name": r["name"],
            "sizeMm": r["size"],
            "volumeMm3": r["volume"],
            "formats": list(parts.PART_FORMATS) if bundle else [],
        }
        for r in rows
    ]


def shared_file(session: Session, token: str, file_id: str) -> StoredFile:
    """A file of the shared version only; every other id is 404, whoever owns it."""
    share, _, model = resolve(session, token)
    if not any(str(f.get("id")) == str(file_id) for f in shared_refs(model)):
        raise NotFound("No such file in this share.")
    row = session.get(StoredFile, uuid.UUID(str(file_id)))
    if row is None or row.owner_id != share.owner_id:
        raise NotFound("No such file in this share.")
    return row


def shared_part(session: Session, token: str, number: str, fmt: str) -> tuple[StoredFile, ModelSegment, int]:
    """The shared version's parts.zip row, its model and the part's number (issue 27); anything else is 404."""
    share, _, model = resolve(session, token)
    n = parts.part_number(number, fmt)
    ref = parts.bundle_ref(model)
    row = session.get(StoredFile, uuid.UUID(str(ref["id"]))) if ref else None
    if row is None or row.owner_id != share.owner_id or n > len(parts.parts_of(model)):
        raise NotFound("No such part in this share.")
    return row, model, n


def owner_view(share: Share) -> dict:
    return {
        "id": str(share.id),
        "itemId": str(share.item_id),
        "contextId": str(share.context_id),
        "title": share.title,
        "createdAt": aware(share.created_at).isoformat(),
        "expiresAt": aware(share.expires_at).isoformat() if share.expires_at else None,
        "revokedAt": aware(share.revoked_at).isoformat() if share.revoked_at else None,
        "active": is_active(share),
        "expired": is_expired(share),
        "views": share.views,
    }


@dataclass
class OwnedShare:
    """One of a user's links with what its owner needs to recognise it (never the token: only its hash exists)."""

    share: Share
    chat_name: str
    version: int  # the version's number in its chat (as the Versions tab numbers it), 0 when it is gone


def list_owned(session: Session, owner_id: uuid.UUID) -> list[OwnedShare]:
    """All of a user's links, newest first, with their chat's name and version number (the profile page)."""
    from chat3d.db.models import ChatContext

    out, numbers = [], {}
    for share in list_shares(session, owner_id):
        if share.context_id not in numbers:
            ctx = session.get(ChatContext, share.context_id)
            ctx = ctx if ctx is not None and ctx.owner_id == owner_id else None
            found = versions.version_items(session, ctx) if ctx is not None else []
            numbers[share.context_id] = (ctx.name if ctx else "", {v.id: n for n, v in enumerate(found, 1)})
        name, by_item = numbers[share.context_id]
        out.append(OwnedShare(share=share, chat_name=name, version=by_item.get(share.item_id, 0)))
    return out
