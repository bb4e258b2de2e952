"""Per-node accounts and ACLs in a live Mosquitto with the dynamic-security plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiomqtt
import pytest

from citysense.brokerids import uplink_client_id
from hub.broker.dynsec import DynSec
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer
from tests.harness.ports import HarnessError

PREFIX = "citysense/v1"


@pytest.fixture
def broker() -> Iterator[MosquittoServer]:
    """A Mosquitto of this test alone with dynamic security on."""
    server = MosquittoServer(dynsec=True)
    try:
        server.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


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
