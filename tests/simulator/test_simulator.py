"""Simulated devices serve their profiles' registers, and writes stick like on a real device."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from citysense.nodekinds import NodeKind, default_node_kind_dir, load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.profiles.model import Table
from citysense.profiles.transform import to_raw, to_value
from simulator.fleet import SimulatedNode


@pytest.fixture(scope="module")
def fleet_defs() -> tuple[ProfileSet, dict[str, NodeKind]]:
    profiles = load_profiles(default_profile_dir())
    return profiles, load_node_kinds(default_node_kind_dir(), set(profiles))


async def _read(client: AsyncModbusTcpClient, table: Table, unit: int, address: int, count: int) -> list[int]:
    if table is Table.HOLDING:
        rr = await client.read_holding_registers(address, count=count, device_id=unit)
    elif table is Table.INPUT:
        rr = await client.read_input_registers(address, count=count, device_id=unit)
    else:
        rr = await client.read_coils(address, count=count, device_id=unit)
        assert not rr.isError()
        return [int(b) for b in rr.bits[:count]]
    assert not rr.isError(), rr
    return list(rr.registers)


@pytest.fixture
async def pole(fleet_defs: tuple[ProfileSet, dict[str, NodeKind]]) -> AsyncIterator[SimulatedNode]:
    profiles, kinds = fleet_defs
    node = SimulatedNode(kinds["smart_pole"], profiles, "P1", seed=3)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


@pytest.mark.parametrize("kind", ["smart_pole", "water_gauge", "weather_station", "signal_cabinet"])
async def test_registers_decode_to_the_served_values(
    fleet_defs: tuple[ProfileSet, dict[str, NodeKind]], kind: str
) -> None:
    profiles, kinds = fleet_defs
    node = SimulatedNode(kinds[kind], profiles, "N1", seed=1)
    await node.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=node.port, timeout=2, retries=0)
    try:
        node.freeze()
        assert await client.connect()
        snapshot = node.snapshot()
        for dev_tpl in kinds[kind].devices:
            prof = profiles[dev_tpl.profile]
            for p in prof.points:
                regs = await _read(client, p.table, dev_tpl.unit_id, prof.pdu_address(p), p.register_count)
                value, quality = to_value(prof, p, regs)
                assert quality.name == "GOOD", (dev_tpl.id, p.metric, regs)
                assert value == snapshot[dev_tpl.id][p.metric], (dev_tpl.id, p.metric)
    finally:
        client.close()
        await node.stop()


async def test_values_change_over_time(pole: SimulatedNode) -> None:
    meter = pole.devices["meter"]
    first = meter.model.values(1_800_000_000.0)
    later = meter.model.values(1_800_000_000.0 + 3600)
    assert later["energy_import"] > first["energy_import"]  # energy counters only grow


async def test_write_to_writable_point_sticks(pole: SimulatedNode) -> None:
    prof = pole.devices["lamp"].profile
    dim = prof.point("dim_level")
    client = AsyncModbusTcpClient("127.0.0.1", port=pole.port, timeout=2, retries=0)
    assert await client.connect()
    try:
        rr = await client.write_register(prof.pdu_address(dim), to_raw(prof, dim, 40)[0], device_id=1)
        assert not rr.isError()
        regs = await _read(client, Table.HOLDING, 1, prof.pdu_address(dim), 1)
        assert to_value(prof, dim, regs)[0] == 40
        assert pole.snapshot()["lamp"]["dim_level"] == 40
        rr = await client.write_coil(0, False, device_id=1)  # switch the lamp off
        assert not rr.isError()
        assert pole.snapshot()["lamp"]["lamp_on"] is False
        assert pole.snapshot()["lamp"]["power"] < 1  # a dark lamp draws (almost) nothing
    finally:
        client.close()


async def test_device_refuses_bad_writes_like_real_hardware(pole: SimulatedNode) -> None:
    client = AsyncModbusTcpClient("127.0.0.1", port=pole.port, timeout=2, retries=0)
    assert await client.connect()
    try:
        read_only = await client.write_register(0x2000, 1, device_id=2)  # the meter's voltage
        assert read_only.isError() and read_only.exception_code == 2
        too_bright = await client.write_register(0, 150, device_id=1)  # dimming level 150 %
        assert too_bright.isError() and too_bright.exception_code == 3
        assert pole.snapshot()["lamp"]["dim_level"] != 150
    finally:
        client.close()
