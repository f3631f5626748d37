"""Data exports: a ZIP of everything a user has, built by a worker after they confirm the request.

The archive holds `profile.json`, one folder per chat (`chat.json` with every message and its full
segments, `transcript.md`, the model files and each generated program as `.py`), the user's uploads and
a README. It is stored as a `StoredFile` of kind `export` that expires after 7 days; the user is mailed
and notified with the download link `/api/files/{id}`. Expired archives are deleted by a periodic job.

Everything is selected by `owner_id`, so nothing of another user can end up in an archive.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chat3d.db.engine import get_engine
from chat3d.db.models import (
    AccountAction,
    ActionStatus,
    ActionType,
    ChatContext,
    ChatItem,
    FileKind,
    Invitation,
    StoredFile,
    User,
    utcnow,
)
from chat3d.domain import dates, files, segments
from chat3d.domain.outbox import enqueue_mail
from chat3d.events.store import record_event
from chat3d.events.types import NOTIFICATION_CREATED
from chat3d.settings import get_settings

log = logging.getLogger("chat3d.export")

EXPORT_TTL = timedelta(days=7)
EXPORT_QUEUED = "queued"
EXPORT_DONE = "done"
EXPORT_FAILED = "failed"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()[:limit].strip("-")
    return slug or "chat"


def _safe_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9._-]+", "_", name).strip("._") or "file"


def _profile(session: Session, user: User) -> dict[str, Any]:
    invitations = session.exec(select(Invitation).where(Invitation.inviter_id == user.id)).all()
    return {
        "id": str(user.id),
        "email": user.email,
        "displayName": user.display_name,
        "role": user.role,
        "status": user.status,
        "marketingConsent": user.marketing_consent,
        "createdAt": _iso(user.created_at),
        "lastLoginAt": _iso(user.last_login_at),
        "invitationsSent": [
            {"email": i.email, "status": i.status, "createdAt": _iso(i.created_at)} for i in invitations
        ],
    }


def _item_dict(item: ChatItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "role": item.role,
        "createdAt": _iso(item.created_at),
        "updatedAt": _iso(item.updated_at),
        "rating": item.rating,
        "regeneratedFromId": str(item.regenerated_from_id) if item.regenerated_from_id else None,
        "segments": item.segments,
    }


def _transcript(ctx: ChatContext, items: list[ChatItem]) -> str:
    lines = [f"# {ctx.name}", ""]
    for item in items:
        lines.append(f"## {item.role} · {_iso(item.created_at)}")
        for seg in item.segments or []:
            kind = seg.get("type") if isinstance(seg, dict) else None
            if kind == segments.TEXT:
                lines += ["", seg.get("text", "")]
            elif kind == segments.MODEL:
                names = ", ".join(f.get("filename", "") for f in seg.get("files", []))
                lines += ["", f"*Model:* {names}" if names else "*Model*"]
            elif kind == segments.ERROR:
                lines += ["", f"*Error:* {seg.get('message') or seg.get('text') or ''}"]
        lines.append("")
    return "\n".join(lines)


def write_export_zip(session: Session, user: User, dest) -> dict[str, int]:
    """Write the user's archive into the open binary file `dest`; returns counts of what went in."""
    counts = {"chats": 0, "messages": 0, "files": 0, "sources": 0, "uploads": 0, "missing_files": 0}
    owned_files = session.exec(
        select(StoredFile)
        .where(StoredFile.owner_id == user.id, StoredFile.kind != FileKind.export.value)
        .order_by(col(StoredFile.created_at))
    ).all()
    files_by_context: dict[uuid.UUID | None, list[StoredFile]] = {}
    for f in owned_files:
        files_by_context.setdefault(f.context_id if f.kind == FileKind.model.value else None, []).append(f)

    def add_stored(zf: zipfile.ZipFile, f: StoredFile, folder: str) -> bool:
        try:
            path = files.absolute_path(f)
        except Exception:
            path = None
        if path is None or not path.is_file():
            counts["missing_files"] += 1
            return False
        zf.write(path, f"{folder}/{f.id.hex[:8]}-{_safe_name(f.filename)}")
        return True

    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("profile.json", json.dumps(_profile(session, user), indent=2, ensure_ascii=False))
        contexts = session.exec(
            select(ChatContext).where(ChatContext.owner_id == user.id).order_by(col(ChatContext.created_at))
        ).all()
        chat_index = []
        for n, ctx in enumerate(contexts, start=1):
            folder = f"chats/{n:03d}-{_slug(ctx.name)}"
            items = list(
                session.exec(
                    select(ChatItem)
                    .where(ChatItem.context_id == ctx.id, ChatItem.owner_id == user.id)
                    .order_by(col(ChatItem.created_at), col(ChatItem.id))
                ).all()
            )
            zf.writestr(
                f"{folder}/chat.json",
                json.dumps(
                    {
                        "id": str(ctx.id),
                        "name": ctx.name,
                        "units": ctx.units,
                        "createdAt": _iso(ctx.created_at),
                        "conversationModelId": ctx.conversation_model_id,
                        "codegenModelId": ctx.codegen_model_id,
                        "messages": [_item_dict(i) for i in items],
                    },
                    indent=2,
                    ensure_ascii=False,
                ),
            )
            zf.writestr(f"{folder}/transcript.md", _transcript(ctx, items))
            for item in items:
                for k, seg in enumerate(item.segments or []):
                    if isinstance(seg, dict) and seg.get("type") == segments.MODEL and seg.get("code"):
                        zf.writestr(f"{folder}/source/{item.id.hex[:8]}-{k}.py", str(seg["code"]))
                        counts["sources"] += 1
            for f in files_by_context.pop(ctx.id, []):
                counts["files"] += add_stored(zf, f, f"{folder}/files")
            counts["chats"] += 1
            counts["messages"] += len(items)
            chat_index.append({"folder": folder, "id": str(ctx.id), "name": ctx.name, "messages": len(items)})
        for rest in files_by_context.values():  # uploads, and models whose chat is gone
            for f in rest:
                if f.kind == FileKind.upload.value:
                    counts["uploads"] += add_stored(zf, f, "uploads")
                else:
                    counts["files"] += add_stored(zf, f, "files")
        zf.writestr("chats/index.json", json.dumps(chat_index, indent=2, ensure_ascii=False))
        zf.writestr(
            "README.txt",
            (
                f"Chat3D data export for {user.email}, made {_iso(utcnow())}.\n\n"
                "profile.json          your account\n"
                "chats/<n>-<name>/     one folder per chat: chat.json (every message, in full), transcript.md,\n"
                "                      files/ (model files: STL, STEP, 3MF, GLB, source) and source/ (each program)\n"
                "uploads/              images you attached\n"
            ),
        )
    return counts


