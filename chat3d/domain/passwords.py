"""Password rules and bcrypt hashing; the cost comes from the settings (12 unless a test lowers it)."""

from __future__ import annotations

import functools

import bcrypt

from chat3d.domain.errors import InvalidInput
from chat3d.settings import get_settings

MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt reads no further, and bcrypt 5 refuses longer input

# The most common passwords of at least 8 characters in public breach lists; compared case-insensitively.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "password!",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "12345678",
        "123456789",
        "1234567890",
        "12345678910",
        "0123456789",
        "87654321",
        "987654321",
        "11111111",
        "00000000",
        "88888888",
        "12341234",
        "11223344",
        "123123123",
        "123321123",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "q1w2e3r4",
        "1qaz2wsx",
        "zaq12wsx",
        "qazwsxedc",
        "qwertyui",
        "qwertyuiop",
        "qwerty123",
        "qwerty12",
        "asdfghjkl",
        "asdfasdf",
        "abc12345",
        "abcd1234",
        "aa123456",
        "iloveyou",
        "iloveyou1",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "basketball",
        "superman",
        "starwars",
        "whatever",
        "trustno1",
        "letmein1",
        "letmein123",
        "welcome1",
        "welcome123",
        "changeme",
        "changeme123",
        "admin123",
        "administrator",
        "computer",
        "internet",
        "michelle",
        "jennifer",
        "corvette",
        "mercedes",
        "chocolate",
        "butterfly",
        "liverpool",
        "football1",
        "master123",
        "monkey123",
        "dragon123",
        "shadow123",
        "secret123",
        "default1",
        "chat3d123",
        "chat3dchat3d",
    }
)


def check_password_rules(password: str) -> None:
    """Refuse passwords that are too short, too long for bcrypt, or among the most common ones."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Password must be at least {MIN_LENGTH} characters long.")
    if len(password.encode()) > MAX_BYTES:
        raise InvalidInput(f"Password must be at most {MAX_BYTES} bytes long.")
    if password.lower() in COMMON_PASSWORDS:
        raise InvalidInput("This password is too common; choose another one.")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(get_settings().bcrypt_rounds)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; without a hash it still spends one bcrypt check, so timing tells nothing."""
    usable = (
        password_hash if password_hash and password_hash.startswith("$2") else None
    )  # models.NO_PASSWORD ("!") is not a hash
    try:
        matches = bcrypt.checkpw(password.encode(), (usable or _dummy_hash(get_settings().bcrypt_rounds)).encode())
    except ValueError:  # longer than bcrypt accepts, or a malformed stored hash
        return False
    return matches and usable is not None


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(b"no account has this password", bcrypt.gensalt(rounds)).decode()
