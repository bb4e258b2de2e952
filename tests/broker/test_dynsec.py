"""Per-node accounts and ACLs in a live Mosquitto with the dynamic-security plugin."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from citysense.agentconfig import AgentConfig
from citysense.brokerids import uplink_client_id
from citysense.contract import Reading
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.buffer import DurableBuffer
from edge_agent.uplink import Uplink
from hub.broker.dynsec import DynSec
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer

PREFIX = "citysense/v1"


@pytest.fixture
def broker(dynsec_broker: MosquittoServer) -> MosquittoServer:
    """Mosquitto with dynamic security, of this test alone (tests/conftest.py)."""
    return dynsec_broker


@pytest.fixture
async def dynsec(broker: MosquittoServer) -> DynSec:
    ds = DynSec(broker.host, broker.port, *DYNSEC_ADMIN, prefix=PREFIX)
    await ds.ensure_hub_account("hub", "hub-pw", "hub")
    await ds.create_node("GZ-SP-0001", "pw-a")
    await ds.create_node("GZ-SP-0002", "pw-b")
    return ds


def _client(broker: MosquittoServer, user: str, password: str, client_id: str | None = None) -> aiomqtt.Client:
    """A session of ``user`` under the client id its account is bound to (``hub`` / ``agent-<node>``)."""
    ident = client_id or (user if user == "hub" else uplink_client_id(user))
    return aiomqtt.Client(broker.host, broker.port, username=user, password=password, identifier=ident)


async def _next(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(10):
        async for msg in client.messages:
            return msg
    raise AssertionError("no message")


async def _publish_until_dropped(node: aiomqtt.Client) -> None:
    """Publish (each awaiting its PUBACK) until the broker's disconnect surfaces as MqttError."""
    async with asyncio.timeout(10):
        while True:
            await node.publish(f"{PREFIX}/GZ-SP-0001/telemetry", b"x", qos=1)


async def test_node_cannot_publish_as_another(broker: MosquittoServer, dynsec: DynSec) -> None:
    async with _client(broker, "hub", "hub-pw") as hub, _client(broker, "GZ-SP-0001", "pw-a") as node:
        await hub.subscribe(f"{PREFIX}/#", qos=1)
        await node.publish(f"{PREFIX}/GZ-SP-0002/telemetry", b"forged", qos=1)
        await node.publish(f"{PREFIX}/GZ-SP-0001/config", b"not mine to send", qos=1)
        await node.publish(f"{PREFIX}/GZ-SP-0001/telemetry", b"genuine", qos=1)
        # One publisher's messages arrive in order: the first one the hub sees is the genuine one.
        msg = await _next(hub)
        assert (str(msg.topic), msg.payload) == (f"{PREFIX}/GZ-SP-0001/telemetry", b"genuine")


async def test_node_reads_only_its_own_config(broker: MosquittoServer, dynsec: DynSec) -> None:
    async with _client(broker, "hub", "hub-pw") as hub, _client(broker, "GZ-SP-0001", "pw-a") as node:
        await node.subscribe(f"{PREFIX}/GZ-SP-0002/config", qos=1)  # refused by the broker
        await node.subscribe(f"{PREFIX}/GZ-SP-0001/config", qos=1)
        await hub.publish(f"{PREFIX}/GZ-SP-0002/config", b"other", qos=1, retain=True)
        await hub.publish(f"{PREFIX}/GZ-SP-0001/config", b"mine", qos=1, retain=True)
        msg = await _next(node)
        assert (str(msg.topic), msg.payload) == (f"{PREFIX}/GZ-SP-0001/config", b"mine")


async def test_revoked_node_is_cut_off(broker: MosquittoServer, dynsec: DynSec) -> None:
    async with _client(broker, "GZ-SP-0001", "pw-a") as node:
        await dynsec.disable("GZ-SP-0001")
        with pytest.raises(aiomqtt.MqttError):  # the live session is dropped
            await _publish_until_dropped(node)
    with pytest.raises(aiomqtt.MqttError):
        async with _client(broker, "GZ-SP-0001", "pw-a"):
            pass


async def test_rotated_credentials_work_and_old_ones_do_not(broker: MosquittoServer, dynsec: DynSec) -> None:
    await dynsec.set_password("GZ-SP-0001", "pw-new")
    with pytest.raises(aiomqtt.MqttError):
        async with _client(broker, "GZ-SP-0001", "pw-a"):
            pass
    async with _client(broker, "hub", "hub-pw") as hub, _client(broker, "GZ-SP-0001", "pw-new") as node:
        await hub.subscribe(f"{PREFIX}/#", qos=1)
        await node.publish(f"{PREFIX}/GZ-SP-0001/telemetry", b"after rotation", qos=1)
        assert (await _next(hub)).payload == b"after rotation"


