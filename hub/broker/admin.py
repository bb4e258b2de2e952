"""The broker-admin interface: how provisioning creates, rotates and revokes broker accounts.

Two back ends implement it, chosen by ``broker_admin.kind``:
``mosquitto`` (:class:`hub.broker.dynsec.DynSec`, Mosquitto's dynamic
security) and ``nats`` (:class:`hub.broker.natsaccounts.NatsAccounts`, an
account store read by the NATS servers' auth callout). Both follow the same
identity rules (docs/security.md): a node has an uplink and a control
account (citysense/brokerids.py) with one password, each bound to one client
id, allowed its own topics only (hub/broker/acls.py); the hub's accounts
read every node's topics and send configuration, commands and
acknowledgments; an account the hub did not create under that role is never
reset (:class:`AccountConflict`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from citysense.brokerids import control_client_id, control_username, uplink_client_id
from hub.errors import BrokerError


class AccountConflict(BrokerError):
    """The broker cannot take the account: one of that name is not the hub's, or the broker forbids the name."""


class BrokerAdmin(Protocol):
    """What the hub asks of the broker's account store (each call bounded by the back end's timeout)."""

    async def ensure_hub_account(self, username: str, password: str, client_id: str) -> None:
        """Create (or reset) one of the hub's own accounts, bound to ``client_id``."""

    async def create_node(self, node_id: str, password: str) -> None:
        """Create the node's two accounts, or reset their password; nothing is left half made."""

    async def set_password(self, node_id: str, password: str) -> None:
        """Rotate: the old password is refused from now on."""

    async def disable(self, node_id: str) -> None:
        """Revoke: both accounts are refused from now on."""

    async def bind_uplink(self, node_id: str) -> bool:
        """Bind an account made before client ids were bound; True if it changed."""


def node_accounts(node_id: str) -> list[tuple[str, str]]:
    """``(username, client id)`` of a node's uplink and control accounts."""
    return [(node_id, uplink_client_id(node_id)), (control_username(node_id), control_client_id(node_id))]


async def create_together(
    accounts: list[tuple[str, str]],
    ensure: Callable[[str, str], Awaitable[bool]],
    undo: Callable[[list[str]], Awaitable[None]],
) -> list[str]:
    """``ensure`` each ``(username, client id)`` (True: created); if one fails, ``undo`` those created, then raise."""
    created: list[str] = []
    try:
        for username, client_id in accounts:
            if await ensure(username, client_id):
                created.append(username)
    except BaseException:
        if created:
            await asyncio.shield(undo(created))
        raise
    return created
