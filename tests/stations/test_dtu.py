"""A 4G DTU site over real TCP: registration, heartbeats between replies, Modbus RTU polled with the agent's poller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.stations.base import Control, Refusal
from hub.stations.directory import StationDevice, StationDirectory, StationSpec
from hub.stations.dtu.framer import DtuFramer
from hub.stations.settings import ListenerSettings
from hub.store.sqlite import SqliteStore
from simulator.fleet import SimulatedNode
from simulator.stations.dtu import SimulatedDtu
from tests.stations.conftest import Gateway, running_gateway

IMEI = "866262040000001"
# A Modbus RTU reply: unit 1, FC 3, 2 bytes, 0x0102, and its CRC (Modbus over Serial Line V1.02 §6.2.2).
RTU_REPLY = bytes.fromhex("0103020102") + bytes.fromhex("3815")


def test_registration_heartbeats_and_replies_are_told_apart() -> None:
    framer = DtuFramer(b"REG:", b"HB")
    (reg,) = framer.feed(b"REG:" + IMEI.encode() + b"\r\n")
    assert isinstance(reg, Control) and (reg.station, reg.function) == (IMEI, "register")
    events = framer.feed(b"HB" + RTU_REPLY[:3])
    events += framer.feed(RTU_REPLY[3:] + b"H")
    events += framer.feed(b"B")
    assert [e.function for e in events if isinstance(e, Control)] == ["heartbeat", "rtu", "heartbeat"]
    bad = framer.feed(RTU_REPLY[:-1] + b"\x00")
    assert isinstance(bad[0], Refusal) and bad[0].reason == "bad_crc"


def test_a_first_packet_without_the_prefix_is_refused() -> None:
    (event,) = DtuFramer(b"REG:", b"HB").feed(b"GET / HTTP/1.1\r\n")
    assert isinstance(event, Refusal) and event.reason == "bad_registration"


@pytest.fixture
async def dtu_gw(tmp_path: Path) -> AsyncIterator[tuple[Gateway, SimulatedNode]]:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    site = SimulatedNode(kinds["water_gauge"], profiles, "DTU-SITE", seed=3)
    await site.start()
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    listeners = [ListenerSettings(protocol="dtu", host="127.0.0.1", port=0, registration_prefix="REG:",
                                  heartbeat="HB", request_timeout_s=2, inter_frame_delay_s=0.02)]  # fmt: skip
    try:
        async with running_gateway(tmp_path, store, listeners=listeners) as g:
            spec = StationSpec(
                id="WG-DTU-1",
                protocol="dtu",
                address=IMEI,
                region="440981103",
                department="water",
                devices=[StationDevice(id=d.id, profile=d.profile, unit_id=d.unit_id, poll_interval_s=0.5)
                         for d in kinds["water_gauge"].devices],
            )  # fmt: skip
            d = StationDirectory(g.registry)
            await asyncio.to_thread(d.create, "test", spec, g.pipeline.profiles, {"dtu"})
            g.pipeline.snapshot = await asyncio.to_thread(g.registry.snapshot)
            yield g, site
    finally:
        await store.close()
        await site.stop()


async def test_dtu_units_are_polled_through_its_connection_and_stored(dtu_gw: tuple[Gateway, SimulatedNode]) -> None:
    g, site = dtu_gw
    dtu = SimulatedDtu(IMEI, ("127.0.0.1", g.gateway.ports["dtu"]), (site.host, site.port), prefix="REG:",
                       heartbeat="HB", heartbeat_s=0.05)  # fmt: skip
    task = asyncio.create_task(dtu.run(), name="test:dtu")
    try:
        async with asyncio.timeout(15):
            while True:
                latest = g.pipeline.latest.get("WG-DTU-1.level")
                rain = g.pipeline.latest.get("WG-DTU-1.rain")
                if latest and rain and dtu.heartbeats >= 5 and dtu.requests >= 4:
                    break
                await asyncio.sleep(0.1)
    finally:
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)
        await asyncio.gather(task, return_exceptions=True)
    site.refresh()
    expected = site.expected("level", "water_level")
    assert expected is not None
    assert latest is not None and latest["water_level"].quality.wire == "good"
    assert abs(float(latest["water_level"].value or 0) - float(expected)) < 1.0
    assert g.gateway.stats.refusals["unexpected_bytes"] == 0 and g.gateway.stats.refusals["bad_crc"] == 0


async def test_an_unregistered_dtu_is_refused(dtu_gw: tuple[Gateway, SimulatedNode]) -> None:
    g, _ = dtu_gw
    _reader, writer = await asyncio.open_connection("127.0.0.1", g.gateway.ports["dtu"])
    writer.write(b"REG:999999999999999")
    await writer.drain()
    async with asyncio.timeout(5):
        while g.gateway.stats.refusals["unknown_station"] == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    writer.close()
