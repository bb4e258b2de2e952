"""Provisioning on the NATS back end: real 3-node cluster, the hub's auth callout, real MQTT clients.

A node reaches only its own topics (publish telemetry, status, command
replies; read its config, commands and acknowledgments); a wrong password, a
wrong client id, a disabled account, an old password and a plain NATS login
with a node's credentials are refused; the hub's own accounts work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import nats
import nats.errors
import pytest

from citysense.brokerids import control_client_id, control_username, uplink_client_id
from hub.broker.admin import AccountConflict
from hub.broker.natsaccounts import NatsAccounts
from hub.broker.setup import nats_accounts
from tests.cluster.conftest import PARTITIONS, admin_settings
from tests.harness.nats import WORKER, NatsCluster

PREFIX = "citysense/v1"
HUB = ("citysense-hub", "hub-secret-for-tests")
SUBACK_FAILURE = 0x80  # MQTT 3.1.1 §3.9.3


@pytest.fixture
async def accounts(auth_cluster: tuple[NatsCluster, str]) -> AsyncIterator[NatsAccounts]:
    """The NATS back end, answering the callout, with the hub's ingest account in it."""
    cluster, seed = auth_cluster
    async with nats_accounts(admin_settings(cluster, seed), PREFIX, PARTITIONS) as store:
        await store.ensure_hub_account(HUB[0], HUB[1], "citysense-hub")
        yield store


def _mqtt(cluster: NatsCluster, member: int, username: str, password: str, client_id: str) -> aiomqtt.Client:
    host, port = cluster.mqtt_endpoints[member]
    return aiomqtt.Client(host, port, username=username, password=password, identifier=client_id, timeout=10)


def _failed(granted: Any) -> bool:
    codes = [int(getattr(g, "value", g)) for g in granted]
    return all(c >= SUBACK_FAILURE for c in codes)


async def _next(client: aiomqtt.Client, timeout_s: float = 10) -> aiomqtt.Message:
    async with asyncio.timeout(timeout_s):
        async for msg in client.messages:
            return msg
    raise AssertionError("the session ended")


async def _refused(cluster: NatsCluster, username: str, password: str, client_id: str) -> bool:
    try:
        async with _mqtt(cluster, 0, username, password, client_id):
            return False
    except aiomqtt.MqttError:
        return True


async def test_node_reaches_its_own_topics_and_nothing_else(
    auth_cluster: tuple[NatsCluster, str], accounts: NatsAccounts
) -> None:
    cluster, _ = auth_cluster
    node, other, pw = "GZ-A-0001", "GZ-A-0002", "node-secret-0001"
    await accounts.create_node(node, pw)
    await accounts.create_node(other, "node-secret-0002")
    worker = await nats.connect(servers=cluster.urls, user=WORKER[0], password=WORKER[1], connect_timeout=5)
    stored = await worker.subscribe("ct.>")  # where the workers read telemetry (mapped into partitions)
    async with (
        _mqtt(cluster, 0, *HUB, "citysense-hub") as hub,
        _mqtt(cluster, 1, node, pw, uplink_client_id(node)) as uplink,
        _mqtt(cluster, 2, control_username(node), pw, control_client_id(node)) as control,
    ):
        assert not _failed(await hub.subscribe(f"{PREFIX}/#", qos=1))
        for t in ("config", "ack"):
            assert not _failed(await uplink.subscribe(f"{PREFIX}/{node}/{t}", qos=1))
        assert not _failed(await control.subscribe(f"{PREFIX}/{node}/cmd", qos=1))
        for forbidden in (f"{PREFIX}/{other}/config", f"{PREFIX}/{other}/cmd", f"{PREFIX}/{other}/ack", "#"):
            assert _failed(await uplink.subscribe(forbidden, qos=1)), forbidden
        assert _failed(await uplink.subscribe(f"{PREFIX}/+/telemetry", qos=1))

        # Another node's telemetry and a config of its own are dropped; its own telemetry arrives, first.
        await uplink.publish(f"{PREFIX}/{other}/telemetry", b"forged", qos=1)
        await uplink.publish(f"{PREFIX}/{node}/config", b"forged", qos=1)
        await uplink.publish(f"{PREFIX}/{node}/telemetry", b"reading", qos=1)
        got = await stored.next_msg(timeout=10)
        assert (got.subject, got.data) == (f"ct.{PARTITIONS.partition_of(node)}.{node}.telemetry", b"reading")

        # The hub's config and acknowledgment reach the uplink, its command the control channel, and the reply back.
        await hub.publish(f"{PREFIX}/{node}/config", b"cfg", qos=1, retain=True)
        await hub.publish(f"{PREFIX}/{node}/ack", b"ack", qos=1, retain=True)
        seen = {str((await _next(uplink)).topic), str((await _next(uplink)).topic)}
        assert seen == {f"{PREFIX}/{node}/config", f"{PREFIX}/{node}/ack"}
        await hub.publish(f"{PREFIX}/{node}/cmd", b"reboot", qos=1)
        assert (await _next(control)).payload == b"reboot"
        await control.publish(f"{PREFIX}/{node}/cmd/reply", b"done", qos=1)
        topics: list[str] = []
        while len(topics) < 4 and f"{PREFIX}/{node}/cmd/reply" not in topics:  # the hub sees its own sends too
            topics.append(str((await _next(hub)).topic))
        assert f"{PREFIX}/{node}/cmd/reply" in topics
    await worker.close()


