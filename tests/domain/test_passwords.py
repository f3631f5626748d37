"""Password rules and hashing: cost 12 by default, lower only in the test environment."""

from __future__ import annotations

import bcrypt
import pytest
from pydantic import ValidationError

from chat3d.domain.errors import InvalidInput
from chat3d.domain.passwords import check_password_rules, hash_password, verify_password
from chat3d.settings import Settings, reset_settings_cache


def test_default_bcrypt_cost_is_12(monkeypatch) -> None:
    monkeypatch.delenv("BCRYPT_ROUNDS", raising=False)
    reset_settings_cache()
    try:
        hashed = hash_password("correct horse battery")
        assert bcrypt.checkpw(b"correct horse battery", hashed.encode())
        assert hashed.startswith("$2b$12$")
    finally:
        reset_settings_cache()


def test_low_cost_is_refused_outside_tests(monkeypatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("CHAT3D_ENV", "development")
    with pytest.raises(ValidationError, match="BCRYPT_ROUNDS"):
        Settings(_env_file=None)
    monkeypatch.setenv("CHAT3D_ENV", "test")
    assert Settings(_env_file=None).bcrypt_rounds == 4


@pytest.mark.parametrize("password", ["short", "password123", "PASSWORD123", "12345678", "é" * 40])
def test_weak_or_overlong_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput):
        check_password_rules(password)


def test_verify(accounts_env) -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$2b$04$")
    assert verify_password("correct horse battery", hashed)
    assert not verify_password("wrong horse battery", hashed)
    assert not verify_password("correct horse battery", None)
    assert not verify_password("x" * 100, hashed)
    assert not verify_password("correct horse battery", "not-a-hash")
