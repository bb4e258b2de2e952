"""The hub's side of broker set-up at start: its broker-admin back end and its own accounts.

``broker_admin.kind: mosquitto`` is a dynamic-security session
(hub/broker/dynsec.py); ``nats`` connects to the NATS cluster as the auth
service user, opens the account store (hub/broker/natsaccounts.py) and
answers the servers' auth callout (hub/broker/natscallout.py) for as long
as the hub runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import nats
import nats.errors
from nats.aio.client import Client as Nats
from sqlalchemy import select

from citysense.runner import cancel_and_wait
from hub.broker.admin import BrokerAdmin
from hub.broker.dynsec import DynSec
from hub.broker.natsaccounts import NatsAccounts
from hub.broker.natscallout import CalloutResponder
from hub.broker.natsjwt import AccountKey
from hub.broker.natskick import SessionCutter
from hub.cluster.errors import ClusterError
from hub.cluster.leases import open_bucket
from hub.cluster.partitions import PartitionMap
from hub.config import BrokerAdminSettings, HubSettings
from hub.errors import BrokerError
from hub.registry.accounts import NodeCredential
from hub.registry.service import Registry

log = logging.getLogger(__name__)


def _active_node_accounts(registry: Registry) -> list[str]:
    with registry.session() as s:
        return list(s.scalars(select(NodeCredential.node_id).where(NodeCredential.revoked_ms.is_(None))))


async def bind_older_nodes(admin: BrokerAdmin, registry: Registry) -> None:
    """Bind node accounts created before client ids were bound, so none can take over another session.

    Their agents' control channel (``agent-<id>-ctl`` on the uplink account)
    is refused from then on: rotating the node's credentials hands the agent
    its control account (docs/security.md, "Upgrading").
    """
    for node_id in _active_node_accounts(registry):
        try:
            if await admin.bind_uplink(node_id):
                log.warning("%s: broker account bound to its client id; rotate its credentials", node_id)
        except BrokerError as exc:
            log.warning("%s: cannot bind its broker account yet: %s", node_id, exc)


async def _connect(ba: BrokerAdminSettings, user: str, password: str, name: str) -> Nats:
    try:
        return await nats.connect(
            servers=ba.nats_urls,
            name=name,
            user=user,
            password=password,
            connect_timeout=ba.timeout_s,
            max_reconnect_attempts=-1,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise BrokerError(f"cannot connect to the NATS cluster as '{user}': {exc!r}") from exc


@contextlib.asynccontextmanager
async def nats_accounts(
    ba: BrokerAdminSettings, prefix: str, partitions: PartitionMap | None
) -> AsyncIterator[NatsAccounts]:
    """Connect as the auth service user, open the account store and answer the auth callout until exit."""
    assert ba.signing_seed is not None
    key = AccountKey(ba.signing_seed.get_secret_value())
    async with contextlib.AsyncExitStack() as stack:
        conn = await _connect(ba, ba.username, ba.password.get_secret_value(), "citysense-hub-auth")
        stack.push_async_callback(conn.close)
        cutter = None
        if ba.system_username is not None and ba.system_password is not None:
            sys_conn = await _connect(
                ba, ba.system_username, ba.system_password.get_secret_value(), "citysense-hub-sys"
            )
            stack.push_async_callback(sys_conn.close)
            cutter = SessionCutter(sys_conn, members=len(ba.nats_urls), timeout_s=ba.timeout_s)
        else:
            why = "no broker_admin.system_username: revoked nodes keep their session up to %.0f s"
            log.warning(why, ba.session_ttl_s)
        try:
            kv = await open_bucket(conn.jetstream(), ba.bucket, ba.timeout_s, replicas=ba.replicas, history=1)
        except (ClusterError, TimeoutError, nats.errors.Error) as exc:
            raise BrokerError(f"cannot open the broker account store {ba.bucket}: {exc!r}") from exc
        accounts = NatsAccounts(kv, timeout_s=ba.timeout_s, cutter=cutter)
        responder = CalloutResponder(
            conn,
            accounts,
            key,
            account=ba.account,
            prefix=prefix,
            session_ttl_s=ba.session_ttl_s,
            partitions=partitions,
        )
        async with asyncio.TaskGroup() as tg:  # the responder failing stops the hub: no login would be answered
            task = tg.create_task(responder.run(), name="hub:auth-callout")
            try:
                async with asyncio.timeout(ba.timeout_s):
                    await responder.ready.wait()
                yield accounts
            finally:
                await cancel_and_wait([task])


@contextlib.asynccontextmanager
async def broker_admin(settings: HubSettings, host: str, port: int) -> AsyncIterator[BrokerAdmin | None]:
    """With ``broker_admin``: its back end, with the hub's accounts bound to their client ids; else None."""
    ba, password = settings.broker_admin, settings.mqtt_password
    if ba is None or password is None or settings.hub_username is None:
        yield None
        return
    async with contextlib.AsyncExitStack() as stack:
        admin: BrokerAdmin
        if ba.kind == "nats":
            parts = PartitionMap(settings.cluster.partitions, settings.topic_prefix) if settings.cluster else None
            admin = await stack.enter_async_context(nats_accounts(ba, settings.topic_prefix, parts))
        else:
            admin = DynSec(
                host,
                port,
                ba.username,
                ba.password.get_secret_value(),
                prefix=settings.topic_prefix,
                timeout_s=ba.timeout_s,
                client_id=ba.client_id,
            )
        await hub_accounts(admin, settings)
        yield admin


async def hub_accounts(admin: BrokerAdmin, settings: HubSettings) -> None:
    """The hub's ingest, command and probe accounts, each bound to its client id."""
    assert settings.hub_username is not None and settings.mqtt_password is not None
    password = settings.mqtt_password.get_secret_value()
    await admin.ensure_hub_account(settings.hub_username, password, settings.mqtt_client_id)
    cmd_user, cmd_client = settings.command_account
    if cmd_user is not None and cmd_user != settings.hub_username:
        await admin.ensure_hub_account(cmd_user, password, cmd_client)
    probe_user, probe_client = settings.probe_account  # the broker watch pings the hub through the broker
    if probe_user is not None and probe_user != settings.hub_username:
        await admin.ensure_hub_account(probe_user, password, probe_client)
