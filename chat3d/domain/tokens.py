"""Single-purpose secrets sent by mail (registration, confirmation links): only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """32 random bytes, URL-safe; returns (raw token for the link, hash for the database)."""
    raw = secrets.token_urlsafe(32)
    return raw, hash_token(raw)
