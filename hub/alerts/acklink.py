"""Signed acknowledge links: ``/api/v1/alarms/{id}/ack-link?exp=..&by=..&sig=..``.

The signature is HMAC-SHA256 (key: the config's ``ack_secret``) over
``"{alarm id}.{exp}.{by}"``, URL-safe base64 without padding, so a link cannot
be altered to acknowledge another alarm, in someone else's name, or later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from hub.alerts.errors import BadAckLink


def _sig(secret: str, alarm_id: int, exp_s: int, by: str) -> str:
    digest = hmac.new(secret.encode(), f"{alarm_id}.{exp_s}.{by}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_link(public_url: str, secret: str, alarm_id: int, by: str, exp_s: int) -> str:
    """Return the link to put into a message."""
    sig = _sig(secret, alarm_id, exp_s, by)
    return f"{public_url.rstrip('/')}/api/v1/alarms/{alarm_id}/ack-link?exp={exp_s}&by={quote(by)}&sig={sig}"


def check_link(secret: str, alarm_id: int, exp_s: int, by: str, sig: str, now_s: float) -> None:
    """Raise :class:`BadAckLink` unless the link is authentic and not expired."""
    if not hmac.compare_digest(_sig(secret, alarm_id, exp_s, by), sig):
        raise BadAckLink("this acknowledge link is not valid")
    if now_s > exp_s:
        raise BadAckLink("this acknowledge link has expired")
