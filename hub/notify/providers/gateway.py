"""A generic HTTP SMS gateway: JSON ``{"id", "to", "text"}`` with an optional bearer token."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from hub.notify.message import Message, http_failure, post


@dataclass
class HttpSmsGateway:
    """For the SMS cats and carrier gateways that take a plain JSON POST."""

    url: str
    token: str = ""
    kind: str = "http_sms"

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver once; a 2xx reply is success; the reply's ``id`` (if any) is the receipt key."""
        headers = {"Idempotency-Key": msg.id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        resp = await post(
            client, "http_sms", self.url, json={"id": msg.id, "to": msg.recipient, "text": msg.text}, headers=headers
        )
        if not 200 <= resp.status_code < 300:
            raise http_failure(resp, "http_sms")
        try:
            data = resp.json()
        except ValueError:
            return msg.id
        return str(data.get("id", msg.id)) if isinstance(data, dict) else msg.id
