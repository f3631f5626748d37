"""scripts/backup.sh and scripts/restore.sh: back up a database with data and its stored files, restore into a
fresh database and data dir, and find everything (rows, file bytes, ids, sequences, schema version)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from chat3d.db.engine import engine_for
from chat3d.db.migrate import upgrade_to_head
from chat3d.db.models import ChatItem, FileKind, ItemRole, Notification, StoredFile, User
from chat3d.domain import chats, files
from chat3d.domain.passwords import hash_password, verify_password
from chat3d.events import store
from chat3d.events import types as T
from chat3d.settings import REPO_ROOT, reset_settings_cache
from tests.conftest import _admin_exec, database_url_for

PASSWORD = "backup horse battery"


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = dict(os.environ) | {"CHAT3D_ENV": "test"} | env
    return subprocess.run([str(REPO_ROOT / "scripts" / script), *args], cwd=REPO_ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


def _seed(url: str, data_dir: Path, monkeypatch) -> dict:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    reset_settings_cache()
    with Session(engine_for(url), expire_on_commit=False) as s:
        user = User(email="keeper@example.com", password_hash=hash_password(PASSWORD))
        s.add(user)
        s.flush()
        ctx = chats.create_context(s, user.id, name="Backed-up bracket")
        chats.add_item(s, ctx, ItemRole.user, [{"type": "text", "text": "a 40 mm bracket"}])
        stl = files.store_bytes(s, user.id, b"solid bracket\n" * 100, fmt="stl", filename="bracket.stl", context_id=ctx.id)
        png = files.store_bytes(s, user.id, b"\x89PNG fake", fmt="png", filename="sketch.png", kind=FileKind.upload)
        note = store.record_event(s, user.id, T.NOTIFICATION_CREATED, {"title": "hello"}, publish=False)
        s.commit()
        return {"user": user.id, "ctx": ctx.id, "files": {stl.id: b"solid bracket\n" * 100, png.id: b"\x89PNG fake"},
                "note": note.id}


def test_backup_then_restore_into_a_fresh_database_and_data_dir(pg_admin_url, fresh_database, tmp_path, monkeypatch) -> None:
    source_dir = tmp_path / "source-data"
    seeded = _seed(fresh_database, source_dir, monkeypatch)
    out = tmp_path / "backups"

    backup = _run("backup.sh", str(out), env={"DATABASE_URL": fresh_database, "DATA_DIR": str(source_dir)})
    assert backup.returncode == 0, backup.stderr + backup.stdout
    [made] = list(out.iterdir())
    assert {p.name for p in made.iterdir()} == {"db.dump", "files.tar.gz", "MANIFEST"}
    assert "(2 files)" in (made / "MANIFEST").read_text(encoding="utf-8")

    target = f"chat3d_restore_{uuid.uuid4().hex[:10]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {target}")  # empty: no schema at all
    target_url = database_url_for(pg_admin_url, target)
    target_dir = tmp_path / "restored-data"
    env = {"DATABASE_URL": target_url, "DATA_DIR": str(target_dir)}
    try:
        restore = _run("restore.sh", str(made), env=env)
        assert restore.returncode == 0, restore.stderr + restore.stdout

        monkeypatch.setenv("DATABASE_URL", target_url)
        monkeypatch.setenv("DATA_DIR", str(target_dir))
        reset_settings_cache()
        upgrade_to_head(target_url)  # already at head: a no-op that proves alembic_version came along
        with Session(engine_for(target_url)) as s:
            user = s.get(User, seeded["user"])
            assert user.email == "keeper@example.com" and verify_password(PASSWORD, user.password_hash)
            ctx = chats.get_context(s, user.id, seeded["ctx"])
            assert ctx.name == "Backed-up bracket"
            assert [chats.text_of(i) for i in s.exec(select(ChatItem).where(ChatItem.context_id == ctx.id)).all()] == ["a 40 mm bracket"]
            for fid, data in seeded["files"].items():
                row = s.get(StoredFile, fid)
                path = files.absolute_path(row)
                assert path.is_relative_to(target_dir) and path.read_bytes() == data
            assert s.get(Notification, seeded["note"]).payload == {"title": "hello"}
            # Sequences came along: a new event gets a later id than any restored one.
            newer = store.record_event(s, user.id, T.NOTIFICATION_CREATED, {"title": "after restore"}, publish=False)
            s.commit()
            assert newer.id > seeded["note"]

        # A second restore over live data is refused without --force, and works with it.
        again = _run("restore.sh", str(made), env=env)
        assert again.returncode == 4 and "has users" in again.stderr
        forced = _run("restore.sh", str(made), "--force", env=env)
        assert forced.returncode == 0, forced.stderr
        with engine_for(target_url).connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM notifications")).scalar() == 1  # back to the backup
    finally:
        engine_for(target_url).dispose()
        engine_for.cache_clear()
        reset_settings_cache()
        _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {target} WITH (FORCE)")


def test_a_corrupted_backup_is_refused(pg_admin_url, fresh_database, tmp_path, monkeypatch) -> None:
    source_dir = tmp_path / "src"
    _seed(fresh_database, source_dir, monkeypatch)
    out = tmp_path / "b"
    assert _run("backup.sh", str(out), env={"DATABASE_URL": fresh_database, "DATA_DIR": str(source_dir)}).returncode == 0
    [made] = list(out.iterdir())
    with open(made / "files.tar.gz", "r+b") as fh:
        fh.seek(20)
        fh.write(b"\x00\xff\x00\xff")
    result = _run("restore.sh", str(made), env={"DATABASE_URL": fresh_database, "DATA_DIR": str(tmp_path / "t")})
    assert result.returncode == 3 and "checksum" in result.stderr


def test_embedded_sqlite_backup_and_restore(tmp_path, monkeypatch) -> None:
    source_dir = tmp_path / "sqlite-src"
    source_dir.mkdir()
    url = f"sqlite:///{source_dir / 'chat3d.db'}"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    upgrade_to_head(url)
    seeded = _seed(url, source_dir, monkeypatch)
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the embedded default: DATA_DIR/chat3d.db
    out = tmp_path / "b"
    backup = _run("backup.sh", str(out), env={"DATABASE_URL": "", "DATA_DIR": str(source_dir)})
    assert backup.returncode == 0, backup.stderr
    [made] = list(out.iterdir())
    assert (made / "db.sqlite3").is_file()
    target_dir = tmp_path / "sqlite-dst"
    restore = _run("restore.sh", str(made), env={"DATABASE_URL": "", "DATA_DIR": str(target_dir)})
    assert restore.returncode == 0, restore.stderr
    restored_url = f"sqlite:///{target_dir / 'chat3d.db'}"
    try:
        with Session(engine_for(restored_url)) as s:
            assert s.get(User, seeded["user"]).email == "keeper@example.com"
            for fid, data in seeded["files"].items():
                assert (target_dir / "files" / s.get(StoredFile, fid).storage_path).read_bytes() == data
    finally:
        engine_for(restored_url).dispose()
        engine_for(url).dispose()
        engine_for.cache_clear()
        reset_settings_cache()


@pytest.fixture(autouse=True)
def _cheap_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("CHAT3D_ENV", "test")
    reset_settings_cache()
    yield
    reset_settings_cache()