async def test_wrong_credentials_client_ids_and_disabled_accounts_are_refused(
    auth_cluster: tuple[NatsCluster, str], accounts: NatsAccounts
) -> None:
    cluster, _ = auth_cluster
    node, pw = "GZ-A-0003", "node-secret-0003"
    await accounts.create_node(node, pw)
    assert not await _refused(cluster, node, pw, uplink_client_id(node))
    assert await _refused(cluster, node, "guess", uplink_client_id(node))
    assert await _refused(cluster, node, pw, control_client_id(node))  # the uplink account under the control id
    assert await _refused(cluster, node, pw, "citysense-hub")  # nor the hub's session
    assert await _refused(cluster, "GZ-A-9999", pw, uplink_client_id("GZ-A-9999"))  # unknown account

    await accounts.set_password(node, "rotated-secret-0003")
    assert await _refused(cluster, node, pw, uplink_client_id(node))
    assert not await _refused(cluster, node, "rotated-secret-0003", uplink_client_id(node))

    await accounts.disable(node)
    assert await _refused(cluster, node, "rotated-secret-0003", uplink_client_id(node))
    assert await _refused(cluster, control_username(node), "rotated-secret-0003", control_client_id(node))
    await accounts.create_node(node, "reclaimed-secret-0003")  # a new claim enables it again
    assert not await _refused(cluster, node, "reclaimed-secret-0003", uplink_client_id(node))


async def test_node_credentials_give_no_plain_nats_login_and_no_hub_account(
    auth_cluster: tuple[NatsCluster, str], accounts: NatsAccounts
) -> None:
    cluster, _ = auth_cluster
    node, pw = "GZ-A-0004", "node-secret-0004"
    await accounts.create_node(node, pw)
    with pytest.raises((nats.errors.Error, OSError)):
        await nats.connect(
            servers=cluster.urls[:1],
            user=node,
            password=pw,
            connect_timeout=5,
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )
    with pytest.raises(AccountConflict):  # a node named like the hub's account never gets its password reset
        await accounts.create_node(HUB[0], "taken-over")
    assert not await _refused(cluster, *HUB, "citysense-hub")
    worker = await nats.connect(servers=cluster.urls, user=WORKER[0], password=WORKER[1], connect_timeout=5)
    with contextlib.suppress(nats.errors.Error):
        await worker.close()


async def test_a_node_id_the_nats_mqtt_listener_cannot_take_is_refused_at_provisioning(
    auth_cluster: tuple[NatsCluster, str], accounts: NatsAccounts
) -> None:
    # nats-server refuses MQTT client ids holding "." (server/mqtt.go, isValidName): such a node could never log in.
    cluster, _ = auth_cluster
    node = "GZ.B.0005"
    with pytest.raises(AccountConflict, match="cannot"):
        await accounts.create_node(node, "node-secret-0005")
    assert await accounts.get(node) is None and await accounts.get(control_username(node)) is None
    with pytest.raises(aiomqtt.MqttError):  # what the node would have met
        async with _mqtt(cluster, 1, *HUB, uplink_client_id(node)):
            pass


async def test_logins_go_on_when_one_hub_process_answering_the_callout_stops(
    auth_cluster: tuple[NatsCluster, str], accounts: NatsAccounts
) -> None:
    cluster, seed = auth_cluster
    node, pw = "GZ-A-0006", "node-secret-0006"
    await accounts.create_node(node, pw)
    async with nats_accounts(admin_settings(cluster, seed), PREFIX, PARTITIONS):
        assert not await _refused(cluster, node, pw, uplink_client_id(node))
    # That second worker is gone (its subscription with it); the fixture's still answers every login.
    for _ in range(3):
        assert not await _refused(cluster, node, pw, uplink_client_id(node))


async def test_revocation_and_rotation_cut_live_sessions_on_every_member(
    auth_cluster: tuple[NatsCluster, str], accounts: NatsAccounts
) -> None:
    cluster, _ = auth_cluster
    node, pw = "GZ-A-0007", "node-secret-0007"
    await accounts.create_node(node, pw)
    # Two sessions on two members; the rotation drops both (their grants would otherwise last session_ttl_s).
    async with (
        _mqtt(cluster, 1, node, pw, uplink_client_id(node)) as uplink,
        _mqtt(cluster, 2, control_username(node), pw, control_client_id(node)) as control,
    ):
        await uplink.subscribe(f"{PREFIX}/{node}/config", qos=1)
        await control.subscribe(f"{PREFIX}/{node}/cmd", qos=1)
        await accounts.set_password(node, "rotated-0007")
        for session in (uplink, control):
            with pytest.raises(aiomqtt.MqttError):
                await _next(session)
    async with _mqtt(cluster, 0, node, "rotated-0007", uplink_client_id(node)) as uplink:
        await uplink.subscribe(f"{PREFIX}/{node}/config", qos=1)
        await accounts.disable(node)
        with pytest.raises(aiomqtt.MqttError):
            await _next(uplink)
