"""Stored files: rendered models, image uploads and data exports, kept by a `Storage` (on disk under STORAGE_DIR).

Rows point at files by a path relative to the storage root; bytes never live in the database or in
Reflex state. Uploads are recognised by their content, never by their name.

Every read, write and removal of stored bytes goes through `storage()`. The one implementation is
`LocalDiskStorage`; with several app or worker replicas (Docker Swarm) every node must mount the same volume at
STORAGE_DIR (docs/deployment.md, "Shared files"). Object storage would be a second implementation of `Storage`
(a later step): callers that need a file on disk (`local_path`, for streaming downloads and zip exports) would
then stream from `open` instead.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlmodel import Session

from chat3d.db.models import FileKind, StoredFile
from chat3d.domain.errors import InvalidInput, NotFound
from chat3d.settings import get_settings

CONTENT_TYPES = {
    "stl": "model/stl",
    "step": "model/step",
    "3mf": "model/3mf",
    "glb": "model/gltf-binary",
    "py": "text/x-python; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "zip": "application/zip",
    "topology": "application/json",
    "views": "image/png",  # issue 23: the rendered views a vision model reviewed (views.png)
    "parts": "application/zip",  # issue 27: each part's STL/STEP/3MF (parts.zip), read per part (domain/parts.py)
}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000


class Storage(Protocol):
    """Bytes addressed by a relative path such as `<owner id>/<file id>.stl`; paths leaving the root are refused."""

    def put(self, rel: str, data: bytes) -> None:
        """Store atomically: readers see the old bytes or the new ones, never a part."""

    def read(self, rel: str) -> bytes: ...

    def open(self, rel: str) -> BinaryIO: ...

    def exists(self, rel: str) -> bool: ...

    def delete(self, rel: str) -> bool:
        """True when something was removed; a missing file is fine."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove everything under a folder-like prefix (a user's files)."""

    def local_path(self, rel: str) -> Path | None:
        """The file on this machine's disk, for sendfile and zip; None when the bytes live elsewhere."""


class LocalDiskStorage:
    """Files under one folder (STORAGE_DIR): a local disk, or a shared volume mounted at the same path on every node."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def _path(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if self.root not in path.parents:
            raise NotFound("No such file.")
        return path

    def put(self, rel: str, data: bytes) -> None:
        dest = self._path(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{dest.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def read(self, rel: str) -> bytes:
        return self._path(rel).read_bytes()

    def open(self, rel: str) -> BinaryIO:
        return open(self._path(rel), "rb")

    def exists(self, rel: str) -> bool:
        try:
            return self._path(rel).is_file()
        except NotFound:
            return False

    def delete(self, rel: str) -> bool:
        try:
            self._path(rel).unlink()
            return True
        except (FileNotFoundError, NotFound):
            return False

    def delete_prefix(self, prefix: str) -> None:
        folder = self._path(prefix)
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)

    def local_path(self, rel: str) -> Path | None:
        return self._path(rel)


def storage() -> Storage:
    """The configured storage (STORAGE_DIR, created on first use)."""
    root = get_settings().effective_storage_dir
    root.mkdir(parents=True, exist_ok=True)
    return LocalDiskStorage(root)


def absolute_path(f: StoredFile) -> Path:
    """The file's place on disk; refuses any stored path that would leave the storage root."""
    path = storage().local_path(f.storage_path)
    if path is None:  # pragma: no cover - no such storage yet
        raise NotFound("No such file.")
    return path


def read_bytes(f: StoredFile) -> bytes:
    """A stored file's bytes, from wherever the storage keeps them."""
    return storage().read(f.storage_path)


@dataclass(frozen=True)
class Blob:
    """Bytes already on disk under the storage root, not yet recorded in the database."""

    id: uuid.UUID
    storage_path: str
    size: int
    sha256: str


def write_blob(owner_id: uuid.UUID, data: bytes, fmt: str) -> Blob:
    """Write bytes atomically (temp file, fsync, rename); safe to run for several files in parallel threads."""
    file_id = uuid.uuid4()
    rel = f"{owner_id}/{file_id.hex}.{fmt}"
    storage().put(rel, data)
    return Blob(id=file_id, storage_path=rel, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def record_blob(
    session: Session,
    owner_id: uuid.UUID,
    blob: Blob,
    *,
    fmt: str,
    filename: str,
    kind: FileKind = FileKind.model,
    context_id: uuid.UUID | None = None,
    item_id: uuid.UUID | None = None,
    query_id: uuid.UUID | None = None,
) -> StoredFile:
    """The row for a written blob; it joins the caller's transaction."""
    row = StoredFile(
        id=blob.id,
        owner_id=owner_id,
        context_id=context_id,
        item_id=item_id,
        query_id=query_id,
        kind=kind.value,
        format=fmt,
        filename=filename,
        content_type=CONTENT_TYPES.get(fmt, "application/octet-stream"),
        size=blob.size,
        sha256=blob.sha256,
        storage_path=blob.storage_path,
    )
    session.add(row)
    session.flush()
    return row


def store_bytes(
    session: Session,
    owner_id: uuid.UUID,
    data: bytes,
    *,
    fmt: str,
    filename: str,
    kind: FileKind = FileKind.model,
    context_id: uuid.UUID | None = None,
    item_id: uuid.UUID | None = None,
    query_id: uuid.UUID | None = None,
) -> StoredFile:
    """Write bytes and record them in one call (uploads, exports)."""
    return record_blob(
        session,
        owner_id,
        write_blob(owner_id, data, fmt),
        fmt=fmt,
        filename=filename,
        kind=kind,
        context_id=context_id,
        item_id=item_id,
        query_id=query_id,
    )


def get_file(session: Session, owner_id: uuid.UUID, file_id: uuid.UUID | str) -> StoredFile:
    try:
        fid = file_id if isinstance(file_id, uuid.UUID) else uuid.UUID(str(file_id))
    except ValueError:
        raise NotFound("No such file.") from None
    row = session.get(StoredFile, fid)
    if row is None or row.owner_id != owner_id:
        raise NotFound("No such file.")
    if row.expires_at is not None:
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            raise NotFound("This download has expired.")
    return row


def delete_file(session: Session, owner_id: uuid.UUID, file_id: uuid.UUID | str) -> str:
    """Delete the row; return its storage path for removal after commit."""
    row = get_file(session, owner_id, file_id)
    session.delete(row)
    session.flush()
    return row.storage_path


def remove_stored_paths(paths: list[str]) -> int:
    """Remove files from storage (after the deleting transaction committed); missing ones are fine."""
    store = storage()
    return sum(1 for rel in paths if store.delete(rel))


def sniff_image(data: bytes) -> str | None:
    """The image format by magic bytes: png, jpeg or webp; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def validate_image_upload(data: bytes) -> str:
    """Accept a PNG, JPEG or WebP image up to 10 MB whose pixel count is sane (no decompression bombs)."""
    if not data:
        raise InvalidInput("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"Images can be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    fmt = sniff_image(data)
    if fmt is None:
        raise InvalidInput("Only PNG, JPEG and WebP images can be attached.")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InvalidInput(f"The image is too large ({width}×{height} pixels).")
            img.verify()
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise InvalidInput("The image is too large (its declared size is over the pixel limit).") from None
    except Exception:
        raise InvalidInput("The image could not be read; it may be damaged.") from None
    return fmt


def safe_filename(name: str, fallback: str) -> str:
    """A display/download name without path parts or control characters."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')[:120]
    return cleaned or fallback
