"""The hub's side of broker set-up at start: its dynamic-security session and its own two accounts."""

from __future__ import annotations

import logging

from sqlalchemy import select

from hub.broker.dynsec import DynSec
from hub.config import HubSettings
from hub.errors import BrokerError
from hub.registry.accounts import NodeCredential
from hub.registry.service import Registry

log = logging.getLogger(__name__)


def _active_node_accounts(registry: Registry) -> list[str]:
    with registry.session() as s:
        return list(s.scalars(select(NodeCredential.node_id).where(NodeCredential.revoked_ms.is_(None))))


async def bind_older_nodes(dynsec: DynSec, registry: Registry) -> None:
    """Bind node accounts created before client ids were bound, so none can take over another session.

    Their agents' control channel (``agent-<id>-ctl`` on the uplink account)
    is refused from then on: rotating the node's credentials hands the agent
    its control account (docs/security.md, "Upgrading").
    """
    for node_id in _active_node_accounts(registry):
        try:
            if await dynsec.bind_uplink(node_id):
                log.warning("%s: broker account bound to its client id; rotate its credentials", node_id)
        except BrokerError as exc:
            log.warning("%s: cannot bind its broker account yet: %s", node_id, exc)


async def hub_accounts(settings: HubSettings, host: str, port: int) -> DynSec | None:
    """With ``broker_admin``: the dynamic-security session, and the hub's two accounts bound to their client ids."""
    ba, password = settings.broker_admin, settings.mqtt_password
    if ba is None or password is None or settings.hub_username is None:
        return None
    dynsec = DynSec(
        host,
        port,
        ba.username,
        ba.password.get_secret_value(),
        prefix=settings.topic_prefix,
        timeout_s=ba.timeout_s,
        client_id=ba.client_id,
    )
    cmd_user, cmd_client = settings.command_account
    await dynsec.ensure_hub_account(settings.hub_username, password.get_secret_value(), settings.mqtt_client_id)
    if cmd_user is not None and cmd_user != settings.hub_username:
        await dynsec.ensure_hub_account(cmd_user, password.get_secret_value(), cmd_client)
    probe_user, probe_client = settings.probe_account  # the broker watch pings the hub through the broker
    if probe_user is not None and probe_user != settings.hub_username:
        await dynsec.ensure_hub_account(probe_user, password.get_secret_value(), probe_client)
    return dynsec