def build_export(session: Session, user: User, *, now: datetime | None = None) -> StoredFile:
    """Build and store the archive (row joins the caller's transaction; the file is on disk already)."""
    with tempfile.TemporaryFile() as tmp:
        write_export_zip(session, user, tmp)
        tmp.seek(0)
        data = tmp.read()
    stamp = (now or utcnow()).strftime("%Y%m%d-%H%M")
    row = files.store_bytes(
        session, user.id, data, fmt="zip", filename=f"chat3d-export-{stamp}.zip", kind=FileKind.export
    )
    row.expires_at = (now or utcnow()) + EXPORT_TTL
    session.add(row)
    session.flush()
    return row


def _queued(session: Session) -> AccountAction | None:
    query = (
        select(AccountAction)
        .where(
            AccountAction.type == ActionType.data_export.value,
            AccountAction.status == ActionStatus.completed.value,
            AccountAction.payload["export_state"].as_string() == EXPORT_QUEUED,
        )
        .order_by(col(AccountAction.completed_at))
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.exec(query).first()


def run_pending_exports(limit: int = 5) -> int:
    """Build up to `limit` confirmed exports, one transaction each (safe on several workers); returns how many."""
    done = 0
    for _ in range(limit):
        with Session(get_engine(), expire_on_commit=False) as session:
            action = _queued(session)
            if action is None:
                return done
            user = session.get(User, action.user_id)
            stored_path = None
            try:
                if user is None:  # cannot be: the action is deleted with its user (CASCADE); fails like any error
                    raise LookupError(f"no user {action.user_id}")
                row = build_export(session, user)
                stored_path = row.storage_path
                _announce(session, user, row)
                action.payload = {**action.payload, "export_state": EXPORT_DONE, "file_id": str(row.id)}
                session.add(action)
                session.commit()
                log.info("data export %s built for user %s (%d bytes)", row.id, user.id, row.size)
            except Exception:
                log.exception("data export for user %s failed", action.user_id)
                session.rollback()
                if stored_path:
                    files.remove_stored_paths([stored_path])
                _mark_failed(action.id)
            done += 1
    return done


def _mark_failed(action_id: uuid.UUID) -> None:
    with Session(get_engine()) as session:
        action = session.get(AccountAction, action_id)
        if action is not None:
            action.payload = {**action.payload, "export_state": EXPORT_FAILED}
            session.add(action)
            session.commit()


def _announce(session: Session, user: User, row: StoredFile) -> None:
    url = f"/api/files/{row.id}"
    assert row.expires_at is not None  # build_export sets it
    until = dates.long_stamp(row.expires_at)
    record_event(
        session,
        user.id,
        NOTIFICATION_CREATED,
        {
            "kind": "data_export",
            "title": "Your data export is ready",
            "text": f"Download your archive ({row.size // 1024 + 1} KB) until {until}.",
            "url": url,
            "fileId": str(row.id),
            "expiresAt": _iso(row.expires_at),
        },
    )
    enqueue_mail(
        session,
        user.email,
        "data_export_ready",
        {
            "display_name": user.display_name or user.email,
            "until": until,
            "download_url": f"{get_settings().public_base_url}{url}",
        },
        user_id=user.id,
    )


def delete_expired_exports(*, now: datetime | None = None, batch: int = 200) -> int:
    """Delete export archives past `expires_at` (rows first, files after the commit); returns how many."""
    removed = 0
    while True:
        with Session(get_engine(), expire_on_commit=False) as session:
            query = (
                select(StoredFile)
                .where(
                    StoredFile.kind == FileKind.export.value,
                    col(StoredFile.expires_at).is_not(None),
                    col(StoredFile.expires_at) <= (now or utcnow()),
                )
                .limit(batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(session.exec(query).all())
            if not rows:
                return removed
            paths = [r.storage_path for r in rows]
            session.execute(sa.delete(StoredFile).where(col(StoredFile.id).in_([r.id for r in rows])))
            session.commit()
        files.remove_stored_paths(paths)
        removed += len(rows)
        log.info("deleted %d expired data exports", len(rows))
        if len(rows) < batch:
            return removed


EXPORT_POLL_S = 5.0


async def run_export_jobs(stop_event) -> None:
    """Periodic job (chat3d.worker JOBS): build confirmed exports within a few seconds of confirmation."""
    import asyncio

    while not stop_event.is_set():
        try:
            await asyncio.to_thread(run_pending_exports)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("data export round failed")
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=EXPORT_POLL_S)
        except TimeoutError:
            pass
