"""Races over HTTP on PostgreSQL: many requests released at once by a barrier, each thread its own client.

Already proven elsewhere (not repeated here):
* 50 parallel registrations with one token → exactly one account:
  tests/domain/test_registration.py::test_fifty_parallel_registrations_with_one_token_make_one_account
* 20 parallel invitations at quota → never over:
  tests/domain/test_invitations.py::test_quota_holds_under_20_parallel_requests

Here: parallel rename/delete of one chat (no 500; the final state is "deleted", items and files gone, on
disk too), parallel renames (the final name is one of those sent), and parallel submissions against the
per-user concurrency limit (never more running than allowed; the rest 429 with Retry-After).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.api import create_api
from chat3d.db.engine import get_engine
from chat3d.db.models import ChatContext, ChatItem, FileKind, ItemRole, Query, StoredFile
from chat3d.domain import chats, files
from chat3d.pipeline.jobs import set_jobs
from tests.conftest import PASSWORD
from tests.security.test_fuzz import NoJobs


def _token(api: TestClient, email: str) -> dict[str, str]:
    resp = api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    api.cookies.clear()
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def _together(n: int, call) -> list[tuple[str, int]]:
    """Run call(i, client) in n threads released together; returns (tag, status) per thread."""
    app = create_api()
    barrier = threading.Barrier(n)
    results: list[tuple[str, int]] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            barrier.wait(30)
            out = call(i, client)
        with lock:
            results.append(out)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == n, "a thread hung"
    return results


def _chat_with_items_and_files(db: Session, owner_id: uuid.UUID) -> tuple[ChatContext, list[Path]]:
    ctx = chats.create_context(db, owner_id, name="Racy chat")
    chats.add_item(db, ctx, ItemRole.user, [{"type": "text", "text": "a cube"}])
    answer = chats.add_item(db, ctx, ItemRole.assistant, [{"type": "text", "text": "here"}])
    paths = []
    for fmt in ("stl", "step", "glb"):
        row = files.store_bytes(db, owner_id, f"{fmt} bytes".encode(), fmt=fmt, filename=f"part.{fmt}",
                                kind=FileKind.model, context_id=ctx.id, item_id=answer.id)
        paths.append(files.absolute_path(row))
    db.commit()
    return ctx, paths


def test_parallel_rename_and_delete_of_one_chat_is_consistent(api: TestClient, db: Session, make_user) -> None:
    user = make_user("racer@example.com")
    headers = _token(api, "racer@example.com")
    ctx, paths = _chat_with_items_and_files(db, user.id)
    assert all(p.is_file() for p in paths)

    def call(i: int, client: TestClient) -> tuple[str, int]:
        if i % 2:
            return "delete", client.delete(f"/api/chat/contexts/{ctx.id}", headers=headers).status_code
        return "rename", client.patch(f"/api/chat/contexts/{ctx.id}", json={"name": f"name {i}"}, headers=headers).status_code

    results = _together(20, call)
    counts = Counter(results)
    assert counts[("delete", 204)] >= 1, counts
    # Every answer is a clean 2xx/404 (a rename that loses the race to a delete is a 404: the interleaving is
    # forced in test_rename_racing_a_delete_answers_404 below). Deletes are idempotent: several may answer 204.
    assert set(counts) <= {("delete", 204), ("delete", 404), ("rename", 200), ("rename", 404)}, counts

    db.expunge_all()
    assert db.get(ChatContext, ctx.id) is None
    assert db.exec(select(ChatItem).where(ChatItem.context_id == ctx.id)).all() == []
    assert db.exec(select(StoredFile).where(StoredFile.owner_id == user.id)).all() == []
    assert api.get(f"/api/chat/contexts/{ctx.id}", headers=headers).status_code == 404
    assert not [p for p in paths if p.exists()], "files of the deleted chat are still on disk"


def test_rename_racing_a_delete_answers_404(api: TestClient, db: Session, make_user, monkeypatch) -> None:
    """The interleaving forced: the rename's request loads the chat, then another request deletes it and commits."""
    user = make_user("late@example.com")
    headers = _token(api, "late@example.com")
    ctx = chats.create_context(db, user.id, name="Doomed")
    db.commit()
    original = chats.get_context
    injected = []

    def load_then_someone_deletes(session, owner_id, context_id):
        found = original(session, owner_id, context_id)
        if not injected:
            injected.append(True)
            with Session(get_engine()) as other:
                chats.delete_context(other, owner_id, context_id)
                other.commit()
        return found

    monkeypatch.setattr(chats, "get_context", load_then_someone_deletes)
    resp = TestClient(create_api(), raise_server_exceptions=False).patch(
        f"/api/chat/contexts/{ctx.id}", json={"name": "too late"}, headers=headers)
    assert injected and resp.status_code == 404, (resp.status_code, resp.text[:200])


def test_parallel_renames_leave_one_of_the_names(api: TestClient, db: Session, make_user) -> None:
    user = make_user("renamer@example.com")
    headers = _token(api, "renamer@example.com")
    ctx = chats.create_context(db, user.id, name="Before")
    db.commit()
    names = {f"name {i}" for i in range(12)}

    results = _together(12, lambda i, c: ("rename", c.patch(f"/api/chat/contexts/{ctx.id}", json={"name": f"name {i}"},
                                                            headers=headers).status_code))
    assert Counter(results) == {("rename", 200): 12}
    assert api.get(f"/api/chat/contexts/{ctx.id}", headers=headers).json()["name"] in names


def test_parallel_submissions_never_exceed_the_running_limit(api: TestClient, db: Session, make_user, monkeypatch) -> None:
    """MAX_CONCURRENT_QUERIES_PER_USER=2: of 20 simultaneous prompts exactly 2 are accepted (jobs not run)."""
    set_jobs(NoJobs())  # type: ignore[arg-type]
    try:
        user = make_user("burst@example.com")
        headers = _token(api, "burst@example.com")
        ctx = chats.create_context(db, user.id)
        db.commit()

        def call(i: int, client: TestClient) -> tuple[str, int]:
            resp = client.post("/api/query/submit", json={"contextId": str(ctx.id), "prompt": f"cube {i}"}, headers=headers)
            if resp.status_code == 429:
                assert int(resp.headers["retry-after"]) > 0
            return "submit", resp.status_code

        counts = Counter(_together(20, call))
        assert counts == {("submit", 202): 2, ("submit", 429): 18}, counts
        db.expire_all()
        assert len(db.exec(select(Query).where(Query.owner_id == user.id)).all()) == 2
        assert len(db.exec(select(ChatItem).where(ChatItem.context_id == ctx.id)).all()) == 4  # 2 prompts + 2 answers
    finally:
        set_jobs(None)
