"""Writes: checked before sending, transform inverted, read back, served ahead of polls, and over MQTT."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiomqtt
import pytest
from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.contract import Channel, Command, CommandReply, decode, encode, topic
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from edge_agent.drivers.modbus.buslock import BusLock
from edge_agent.drivers.modbus.writer import write_point
from edge_agent.errors import WriteRefused
from tests.agent.support import agent_config, modbus_tcp_server, write_site
from tests.agent.test_modbus_read import link, profile
from tests.harness import MosquittoServer

POINTS = """
- {metric: setpoint, table: holding, address: 0, type: int16, scale: 0.1, offset: -40, range: [-40, 80], writable: true}
- {metric: limit, table: holding, address: 2, type: float32, word_order: little, writable: true}
- {metric: relay2, table: holding, address: 4, type: bool, bit: 2, writable: true}
- {metric: lamp, table: coil, address: 0, type: bool, writable: true}
- {metric: mode, table: holding, address: 5, type: uint16, enum: {0: auto, 1: manual}, writable: true}
- {metric: serial, table: holding, address: 6, type: uint16}
"""


def device() -> SimDevice:
    return SimDevice(
        1,
        simdata=(
            [SimData(0, values=[0] * 4, datatype=DataType.BITS)],
            [SimData(0, values=[0] * 4, datatype=DataType.BITS)],
            [SimData(0, values=[0, 0, 0, 0, 0b1000_0001, 0, 1234], datatype=DataType.REGISTERS)],
            [SimData(0, values=[0] * 4, datatype=DataType.REGISTERS)],
        ),
    )


async def test_writes_are_checked_inverted_and_read_back() -> None:
    prof = profile(POINTS)
    async with modbus_tcp_server([device()]) as port:
        conn = link(port)
        try:
            assert await write_point(conn, prof, "setpoint", 1, 22.5) == pytest.approx(22.5)
            assert await conn.read(prof.point("setpoint").table, 1, 0, 1) == [625]  # (22.5 + 40) / 0.1
            assert await write_point(conn, prof, "limit", 1, 1013.25) == pytest.approx(1013.25)
            assert await write_point(conn, prof, "relay2", 1, True) is True
            assert await conn.read(prof.point("relay2").table, 1, 4, 1) == [0b1000_0101]  # other bits kept
            assert await write_point(conn, prof, "lamp", 1, True) is True
            assert await write_point(conn, prof, "mode", 1, 1) == 1

            for metric, value, why in [
                ("setpoint", 95.0, "outside the valid range"),
                ("mode", 7, "not a defined state"),
                ("serial", 1, "not writable"),
                ("nosuch", 1, "no point"),
            ]:
                with pytest.raises(WriteRefused, match=why):
                    await write_point(conn, prof, metric, 1, value)
            assert await conn.read(prof.point("setpoint").table, 1, 0, 1) == [625]  # the refused write sent nothing
        finally:
            await conn.close()


async def test_urgent_holders_go_before_waiting_polls() -> None:
    lock = BusLock()
    order: list[str] = []
    release = asyncio.Event()

    async def user(name: str, urgent: bool) -> None:
        async with lock.hold(urgent=urgent):
            order.append(name)
            await asyncio.sleep(0)

    async def first() -> None:
        async with lock.hold():
            await release.wait()
            order.append("first")

    async with asyncio.TaskGroup() as tg:
        tg.create_task(first())
        await asyncio.sleep(0)
        for i in range(3):
            tg.create_task(user(f"poll{i}", False))
        await asyncio.sleep(0)
        tg.create_task(user("write", True))
        await asyncio.sleep(0)
        release.set()
    assert order == ["first", "write", "poll0", "poll1", "poll2"]


async def test_a_waiter_cancelled_as_the_bus_is_released_stops_cleanly() -> None:
    """An agent stopping mid-poll: the cancel must end the waiting poller, not turn into a ValueError."""
    lock = BusLock()
    release = asyncio.Event()
    got: list[str] = []

    async def holder() -> None:
        async with lock.hold():
            await release.wait()

    async def waiter(name: str) -> None:
        async with lock.hold():
            got.append(name)

    hold = asyncio.create_task(holder())
    await asyncio.sleep(0)
    cancelled, last = asyncio.create_task(waiter("cancelled")), asyncio.create_task(waiter("last"))
    await asyncio.sleep(0)
    release.set()  # the holder releases before the cancelled waiter runs its handler
    cancelled.cancel()
    await asyncio.gather(hold, last)
    with pytest.raises(asyncio.CancelledError):  # it raised ValueError: its future was no longer queued
        await cancelled
    assert got == ["last"]


async def test_write_command_over_mqtt_is_executed_and_answered(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    write_site(tmp_path)
    (tmp_path / "profiles" / "test_counter.yaml").write_text(
        "id: test_counter\nmodel: m\nmanufacturer: m\nsource: test\ncategory: test\npoints:\n"
        + "".join(f"  {line}\n" for line in POINTS.strip().splitlines())
    )
    async with modbus_tcp_server([device()]) as port:
        cfg = agent_config(tmp_path, mosquitto.url, port)
        config, profiles = load_agent_config(cfg)
        agent = Agent(config.model_copy(update={"node_id": "NW1"}), profiles, tmp_path / "state")
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-hub-cmd") as hub:
            await hub.subscribe(topic("NW1", Channel.COMMAND_REPLY), qos=1)
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(agent.run())
                await asyncio.wait_for(agent.uplink.connected.wait(), 10)
                await asyncio.sleep(0.5)  # the command task subscribes right after connecting
                replies: dict[str, CommandReply] = {}
                expires = time.time_ns() // 1_000_000 + 60_000
                for cid, metric, value in [("w1", "setpoint", 21.0), ("w2", "setpoint", 500.0)]:
                    cmd = Command(id=cid, node="NW1", action="write", device="c1", metric=metric, value=value,
                                  expires_ms=expires)  # fmt: skip
                    await hub.publish(topic("NW1", Channel.COMMAND), encode(cmd), qos=1)
                async with asyncio.timeout(10):
                    async for message in hub.messages:
                        assert isinstance(message.payload, bytes)
                        r = decode(CommandReply, message.payload)
                        replies[r.id] = r
                        if len(replies) == 2:
                            break
                await cancel_and_wait([task], grace_s=STOP_GRACE_S)
    assert replies["w1"].ok and replies["w1"].result == pytest.approx(21.0)
    assert not replies["w2"].ok and "range" in (replies["w2"].error or "")
