"""Issue 12, findings 1 and 2 at the broker: accounts bound to one client id, foreign accounts never reset."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from citysense.brokerids import control_client_id, control_username, uplink_client_id
from hub.broker.dynsec import AccountConflict, DynSec
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer

PREFIX = "citysense/v1"
HUB = ("citysense-hub", "hub-pw", "citysense-hub")  # username, password, client id
A, B = "GZ-SP-0001", "GZ-SP-0002"


@pytest.fixture
def broker(dynsec_broker: MosquittoServer) -> MosquittoServer:
    """Mosquitto with dynamic security, of this test alone (tests/conftest.py)."""
    return dynsec_broker


@pytest.fixture
async def dynsec(broker: MosquittoServer) -> DynSec:
    ds = DynSec(broker.host, broker.port, *DYNSEC_ADMIN, prefix=PREFIX, timeout_s=5)
    await ds.ensure_hub_account(*HUB)
    await ds.create_node(A, "pw-a")
    await ds.create_node(B, "pw-b")
    return ds


def _client(broker: MosquittoServer, user: str, password: str, client_id: str, clean: bool = True) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host, broker.port, username=user, password=password, identifier=client_id, clean_session=clean
    )


async def _refused(broker: MosquittoServer, user: str, password: str, client_id: str) -> None:
    with pytest.raises(aiomqtt.MqttError, match=r"135|Not authorized"):
        async with _client(broker, user, password, client_id, clean=False):
            pass


async def _publish_until_dropped(client: aiomqtt.Client, where: str) -> None:
    """Publish (each awaiting its PUBACK) until the broker's disconnect surfaces as MqttError."""
    async with asyncio.timeout(10):
        while True:
            await client.publish(where, b"x", qos=1)


async def _next(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(10):
        async for msg in client.messages:
            return msg
    raise AssertionError("no message")


async def test_a_node_cannot_take_over_the_hubs_persistent_session(broker: MosquittoServer, dynsec: DynSec) -> None:
    hub_user, hub_pw, hub_id = HUB
    async with _client(broker, hub_user, hub_pw, hub_id, clean=False) as hub:
        await hub.subscribe(f"{PREFIX}/+/telemetry", qos=1)
    # The hub is away; node B's batch waits in the hub's session. Node A tries to inherit that session.
    async with _client(broker, B, "pw-b", uplink_client_id(B)) as node_b:
        await node_b.publish(f"{PREFIX}/{B}/telemetry", b"batch-1", qos=1)
        await _refused(broker, A, "pw-a", hub_id)
        await _refused(broker, control_username(A), "pw-a", hub_id)
        await node_b.publish(f"{PREFIX}/{B}/telemetry", b"batch-2", qos=1)
    async with _client(broker, hub_user, hub_pw, hub_id, clean=False) as hub:  # the session is still the hub's
        got = [(await _next(hub)).payload, (await _next(hub)).payload]
    assert got == [b"batch-1", b"batch-2"]


async def test_a_node_cannot_knock_another_node_offline(broker: MosquittoServer, dynsec: DynSec) -> None:
    async with _client(broker, B, "pw-b", uplink_client_id(B)) as node_b:
        for victim_id in (uplink_client_id(B), control_client_id(B)):
            await _refused(broker, A, "pw-a", victim_id)
        # B was never disconnected: its next publish is acknowledged on the same session.
        await node_b.publish(f"{PREFIX}/{B}/telemetry", b"still here", qos=1, timeout=5)


async def test_each_node_account_works_under_its_own_client_id_only(broker: MosquittoServer, dynsec: DynSec) -> None:
    async with (
        _client(broker, A, "pw-a", uplink_client_id(A)),
        _client(broker, control_username(A), "pw-a", control_client_id(A)),
    ):
        pass
    await _refused(broker, A, "pw-a", control_client_id(A))
    await _refused(broker, control_username(A), "pw-a", uplink_client_id(A))
    await _refused(broker, A, "pw-a", "anything-else")


async def test_node_accounts_never_reset_a_service_account(broker: MosquittoServer, dynsec: DynSec) -> None:
    """A node named after the dynsec admin or the hub: refused before any change; both still log in."""
    for name in (DYNSEC_ADMIN[0], HUB[0]):
        with pytest.raises(AccountConflict):
            await dynsec.create_node(name, "attacker-chosen")
        with pytest.raises(AccountConflict):
            await dynsec.set_password(name, "attacker-chosen")
    assert await dynsec.roles_of(DYNSEC_ADMIN[0]) == {"admin"}  # the admin still answers, with its own password
    async with _client(broker, HUB[0], HUB[1], HUB[2]):
        pass


async def test_a_failed_creation_leaves_nothing_behind(broker: MosquittoServer, dynsec: DynSec) -> None:
    """The control account's name is taken by a foreign account: the uplink account just made is removed again."""
    await dynsec.run([{"command": "createRole", "rolename": "bridge"}])
    await dynsec.run([{"command": "createClient", "username": control_username("GZ-SP-0003"), "password": "x"}])
    await dynsec.run([{"command": "addClientRole", "username": control_username("GZ-SP-0003"), "rolename": "bridge"}])
    with pytest.raises(AccountConflict):
        await dynsec.create_node("GZ-SP-0003", "pw-c")
    assert await dynsec.roles_of("GZ-SP-0003") is None
    assert await dynsec.roles_of(control_username("GZ-SP-0003")) == {"bridge"}


async def test_an_account_made_before_binding_is_bound_at_start(broker: MosquittoServer, dynsec: DynSec) -> None:
    """Older hubs created node accounts without a client id; the hub binds them (hub/broker/setup.py)."""
    old = "GZ-SP-0009"
    await dynsec.run([{"command": "createRole", "rolename": f"node:{old}"}])
    await dynsec.run([{"command": "createClient", "username": old, "password": "pw-old"}])
    await dynsec.run([{"command": "addClientRole", "username": old, "rolename": f"node:{old}"}])
    async with _client(broker, old, "pw-old", HUB[2]):  # the hole: any client id, the hub's included
        pass
    assert await dynsec.bind_uplink(old)
    assert not await dynsec.bind_uplink(old)  # once
    assert not await dynsec.bind_uplink(DYNSEC_ADMIN[0])  # never an account that is not a node's
    await _refused(broker, old, "pw-old", HUB[2])
    async with _client(broker, old, "pw-old", uplink_client_id(old)):
        pass


async def test_rotation_changes_both_accounts_and_drops_both_sessions(broker: MosquittoServer, dynsec: DynSec) -> None:
    ctl = control_username(A)
    async with _client(broker, ctl, "pw-a", control_client_id(A)) as control:
        await dynsec.set_password(A, "pw-a2")
        with pytest.raises(aiomqtt.MqttError):  # the live control session is dropped
            await _publish_until_dropped(control, f"{PREFIX}/{A}/status")
    await _refused(broker, ctl, "pw-a", control_client_id(A))
    async with _client(broker, ctl, "pw-a2", control_client_id(A)), _client(broker, A, "pw-a2", uplink_client_id(A)):
        pass
