"""What a delivery worker hands to a provider adapter, and the adapter protocol."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from hub.notify.errors import DeliveryFailed


@dataclass(frozen=True, slots=True)
class Message:
    """One notification to one recipient on one channel.

    ``id`` is the idempotency key: it stays the same across retries and becomes
    the ``webhook-id``, Aliyun's ``OutId`` and Tencent's ``SessionContext``.
    """

    id: str
    recipient: str
    subject: str
    text: str
    params: dict[str, str] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise for the outbox."""
        return json.dumps(
            {k: getattr(self, k) for k in ("id", "recipient", "subject", "text", "params", "event")},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Message:
        """Restore what :meth:`to_json` wrote."""
        return cls(**json.loads(text))


class Provider(Protocol):
    """A channel's adapter: one attempt, the provider's message id back, or :class:`DeliveryFailed`."""

    kind: str

    async def send(self, client: httpx.AsyncClient, msg: Message, now_s: float) -> str:
        """Deliver ``msg`` once; return the provider's id for delivery receipts."""
        ...


def http_failure(resp: httpx.Response, what: str) -> DeliveryFailed:
    """Map an HTTP error status: 408, 429 and 5xx are worth retrying, other 4xx are not."""
    retry = resp.status_code in (408, 425, 429) or resp.status_code >= 500
    return DeliveryFailed(
        f"{what}: HTTP {resp.status_code} {resp.text[:200]}", retryable=retry, code=str(resp.status_code)
    )


async def post(client: httpx.AsyncClient, what: str, url: str, **kw: Any) -> httpx.Response:
    """POST, mapping transport errors to a retryable :class:`DeliveryFailed`."""
    try:
        return await client.post(url, **kw)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{what}: {type(exc).__name__}: {exc}", retryable=True, code="transport") from exc


def json_of(resp: httpx.Response, what: str) -> dict[str, Any]:
    """Decode a JSON object reply; anything else is a retryable failure."""
    try:
        data = resp.json()
    except ValueError as exc:
        raise DeliveryFailed(f"{what}: reply is not JSON: {resp.text[:200]}", retryable=True, code="bad_reply") from exc
    if not isinstance(data, dict):
        raise DeliveryFailed(f"{what}: reply is not a JSON object", retryable=True, code="bad_reply")
    return data
