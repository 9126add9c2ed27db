"""Public identifiers: a readable prefix and 16 random base62 characters (~95 bits)."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def make_id(prefix: str, length: int = 16) -> str:
    return f"{prefix}_{random_token(length)}"

