"""Data export: the archive holds every message and model file of the user and nothing of anyone else."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

from sqlmodel import Session, select

from chat3d.db.models import AccountAction, FileKind, ItemRole, Notification, OutboxMessage, StoredFile, User, utcnow
from chat3d.domain import account_actions as aa
from chat3d.domain import chats, files
from chat3d.domain.export import delete_expired_exports, run_pending_exports
from chat3d.events.types import NOTIFICATION_CREATED
from tests.domain.test_account_actions import token_from

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def make_content(db: Session, user: User, tag: str, n_chats: int = 2) -> dict:
    """Chats with a prompt, an answer with model files and code, plus an upload; returns what was made."""
    made = {"texts": [], "files": {}, "codes": []}
    for c in range(n_chats):
        ctx = chats.create_context(db, user.id, name=f"{tag} chat {c}")
        prompt = f"{tag}-prompt-{c}: a bracket 40 mm wide"
        chats.add_item(db, ctx, ItemRole.user, [{"type": "text", "text": prompt}])
        answer = chats.add_item(db, ctx, ItemRole.assistant, [{"type": "text", "text": f"{tag}-answer-{c}"}])
        refs = []
        for fmt in ("stl", "step", "py"):
            data = f"{tag}-{c}-{fmt}-bytes".encode()
            row = files.store_bytes(db, user.id, data, fmt=fmt, filename=f"part{c}.{fmt}", context_id=ctx.id,
                                    item_id=answer.id)
            refs.append({"id": str(row.id), "format": fmt, "filename": row.filename})
            made["files"][str(row.id)] = data
        code = f"# {tag} program {c}\nresult = box({c + 1}, 2, 3)\n"
        answer.segments = answer.segments + [{"type": "model", "files": refs, "code": code}]
        db.add(answer)
        made["texts"] += [prompt, f"{tag}-answer-{c}"]
        made["codes"].append(code)
    upload = files.store_bytes(db, user.id, PNG + tag.encode(), fmt="png", filename="sketch.png", kind=FileKind.upload)
    made["files"][str(upload.id)] = PNG + tag.encode()
    db.commit()
    return made


def _confirm_export(db: Session, user: User) -> None:
    aa.request_data_export(db, user)
    db.commit()
    aa.confirm_action(db, token_from(db, "data_export_confirm"))
    db.commit()


def test_export_contains_everything_of_the_user_and_nothing_else(db: Session, make_user) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    mine = make_content(db, alice, "alice")
    theirs = make_content(db, bob, "bob")
    _confirm_export(db, alice)

    assert run_pending_exports() == 1
    assert run_pending_exports() == 0, "an export is built once"
    db.expire_all()
    export = db.exec(select(StoredFile).where(StoredFile.kind == FileKind.export.value)).one()
    assert export.owner_id == alice.id and export.format == "zip"
    assert abs((export.expires_at - utcnow()) - timedelta(days=7)) < timedelta(minutes=1)
    action = db.exec(select(AccountAction).where(AccountAction.type == "data_export")).one()
    assert action.payload["export_state"] == "done" and action.payload["file_id"] == str(export.id)

    data = files.absolute_path(export).read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(data))
    blob = b"".join(zf.read(n) for n in zf.namelist())
    names = zf.namelist()
    assert "profile.json" in names and json.loads(zf.read("profile.json"))["email"] == "alice@example.com"
    messages = [m for n in names if n.endswith("chat.json") for m in json.loads(zf.read(n))["messages"]]
    assert len(messages) == 4
    message_text = json.dumps(messages)
    for text in mine["texts"]:
        assert text in message_text
    for code in mine["codes"]:
        assert code.encode() in blob
    for content in mine["files"].values():
        assert any(zf.read(n) == content for n in names), content
    assert sum(1 for n in names if n.startswith("uploads/")) == 1
    for text in theirs["texts"]:
        assert text.encode() not in blob
    for content in theirs["files"].values():
        assert content not in blob
    assert b"bob" not in blob

    note = db.exec(select(Notification).where(Notification.event_type == NOTIFICATION_CREATED)).one()
    assert note.user_id == alice.id and note.payload["url"] == f"/api/files/{export.id}"
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == "data_export_ready")).one()
    assert mail.to_email == "alice@example.com" and mail.context["download_url"].endswith(f"/api/files/{export.id}")


def test_expired_exports_are_deleted_with_their_files(db: Session, make_user) -> None:
    alice = make_user("alice@example.com")
    make_content(db, alice, "alice", n_chats=1)
    _confirm_export(db, alice)
    run_pending_exports()
    db.expire_all()
    export = db.exec(select(StoredFile).where(StoredFile.kind == FileKind.export.value)).one()
    path = files.absolute_path(export)
    assert delete_expired_exports() == 0 and path.exists()
    assert delete_expired_exports(now=utcnow() + timedelta(days=7, minutes=1)) == 1
    assert not path.exists()
    db.expire_all()
    assert db.exec(select(StoredFile).where(StoredFile.kind == FileKind.export.value)).all() == []
    assert len(db.exec(select(StoredFile)).all()) == 4, "the user's other files stay"
