"""Upload abuse over real HTTP (a uvicorn process on create_api()): clear 4xx, nothing written outside storage.

The validators themselves are unit-tested in tests/domain/test_uploads.py; this drives the same cases (and
more) through the network path, multipart parsing and all, and checks the data dir before and after: a
refused upload leaves no file anywhere, an accepted one exactly one file under `<storage>/<user id>/`.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlmodel import Session

from chat3d.db.engine import engine_for, get_engine
from chat3d.db.models import User
from chat3d.domain.files import MAX_UPLOAD_BYTES
from chat3d.domain.sessions import start_session
from chat3d.settings import reset_settings_cache
from tests.conftest import TEMPLATE_DB, _admin_exec, database_url_for
from tests.events.appserver import ApiServer


def _png(w: int = 8, h: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 10)).save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real tiny JPEG with its SOF0 frame size rewritten to a huge one."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture(scope="module")
def server(pg_admin_url: str, migrated_template: str, tmp_path_factory) -> Iterator[dict]:
    name = f"chat3d_up_{uuid.uuid4().hex[:10]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    db_url = database_url_for(pg_admin_url, name)
    root = tmp_path_factory.mktemp("uploads")
    data_dir = root / "data"
    env = {
        "DATABASE_URL": db_url, "DATA_DIR": str(data_dir), "CHAT3D_ENV": "test", "REDIS_URL": "",
        "RENDER_SERVICE_URL": "http://127.0.0.1:9", "BCRYPT_ROUNDS": "4", "JWT_SECRET": "upload-test-secret-" + "x" * 32,
        "RATE_LIMIT_API": "10000/minute",
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    reset_settings_cache()
    with Session(get_engine(), expire_on_commit=False) as s:
        user = User(email="uploader@example.com")
        s.add(user)
        s.flush()
        token = start_session(s, user, ip="127.0.0.1", user_agent="pytest")
        s.commit()
    api = ApiServer(env).start(root)
    try:
        yield {"url": api.url, "headers": {"Authorization": f"Bearer {token}"}, "data_dir": data_dir, "root": root,
               "user_id": user.id}
    finally:
        api.stop()
        mp.undo()
        reset_settings_cache()
        engine_for(db_url).dispose()
        engine_for.cache_clear()
        _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _snapshot(root: Path) -> set[Path]:
    """Every file under the test's root (data dir, logs, anything a traversal could reach)."""
    return {Path(dirpath, f) for dirpath, _, names in os.walk(root) for f in names if not f.endswith(".log")}


def _upload(server: dict, filename: str, data: bytes, content_type: str = "image/png") -> httpx.Response:
    return httpx.post(f"{server['url']}/api/files", files={"file": (filename, data, content_type)},
                      headers=server["headers"], timeout=60)


