"""NATS nkeys and JWTs: the account key that signs, the claims the auth callout reads and writes.

An nkey is an Ed25519 key in NATS's base32 form (a role prefix byte, the
32-byte key, a CRC-16): ``S...`` seeds, ``A...`` account and ``U...`` user
public keys (nats-io/nkeys, the ``nkeys`` package signs with a seed). A NATS
JWT is ``base64url(header).base64url(claims).base64url(signature)``, the
header ``{"typ":"JWT","alg":"ed25519-nkey"}``, the signature Ed25519 by the
issuer's nkey over the first two parts; ``jti`` is the base32 SHA-256 of the
claims without it (nats-io/jwt v2, ``ClaimsData.doEncode``). The claims used
here are the server's ``authorization_request`` and the callout's
``authorization_response`` carrying a ``user`` JWT (nats-server
server/auth_callout.go).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from typing import Any

import nacl.exceptions
import nacl.signing
import nkeys

from hub.errors import BrokerError

HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
ACCOUNT_PREFIX = "SA"  # an account seed starts so (nkeys.PREFIX_BYTE_SEED | PREFIX_BYTE_ACCOUNT)


class BadJwt(BrokerError):
    """A JWT that is malformed, not signed by its issuer, or of the wrong type."""


def new_account_seed() -> str:
    """A fresh account seed (``SA...``); its public key is the ``issuer`` of the servers' auth_callout."""
    return str(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT).decode())


class AccountKey:
    """The account nkey the callout signs user JWTs and responses with."""

    def __init__(self, seed: str) -> None:
        if not seed.startswith(ACCOUNT_PREFIX):
            raise BrokerError("the auth-callout signing key must be an account seed (SA...)")
        try:
            self._kp = nkeys.from_seed(seed.encode())
            self.public_key: str = self._kp.public_key.decode()
        except nkeys.NkeysError as exc:
            raise BrokerError(f"the auth-callout signing key is not a valid nkey seed: {exc}") from exc

    def encode(self, claims: dict[str, Any]) -> str:
        """Sign ``claims`` (``iss``, ``iat`` and ``jti`` are set here) as a NATS JWT."""
        body = {**claims, "iss": self.public_key, "iat": int(time.time())}
        body.pop("jti", None)
        body["jti"] = base64.b32encode(hashlib.sha256(_json(body)).digest()).decode().rstrip("=")
        signing_input = f"{_b64(_json(HEADER))}.{_b64(_json(body))}"
        sig: bytes = self._kp.sign(signing_input.encode())
        return f"{signing_input}.{_b64(sig)}"


def public_key_bytes(public_key: str) -> bytes:
    """The raw Ed25519 key of an nkey public key (``N...`` server, ``A...``, ``U...``), checksum verified."""
    try:
        raw = base64.b32decode(public_key + "=" * (-len(public_key) % 8))
    except (binascii.Error, ValueError) as exc:
        raise BadJwt("not a base32 nkey") from exc
    if len(raw) != 35 or nkeys.crc16(bytearray(raw[:-2])) != int.from_bytes(raw[-2:], "little"):
        raise BadJwt("not a valid nkey public key")
    return raw[1:33]


def decode(token: str, *, expect_type: str) -> dict[str, Any]:
    """The claims of a JWT signed by its own ``iss`` (a server signs its requests), of type ``expect_type``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise BadJwt("a JWT has three parts")
    try:
        claims = json.loads(_unb64(parts[1]))
        sig = _unb64(parts[2])
        key = nacl.signing.VerifyKey(public_key_bytes(str(claims["iss"])))
        key.verify(f"{parts[0]}.{parts[1]}".encode(), sig)
    except (ValueError, KeyError, TypeError, nacl.exceptions.BadSignatureError) as exc:
        raise BadJwt(f"JWT not signed by its issuer: {exc}") from exc
    if not isinstance(claims, dict) or (claims.get("nats") or {}).get("type") != expect_type:
        raise BadJwt(f"not an {expect_type} JWT")
    return claims


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
