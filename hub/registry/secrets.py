"""Secrets handed out once and stored only as hashes: API tokens, claim codes, MQTT passwords.

API tokens and MQTT passwords carry 256 random bits, so one SHA-256 is enough
to store them; user passwords and short claim codes are low-entropy and get
PBKDF2 (RFC 8018 §5.2) with a per-secret salt.

A claim code is looked up by what the technician types alone, so its stored
form starts with a short public tag (12 bits of the code's SHA-256) that
narrows the candidates to a few rows; each is then checked with PBKDF2.
Rows written before codes were salted hold the plain SHA-256 and still verify.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

PBKDF2_ROUNDS = 200_000
# Claim codes are single-use and die with the claim; fewer rounds keep a 1,000-row CSV import in a minute.
CLAIM_PBKDF2_ROUNDS = 50_000
CLAIM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by hand on site


def sha256(secret: str) -> str:
    """Return the hex SHA-256 of a high-entropy secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str, rounds: int = PBKDF2_ROUNDS) -> str:
    """Return ``pbkdf2$rounds$salt$hash`` for a low-entropy secret."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"pbkdf2${rounds}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


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


CLAIM_TAG_HEX = 3


def claim_code_tag(code: str) -> str:
    """The public lookup tag of a normalised claim code (the prefix of its stored form)."""
    return sha256(code)[:CLAIM_TAG_HEX]


def hash_claim_code(code: str) -> str:
    """Return ``<tag>$pbkdf2$rounds$salt$hash`` for a normalised claim code."""
    return f"{claim_code_tag(code)}${hash_password(code, CLAIM_PBKDF2_ROUNDS)}"


def verify_claim_code(code: str, stored: str) -> bool:
    """True when a normalised claim code matches its stored form (salted, or a legacy plain SHA-256)."""
    tag, sep, salted = stored.partition("$")
    if not sep:
        return hmac_equal(stored, sha256(code))
    return hmac_equal(tag, claim_code_tag(code)) and verify_password(code, salted)


def new_password() -> str:
    """Return a random MQTT password."""
    return secrets.token_urlsafe(32)


def hmac_equal(a: str, b: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())
