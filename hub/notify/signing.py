"""Request signatures of the providers, as pure functions (no clock, no randomness).

- Standard Webhooks (standardwebhooks.com, "Signature scheme"): HMAC-SHA256 of
  ``"{id}.{timestamp}.{body}"`` with the secret's bytes (``whsec_`` + base64),
  sent as ``webhook-signature: v1,<base64>``.
- Aliyun POP RPC signature v1: parameters sorted by name, each name and value
  percent-encoded per RFC 3986 (``~`` kept, space ``%20``), joined with ``&``;
  string to sign ``METHOD&%2F&<encoded query>``; HMAC-SHA1 keyed with
  ``AccessKeySecret + "&"``, base64.
- Tencent Cloud TC3-HMAC-SHA256 (API 3.0 "Signature v3"): canonical request,
  credential scope ``date/service/tc3_request``, key derived by chained HMACs.
- DingTalk group robot: HMAC-SHA256 of ``"{timestamp_ms}\\n{secret}"`` keyed with
  the secret, base64, then URL-encoded into ``&timestamp=..&sign=..``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote


def webhook_secret_bytes(secret: str) -> bytes:
    """Decode a Standard Webhooks secret (``whsec_<base64>``); other strings are used as UTF-8."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def standard_webhook_signature(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    """Return the ``webhook-signature`` header value."""
    signed = f"{msg_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(webhook_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def pop_encode(text: str) -> str:
    """Percent-encode per Aliyun POP (RFC 3986 unreserved characters kept)."""
    return quote(text, safe="-_.~")


def aliyun_signature(params: Mapping[str, str], access_key_secret: str, method: str = "POST") -> str:
    """Return the ``Signature`` parameter of an Aliyun RPC request."""
    canonical = "&".join(f"{pop_encode(k)}={pop_encode(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{pop_encode('/')}&{pop_encode(canonical)}"
    digest = hmac.new((access_key_secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    action: str,
    payload: bytes,
    timestamp_s: int,
    content_type: str = "application/json; charset=utf-8",
) -> str:
    """Return the ``Authorization`` header of a Tencent Cloud API 3.0 POST request."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp_s))
    signed_headers = "content-type;host;x-tc-action"
    canonical_headers = f"content-type:{content_type}\nhost:{host}\nx-tc-action:{action.lower()}\n"
    canonical = "\n".join(["POST", "/", "", canonical_headers, signed_headers, hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp_s), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k_date = _hmac256(("TC3" + secret_key).encode(), date)
    k_signing = _hmac256(_hmac256(k_date, service), "tc3_request")
    signature = hmac.new(k_signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Return the (not yet URL-encoded) ``sign`` parameter of a DingTalk robot URL."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
