"""Signed acknowledge links: ``/api/v1/alarms/{id}/ack-link?exp=..&by=..&sig=..``.

The signature is HMAC-SHA256 (RFC 2104; key: the config's ``ack_secret``) over
``"{alarm id}.{exp}.{by}"``, URL-safe base64 without padding, so a link cannot
be altered to acknowledge another alarm, in someone else's name, or later.
The page answering a link escapes everything it shows and forbids scripts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
from urllib.parse import quote

from fastapi.responses import HTMLResponse

from hub.alerts.errors import BadAckLink

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _sig(secret: str, alarm_id: int, exp_s: int, by: str) -> str:
    digest = hmac.new(secret.encode(), f"{alarm_id}.{exp_s}.{by}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_link(public_url: str, secret: str, alarm_id: int, by: str, exp_s: int) -> str:
    """Return the link to put into a message."""
    sig = _sig(secret, alarm_id, exp_s, by)
    return f"{public_url.rstrip('/')}/api/v1/alarms/{alarm_id}/ack-link?exp={exp_s}&by={quote(by)}&sig={sig}"


def check_link(secret: str, alarm_id: int, exp_s: int, by: str, sig: str, now_s: float) -> None:
    """Raise :class:`BadAckLink` unless the link is authentic and not expired (any text as ``sig``: bytes compared)."""
    if not hmac.compare_digest(_sig(secret, alarm_id, exp_s, by).encode(), sig.encode("utf-8", "replace")):
        raise BadAckLink("this acknowledge link is not valid")
    if now_s > exp_s:
        raise BadAckLink("this acknowledge link has expired")


def page(status: int, text: str) -> HTMLResponse:
    """A minimal page with ``text`` escaped, under a policy that runs no script and cannot be framed."""
    body = f'<!doctype html><meta charset="utf-8"><title>CitySense</title><p>{html.escape(text)}</p>'
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
