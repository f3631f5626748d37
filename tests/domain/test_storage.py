"""The storage interface (chat3d.domain.files.Storage) and its local-disk implementation.

Several app and worker replicas share one folder (a shared volume at STORAGE_DIR): writes must be atomic, paths
must stay inside the root, and every caller goes through the interface so a second implementation can replace it.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from chat3d.domain import files
from chat3d.domain.errors import NotFound


@pytest.fixture
def store(tmp_path: Path) -> files.LocalDiskStorage:
    return files.LocalDiskStorage(tmp_path / "files")


def test_put_read_open_exists_delete(store: files.LocalDiskStorage) -> None:
    store.put("u1/a.stl", b"solid a")
    assert store.exists("u1/a.stl") and store.read("u1/a.stl") == b"solid a"
    with store.open("u1/a.stl") as fh:
        assert fh.read() == b"solid a"
    store.put("u1/a.stl", b"solid b")  # replaced whole
    assert store.read("u1/a.stl") == b"solid b"
    assert store.delete("u1/a.stl") is True
    assert not store.exists("u1/a.stl") and store.delete("u1/a.stl") is False


def test_paths_outside_the_root_are_refused(store: files.LocalDiskStorage, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("not yours", encoding="utf-8")
    for bad in ("../secret.txt", "/etc/passwd", "u1/../../secret.txt", ""):
        with pytest.raises(NotFound):
            store.read(bad)
        assert store.exists(bad) is False
        assert store.delete(bad) is False
    with pytest.raises(NotFound):
        store.put("../evil.stl", b"x")
    assert not (tmp_path / "evil.stl").exists()


def test_concurrent_writers_leave_whole_files_and_no_parts(store: files.LocalDiskStorage) -> None:
    """Two replicas writing the same path: the reader sees one writer's bytes in full, no temporary file stays."""
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    threads = [threading.Thread(target=store.put, args=("u1/same.glb", p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read("u1/same.glb") in payloads
    assert [p.name for p in (store.root / "u1").iterdir()] == ["same.glb"]


def test_delete_prefix_removes_a_users_folder_only(store: files.LocalDiskStorage) -> None:
    store.put("u1/a.stl", b"a")
    store.put("u2/b.stl", b"b")
    store.delete_prefix("u1")
    assert not store.exists("u1/a.stl") and store.read("u2/b.stl") == b"b"
    with pytest.raises(NotFound):
        store.delete_prefix("..")


def test_blobs_go_through_the_configured_storage(app_env) -> None:
    """write_blob / read_bytes / remove_stored_paths use storage(): STORAGE_DIR on this machine."""
    owner = uuid.uuid4()
    blob = files.write_blob(owner, b"solid cube", "stl")
    assert blob.storage_path == f"{owner}/{blob.id.hex}.stl"
    assert files.storage().read(blob.storage_path) == b"solid cube"
    assert (files.storage().root / blob.storage_path).read_bytes() == b"solid cube"
    assert files.remove_stored_paths([blob.storage_path, blob.storage_path]) == 1
    assert not files.storage().exists(blob.storage_path)
