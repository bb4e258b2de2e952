"""Secrets handed out once and stored only as hashes: API tokens, claim codes, MQTT passwords.

API tokens and MQTT passwords carry 256 random bits, so one SHA-256 is enough
to store them; user passwords and short claim codes are low-entropy and get
PBKDF2 (RFC 8018) with a per-secret salt.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

PBKDF2_ROUNDS = 200_000
CLAIM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by hand on site


def sha256(secret: str) -> str:
    """Return the hex SHA-256 of a high-entropy secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """Return ``pbkdf2$rounds$salt$hash`` for a low-entropy secret."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS)
    return f"pbkdf2${PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches a :func:`hash_password` result."""
    try:
        _, rounds, salt, digest = stored.split("$")
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


@functools.cache
def dummy_hash() -> str:
    """A hash of nothing anybody knows: checking an unknown user's password against it costs the same work."""
    return hash_password(secrets.token_urlsafe(16))


def new_token() -> tuple[str, str, str]:
    """Return ``(token id, secret, full token)``; the full token is ``cs_<id>_<secret>``."""
    tid = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return tid, secret, f"cs_{tid}_{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """Return ``(id, secret)`` of a well-formed token, else ``None`` (the caller answers 401)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "cs" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def new_claim_code() -> str:
    """Return a short code a technician types: ``XXXX-XXXX`` (40 bits)."""
    raw = "".join(secrets.choice(CLAIM_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_claim_code(code: str) -> str:
    """Upper-case and re-dash a typed claim code."""
    raw = "".join(c for c in code.upper() if c.isalnum())
    return f"{raw[:4]}-{raw[4:]}"


def new_password() -> str:
    """Return a random MQTT password."""
    return secrets.token_urlsafe(32)


def hmac_equal(a: str, b: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())
