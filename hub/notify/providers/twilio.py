"""Twilio Programmable Messaging (``POST /2010-04-01/Accounts/{sid}/Messages.json``), basic auth, form body."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from hub.notify.errors import DeliveryFailed
from hub.notify.message import Message, json_of, post


@dataclass
class TwilioSms:
    """Send the rendered text; a status callback URL receives delivery receipts."""

    account_sid: str
    auth_token: str
    from_number: str
    status_callback: str = ""
    base_url: str = "https://api.twilio.com"
    kind: str = "twilio"

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver once; returns the message ``sid``."""
        form = {"To": msg.recipient, "From": self.from_number, "Body": msg.text}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        resp = await post(client, "twilio", url, data=form, auth=(self.account_sid, self.auth_token))
        if resp.status_code in (200, 201):
            return str(json_of(resp, "twilio").get("sid", ""))
        try:
            err = json_of(resp, "twilio")
        except DeliveryFailed:
            err = {}
        retry = resp.status_code == 429 or resp.status_code >= 500
        code = str(err.get("code", resp.status_code))
        raise DeliveryFailed(f"twilio: {code}: {err.get('message', resp.text[:200])}", retryable=retry, code=code)