async def test_accounts_survive_a_second_setup(broker: MosquittoServer, dynsec: DynSec) -> None:
    """A hub restart re-runs the set-up; a node claimed again gets a fresh password; ACLs stay."""
    await dynsec.ensure_hub_account("hub", "hub-pw-2", "hub")
    await dynsec.create_node("GZ-SP-0001", "pw-a2")
    async with _client(broker, "hub", "hub-pw-2") as hub, _client(broker, "GZ-SP-0001", "pw-a2") as node:
        await hub.subscribe(f"{PREFIX}/#", qos=1)
        await node.publish(f"{PREFIX}/GZ-SP-0002/telemetry", b"forged", qos=1)
        await node.publish(f"{PREFIX}/GZ-SP-0001/telemetry", b"genuine", qos=1)
        assert (await _next(hub)).payload == b"genuine"


async def test_node_reads_only_its_own_acknowledgments_and_cannot_forge_them(
    broker: MosquittoServer, dynsec: DynSec
) -> None:
    async with _client(broker, "hub", "hub-pw") as hub, _client(broker, "GZ-SP-0001", "pw-a") as node:
        await node.subscribe(f"{PREFIX}/+/ack", qos=1)  # a wildcard over other nodes is refused
        await node.subscribe(f"{PREFIX}/GZ-SP-0001/ack", qos=1)
        await node.publish(f"{PREFIX}/GZ-SP-0001/ack", b"forged by the node", qos=1)  # only the hub may ack
        await hub.publish(f"{PREFIX}/GZ-SP-0002/ack", b"other", qos=1, retain=True)
        await hub.publish(f"{PREFIX}/GZ-SP-0001/ack", b"mine", qos=1, retain=True)
        msg = await _next(node)
        assert (str(msg.topic), msg.payload) == (f"{PREFIX}/GZ-SP-0001/ack", b"mine")


async def test_a_role_made_before_the_ack_topic_gains_it_on_the_next_setup(broker: MosquittoServer) -> None:
    ds = DynSec(broker.host, broker.port, *DYNSEC_ADMIN, prefix=PREFIX)
    await ds.run(  # a node provisioned by an older hub: its role has no ack topic
        [
            {"command": "createRole", "rolename": "node:GZ-SP-0009"},
            {"command": "createClient", "username": "GZ-SP-0009", "password": "pw-old"},
            {"command": "addClientRole", "username": "GZ-SP-0009", "rolename": "node:GZ-SP-0009"},
        ]
    )
    await ds.ensure_hub_account("hub", "hub-pw", "hub")
    await ds.create_node("GZ-SP-0009", "pw-9")  # what a restarted or upgraded hub's provisioning does
    async with _client(broker, "hub", "hub-pw") as hub, _client(broker, "GZ-SP-0009", "pw-9") as node:
        await node.subscribe(f"{PREFIX}/GZ-SP-0009/ack", qos=1)
        await hub.publish(f"{PREFIX}/GZ-SP-0009/ack", b"acknowledged", qos=1)
        assert (await _next(node)).payload == b"acknowledged"


async def test_an_agent_refused_its_ack_topic_falls_back_to_the_brokers_puback(
    broker: MosquittoServer, tmp_path: Path
) -> None:
    ds = DynSec(broker.host, broker.port, *DYNSEC_ADMIN, prefix=PREFIX)
    await ds.run(  # a node provisioned by an older hub, not re-provisioned: it may not read its ack topic
        [
            {"command": "createRole", "rolename": "node:GZ-SP-0009"},
            {"command": "addRoleACL", "rolename": "node:GZ-SP-0009", "acltype": "publishClientSend",
             "topic": f"{PREFIX}/GZ-SP-0009/#", "allow": True},
            {"command": "createClient", "username": "GZ-SP-0009", "password": "pw-old"},
            {"command": "addClientRole", "username": "GZ-SP-0009", "rolename": "node:GZ-SP-0009"},
        ]
    )  # fmt: skip
    config = AgentConfig.model_validate(
        {
            "node_id": "GZ-SP-0009",
            "hub": {"url": broker.url, "username": "GZ-SP-0009", "password": "pw-old"},
            "connections": [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": 1}],
            "devices": [{"id": "d1", "profile": "p", "connection": "bus", "unit_id": 1}],
            "uplink": {"batch_max_wait_s": 0.1},
        }
    )
    buffer = DurableBuffer(tmp_path / "b.sqlite", "GZ-SP-0009")
    uplink = Uplink(config, buffer)
    async with asyncio.TaskGroup() as tg:
        run = tg.create_task(uplink.run())
        await asyncio.wait_for(uplink.connected.wait(), 10)
        await uplink.put([Reading(device="d1", metric="m", value=1, ts_ms=1_700_000_000_000)])
        async with asyncio.timeout(10):
            while buffer.depth():  # noqa: ASYNC110 - the buffer has no change event
                await asyncio.sleep(0.05)
        await cancel_and_wait([run], grace_s=STOP_GRACE_S)
    assert uplink.ack_refused and uplink.published_batches == 1  # sent, and forgotten at the PUBACK as before
