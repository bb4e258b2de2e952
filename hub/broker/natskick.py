"""Cut a revoked or rotated node's live MQTT sessions on every NATS member, through the system account.

A callout grant cannot be withdrawn, but a member can disconnect a client:
``$SYS.REQ.SERVER.PING.CONNZ`` with ``{"mqtt_client": <client id>}`` asks
every member for its connections of that MQTT client id, and
``$SYS.REQ.SERVER.<server id>.KICK`` with ``{"cid": <n>}`` makes one member
drop one (nats-server server/events.go, ``kickClient``; server/monitor.go,
``ConnzOptions.MQTTClient``). Both need a user of the system account. The
client's next login then meets the changed account store and is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import nats.errors
from nats.aio.client import Client as Nats

from hub.errors import BrokerError

log = logging.getLogger(__name__)
CONNZ = "$SYS.REQ.SERVER.PING.CONNZ"
KICK = "$SYS.REQ.SERVER.{}.KICK"
MAX_ANSWER_BYTES = 1024 * 1024


class SessionCutter:
    """Disconnects the sessions of given MQTT client ids on every member (a system-account connection)."""

    def __init__(self, conn: Nats, *, members: int, timeout_s: float) -> None:
        self.conn, self.members, self.timeout_s = conn, members, timeout_s

    async def _connections(self, client_id: str) -> list[tuple[str, int]]:
        """``(server id, cid)`` of every connection with that MQTT client id, from each member that answers."""
        inbox = self.conn.new_inbox()
        sub = await self.conn.subscribe(inbox, max_msgs=self.members)
        found: list[tuple[str, int]] = []
        try:
            await self.conn.publish(CONNZ, json.dumps({"mqtt_client": client_id}).encode(), reply=inbox)
            with contextlib.suppress(TimeoutError):  # a member that is down does not answer: cut on the others
                async with asyncio.timeout(self.timeout_s):
                    for _ in range(self.members):
                        msg = await sub.next_msg(timeout=self.timeout_s)
                        found += _parse(msg.data)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        return found

    async def cut(self, client_ids: list[str]) -> int:
        """Disconnect every session of ``client_ids``; return how many were cut. :class:`BrokerError` if none can be."""
        cut = 0
        try:
            for client_id in client_ids:
                for server_id, cid in await self._connections(client_id):
                    await self.conn.request(KICK.format(server_id), json.dumps({"cid": cid}).encode(), self.timeout_s)
                    cut += 1
        except (nats.errors.Error, OSError) as exc:
            raise BrokerError(f"cannot cut the live sessions of {client_ids}: {exc!r}") from exc
        return cut


def _parse(data: bytes) -> list[tuple[str, int]]:
    """The ``(server id, cid)`` pairs of one member's CONNZ answer (``{"server": {...}, "data": {...}}``)."""
    if len(data) > MAX_ANSWER_BYTES:
        return []
    try:
        body: dict[str, Any] = json.loads(data)
        server_id = str(body["server"]["id"])
        conns = (body.get("data") or {}).get("connections") or []
        return [(server_id, int(c["cid"])) for c in conns]
    except (ValueError, KeyError, TypeError):
        log.warning("a member's connection list was not understood")
        return []