REFUSED = [
    ("oversized", "big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_UPLOAD_BYTES + 1), "image/png", 400, "at most 10 MB"),
    ("empty", "empty.png", b"", "image/png", 400, "empty"),
    ("exe as png", "setup.png", b"MZ\x90\x00\x03" + b"\x00" * 200, "image/png", 400, "Only PNG, JPEG and WebP"),
    ("elf as jpg", "photo.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "image/jpeg", 400, "Only PNG, JPEG and WebP"),
    ("html as png", "page.png", b"<html><script>alert(1)</script></html>", "image/png", 400, "Only PNG, JPEG and WebP"),
    ("svg as webp", "vector.webp", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/webp", 400,
     "Only PNG, JPEG and WebP"),
    ("zip as png", "archive.png", b"PK\x03\x04" + b"\x00" * 200, "image/png", 400, "Only PNG, JPEG and WebP"),
    ("truncated png", "broken.png", _png()[:40], "image/png", 400, "could not be read"),
    ("png bomb 100k x 100k", "bomb.png", _png_claiming(100_000, 100_000), "image/png", 400, "too large"),
    ("png bomb 2^31 wide", "wide.png", _png_claiming(2**31 - 1, 1), "image/png", 400, "too large"),
    ("jpeg bomb 65k x 65k", "bomb.jpg", _jpeg_claiming(65_000, 65_000), "image/jpeg", 400, "too large"),
]


@pytest.mark.parametrize("case, filename, data, content_type, status, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_abusive_uploads_are_refused_and_leave_nothing(server, case, filename, data, content_type, status, message) -> None:
    before = _snapshot(server["root"])
    resp = _upload(server, filename, data, content_type)
    assert resp.status_code == status, (case, resp.status_code, resp.text[:200])
    assert message in resp.json()["error"], resp.json()
    assert _snapshot(server["root"]) == before, f"{case} wrote a file"


def test_a_real_25_mb_upload_is_refused_and_leaves_nothing(server) -> None:
    before = _snapshot(server["root"])
    resp = _upload(server, "huge.png", _png() + os.urandom(25 * 1024 * 1024))
    assert resp.status_code == 400 and "at most 10 MB" in resp.json()["error"]
    assert _snapshot(server["root"]) == before


def test_a_declared_length_over_the_cap_is_refused_before_reading(server) -> None:
    """A client announcing 50 MB is answered at once, whatever it then sends (raw socket: httpx fixes the length)."""
    before = _snapshot(server["root"])
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n" + _png() + b"\r\n--b--\r\n"
    host, port = server["url"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = (f"POST /api/files HTTP/1.1\r\nHost: {host}\r\nAuthorization: {server['headers']['Authorization']}\r\n"
                f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n").encode()
        sock.sendall(head + body)
        sock.settimeout(5)
        chunks = []
        while chunk := sock.recv(65536):  # headers and body may come in separate packets; the server closes
            chunks.append(chunk)
        answer = b"".join(chunks).decode("latin-1")
    assert answer.startswith("HTTP/1.1 400"), answer[:200]
    assert "at most 10 MB" in answer
    assert _snapshot(server["root"]) == before


TRAVERSAL_NAMES = [
    "../../../../evil.png", "..\\..\\..\\evil.png", "/etc/passwd", "C:\\Windows\\evil.png", "....//....//evil.png",
    "%2e%2e%2f%2e%2e%2fevil.png", "evil.png/../../x.png", ".", "..", "a" * 400 + ".png", "<script>.png",
]


def test_path_traversal_names_are_stored_under_the_users_folder_only(server) -> None:
    root: Path = server["root"]
    storage = server["data_dir"] / "files" / str(server["user_id"])
    before = _snapshot(root)
    png = _png()
    stored = []
    for name in TRAVERSAL_NAMES:
        resp = _upload(server, name, png)
        assert resp.status_code == 201, (name, resp.status_code, resp.text[:200])
        body = resp.json()
        # ".." survives as a display name (reported, harmless: the stored path is the file's uuid, and
        # downloads send it percent-encoded in filename*); no separator ever does.
        assert "/" not in body["filename"] and "\\" not in body["filename"], body
        assert len(body["filename"]) <= 120 and "<" not in body["filename"]
        stored.append(body["id"])
    new = _snapshot(root) - before
    assert len(new) == len(TRAVERSAL_NAMES)
    assert all(p.parent == storage and p.suffix == ".png" and len(p.stem) == 32 for p in new), sorted(map(str, new))
    for escaped in (root / "evil.png", root.parent / "evil.png", server["data_dir"] / "evil.png", Path("/evil.png")):
        assert not escaped.exists(), escaped
    # Downloads are named safely and never interpreted as anything but the sniffed image type.
    for fid in stored[:3]:
        resp = httpx.get(f"{server['url']}/api/files/{fid}", headers=server["headers"])
        assert resp.content == png and resp.headers["content-type"] == "image/png"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert "/" not in resp.headers["content-disposition"].split("filename*=")[1]


def test_a_real_image_with_a_dangerous_declared_type_is_served_as_the_image(server) -> None:
    resp = _upload(server, "page.html", _png(), "text/html")
    assert resp.status_code == 201 and resp.json()["format"] == "png" and resp.json()["contentType"] == "image/png"
    got = httpx.get(f"{server['url']}/api/files/{resp.json()['id']}", headers=server["headers"])
    assert got.headers["content-type"] == "image/png"
