"""The hub's side of broker set-up at start: its dynamic-security session and its own two accounts."""

from __future__ import annotations

from hub.broker.dynsec import DynSec
from hub.config import HubSettings


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
    return dynsec
