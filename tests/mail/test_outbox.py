"""The outbox: written with the change, delivered by the worker, retried through an SMTP outage, never lost."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.db.models import OutboxMessage, User
from chat3d.domain.errors import NotFound
from chat3d.domain.outbox import deliver_due_mail, enqueue_mail, list_dev_mailbox, list_outbox, read_dev_message
from chat3d.settings import reset_settings_cache
from chat3d.worker import run_outbox_worker


def _welcome(db: Session, to: str = "ann@example.com") -> OutboxMessage:
    message = enqueue_mail(db, to, "welcome", {"display_name": "Ann"})
    db.commit()
    return message


def test_without_smtp_mail_lands_in_the_dev_mailbox(db: Session, accounts_env) -> None:
    message = _welcome(db)
    assert deliver_due_mail(db) == 1
    db.refresh(message)
    assert (message.status, message.attempts, message.sent_at is not None) == ("sent", 1, True)
    folder = accounts_env / "outbox"
    eml = (folder / f"{message.id}.eml").read_text(encoding="utf-8")
    assert "Subject: Welcome to Chat3D" in eml and "To: ann@example.com" in eml
    summary = json.loads((folder / f"{message.id}.json").read_text(encoding="utf-8"))
    assert summary["to"] == "ann@example.com" and summary["links"] == ["http://localhost:3000"]
    assert list_dev_mailbox() == ([summary], 1)
    assert read_dev_message(str(message.id))["html"].startswith("<!doctype html>")
    for bad in ("../../etc/passwd", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            read_dev_message(bad)
    assert deliver_due_mail(db) == 0


def test_a_rolled_back_change_sends_nothing(db: Session, accounts_env) -> None:
    db.add(User(email="ann@example.com"))
    enqueue_mail(db, "ann@example.com", "welcome", {"display_name": "Ann"})
    db.flush()
    db.rollback()
    assert deliver_due_mail(db) == 0
    assert list_outbox(db) == ([], 0)
    assert not (accounts_env / "outbox").exists()


def test_smtp_delivery(db: Session, smtp_server) -> None:
    smtp_server.start()
    message = _welcome(db)
    assert deliver_due_mail(db) == 1
    [received] = smtp_server.inbox.messages
    assert received["To"] == "ann@example.com" and received["Subject"] == "Welcome to Chat3D"
    assert received["X-Chat3D-Message-Id"] == str(message.id)
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in received.walk() if not part.is_multipart()}
    assert "Hi Ann," in parts["text/plain"] and "Hi Ann," in parts["text/html"]
    db.refresh(message)
    assert message.status == "sent"


def test_smtp_outage_delays_mail_without_losing_it(db: Session, smtp_server, monkeypatch) -> None:
    monkeypatch.setenv("OUTBOX_RETRY_BASE_S", "0.3")
    reset_settings_cache()
    message = _welcome(db)  # the server is not running yet
    assert deliver_due_mail(db) == 1
    db.refresh(message)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "Connection refused" in message.last_error
    assert deliver_due_mail(db) == 0  # backing off
    time.sleep(0.35)
    assert deliver_due_mail(db) == 1  # still down: the wait doubles
    db.refresh(message)
    assert (message.status, message.attempts) == ("pending", 2)
    assert list_outbox(db, status="pending")[1] == 1

    smtp_server.start()
    time.sleep(0.65)
    assert deliver_due_mail(db) == 1
    db.refresh(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 3, None)
    assert [m["To"] for m in smtp_server.inbox.messages] == ["ann@example.com"]


def test_mail_fails_for_good_after_the_last_attempt(db: Session, smtp_server, monkeypatch) -> None:
    monkeypatch.setenv("OUTBOX_MAX_ATTEMPTS", "1")
    reset_settings_cache()
    message = _welcome(db)
    deliver_due_mail(db)
    db.refresh(message)
    assert message.status == "failed"
    assert list_outbox(db, status="failed")[0] == [message]


def test_parallel_workers_never_take_the_same_mail(db: Session, accounts_env) -> None:
    from chat3d.domain import outbox

    for i in range(30):
        enqueue_mail(db, f"user{i}@example.com", "welcome", {"display_name": f"U{i}"})
    db.commit()
    barrier = threading.Barrier(3)
    claims: list[set] = []

    def worker() -> None:
        with Session(get_engine(), expire_on_commit=False) as own:
            barrier.wait()
            claims.append({m.id for m in outbox._claim(own, 20)})

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(len(c) for c in claims) == 30
    assert len(set().union(*claims)) == 30


def test_a_crashed_delivery_is_claimed_again_after_its_lease(db: Session, accounts_env) -> None:
    from chat3d.domain import outbox

    message = _welcome(db)
    outbox._claim(db, 1)  # a worker took it and died before recording anything
    assert deliver_due_mail(db) == 0  # leased
    message.next_attempt_at = message.created_at  # the lease has run out
    db.add(message)
    db.commit()
    assert deliver_due_mail(db) == 1
    db.refresh(message)
    assert (message.status, message.attempts) == ("sent", 2)


async def test_worker_loop_delivers_and_stops(db: Session, accounts_env, monkeypatch) -> None:
    monkeypatch.setenv("OUTBOX_POLL_INTERVAL_S", "0.05")
    reset_settings_cache()
    stop = asyncio.Event()
    worker = asyncio.create_task(run_outbox_worker(stop))
    message = _welcome(db)
    for _ in range(100):
        await asyncio.sleep(0.05)
        db.refresh(message)
        if message.status == "sent":
            break
    stop.set()
    await asyncio.wait_for(worker, 2)
    assert message.status == "sent"
