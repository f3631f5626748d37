"""Image uploads are recognised by content, size-capped and checked for decompression bombs."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from chat3d.domain.errors import InvalidInput
from chat3d.domain.files import MAX_UPLOAD_BYTES, safe_filename, validate_image_upload


def _png(w: int = 8, h: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge size (a decompression bomb's signature)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_real_images_pass() -> None:
    assert validate_image_upload(_png()) == "png"
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    assert validate_image_upload(buf.getvalue()) == "jpeg"
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "WEBP")
    assert validate_image_upload(buf.getvalue()) == "webp"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"MZ\x90\x00 this is an exe renamed to .png", "Only PNG, JPEG and WebP"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "Only PNG, JPEG and WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "could not be read"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_UPLOAD_BYTES + 1), "at most 10 MB"),
    ],
)
def test_bad_uploads_get_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_image_upload(data)


def test_decompression_bomb_refused() -> None:
    with pytest.raises(InvalidInput, match="too large"):
        validate_image_upload(_png_claiming(100_000, 100_000))


def test_safe_filename_strips_paths() -> None:
    assert safe_filename("../../etc/passwd", "x") == "passwd"
    assert safe_filename("C:\\Users\\me\\photo.png", "x") == "photo.png"
    assert safe_filename('"<>', "fallback.png") == "fallback.png"
