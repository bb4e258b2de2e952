"""Generic webhook signed per Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from hub.notify.message import Message, http_failure, post
from hub.notify.signing import standard_webhook_signature


@dataclass
class WebhookProvider:
    """POST the event as JSON; the id is the message id, stable across retries."""

    url: str
    secret: str
    kind: str = "webhook"

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver once; any 2xx is success."""
        body = json.dumps(msg.event, ensure_ascii=False, separators=(",", ":")).encode()
        ts = int(now_s)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg.id,
            "webhook-timestamp": str(ts),
            "webhook-signature": standard_webhook_signature(self.secret, msg.id, ts, body),
        }
        resp = await post(client, "webhook", self.url, content=body, headers=headers)
        if not 200 <= resp.status_code < 300:
            raise http_failure(resp, "webhook")
        return msg.id
