"""A simulated node serves its devices' registers over Modbus TCP the way the field devices do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from pymodbus.client import AsyncModbusTcpClient

from citysense.errors import CodecError
from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from citysense.profiles.transform import to_raw
from citysense.quality import Quality
from simulator.fleet import SimulatedNode
from tests.simulator.conftest import NOON, Clock, StartNode, read_point

Connect = Callable[[SimulatedNode], Awaitable[AsyncModbusTcpClient]]
HOUR = 3600.0
NIGHT = NOON + 10 * HOUR  # 22:00 CST


@pytest.mark.parametrize("kind", ["smart_pole", "water_gauge", "weather_station", "signal_cabinet"])
async def test_every_point_reads_back_as_the_snapshot_says(
    kind: str, start_node: StartNode, connect: Connect, profiles: ProfileSet, kinds: dict[str, NodeKind]
) -> None:
    node = await start_node(kind)
    node.freeze()
    client = await connect(node)
    snapshot = node.snapshot()
    for device in kinds[kind].devices:
        profile = profiles[device.profile]
        assert set(snapshot[device.id]) == {p.metric for p in profile.points}
        for point in profile.points:
            value, quality = await read_point(client, profile, point, device.unit_id)
            assert quality is Quality.GOOD, (device.id, point.metric, value)
            assert value == snapshot[device.id][point.metric], (device.id, point.metric)
            assert node.expected(device.id, point.metric) == value


async def test_values_move_with_the_clock_and_energy_only_grows(
    start_node: StartNode, connect: Connect, profiles: ProfileSet, clock: Clock
) -> None:
    node = await start_node("smart_pole")
    client = await connect(node)
    meter, energy = profiles["chint_ddsu666"], profiles["chint_ddsu666"].point("energy_import")
    readings = []
    for _ in range(4):
        readings.append((await read_point(client, meter, energy, 2))[0])
        clock.t += 6 * HOUR
        node.refresh()
    assert all(isinstance(r, float) for r in readings)
    assert readings == sorted(readings) and readings[-1] > readings[0]


async def test_the_refresh_timer_follows_the_clock(start_node: StartNode, clock: Clock) -> None:
    node = await start_node("water_gauge", refresh_s=0.01)
    before = node.expected("rain", "rain_total")
    clock.t += 8 * HOUR  # eight hours always hold showers
    async with asyncio.timeout(5):
        await node.next_refresh()
    after = node.expected("rain", "rain_total")
    assert isinstance(before, float) and isinstance(after, float) and after > before


async def test_frozen_node_keeps_its_values(start_node: StartNode, clock: Clock) -> None:
    node = await start_node("weather_station", refresh_s=0.01)
    node.freeze()
    frozen = node.snapshot()
    clock.t += HOUR
    async with asyncio.timeout(5):
        await node.next_refresh()
    assert node.snapshot() == frozen
    node.thaw()
    assert node.snapshot() != frozen


async def test_written_dimming_level_sticks_across_refreshes(
    start_node: StartNode, connect: Connect, profiles: ProfileSet, clock: Clock
) -> None:
    clock.t = NIGHT
    node = await start_node("smart_pole")
    client = await connect(node)
    lamp = profiles["gz_slc_modbus"]
    dim = lamp.point("dim_level")
    full = node.expected("lamp", "power")  # 22:00: full power by schedule
    assert (await client.write_register(lamp.pdu_address(dim), 40, device_id=1)).isError() is False
    clock.t += 2 * HOUR  # past 23:00, when the schedule alone would dim to 60 %
    node.refresh()
    assert await read_point(client, lamp, dim, 1) == (40, Quality.GOOD)
    power = node.expected("lamp", "power")
    assert isinstance(full, float) and isinstance(power, float)
    assert power - 0.6 == pytest.approx(0.4 * (full - 0.6), abs=0.2)  # 0.6 W: controller standby


async def test_switching_the_lamp_off_cuts_its_power(
    start_node: StartNode, connect: Connect, profiles: ProfileSet, clock: Clock
) -> None:
    clock.t = NIGHT
    node = await start_node("smart_pole")
    client = await connect(node)
    assert node.expected("lamp", "lamp_on") is True
    assert not (await client.write_coil(0, False, device_id=1)).isError()
    clock.t += 10.0
    node.refresh()
    lamp = profiles["gz_slc_modbus"]
    assert await read_point(client, lamp, lamp.point("lamp_on"), 1) == (False, Quality.GOOD)
    power = node.expected("lamp", "power")
    assert isinstance(power, float) and power < 1.0


async def test_rain_counter_written_to_zero_counts_on_from_zero(
    start_node: StartNode, connect: Connect, profiles: ProfileSet, clock: Clock
) -> None:
    node = await start_node("water_gauge", seed=1)
    client = await connect(node)
    gauge = profiles["tipping_bucket_rs485"]
    rainfall = gauge.point("rainfall")
    clock.t += 8 * HOUR - 60  # stay within the hydrological day (it starts at 08:00)
    node.refresh()
    before = node.expected("rain", "rainfall")
    assert isinstance(before, float) and before > 0
    assert not (await client.write_register(gauge.pdu_address(rainfall), 0, device_id=2)).isError()
    assert await read_point(client, gauge, rainfall, 2) == (0, Quality.GOOD)
    total_before = node.expected("rain", "rain_total")
    clock.t += 8 * HOUR  # 03:59: the same hydrological day, after more showers
    node.refresh()
    counted = node.expected("rain", "rainfall")
    total_after = node.expected("rain", "rain_total")
    assert isinstance(counted, float) and isinstance(total_after, float) and isinstance(total_before, float)
    assert counted > 0
    assert counted == pytest.approx(total_after - total_before, abs=1e-6)  # counted on from 0, not from before


async def test_device_refuses_writes_like_real_hardware(
    start_node: StartNode, connect: Connect, profiles: ProfileSet
) -> None:
    node = await start_node("water_gauge")
    client = await connect(node)
    read_only = await client.write_register(2303, 1, device_id=1)  # the radar's measured distance
    assert read_only.isError() and read_only.exception_code == 2
    half_float = await client.write_register(3401, 0x4140, device_id=1)  # first word of a float32
    assert half_float.isError() and half_float.exception_code == 2
    radar = profiles["radar_level_rs485"]
    adjustment = radar.point("min_adjustment")
    too_high = to_raw(radar, adjustment.model_copy(update={"range": None}), 99.0)
    refused = await client.write_registers(3401, too_high, device_id=1)
    assert refused.isError() and refused.exception_code == 3
    unknown_unit = await client.read_holding_registers(0, count=1, device_id=9)
    assert unknown_unit.isError() and unknown_unit.exception_code == 0x0B  # gateway: target failed to respond
    with pytest.raises(CodecError):
        node.write("level", "air_distance", 3.0)


async def test_written_float_sticks_and_moves_the_level(
    start_node: StartNode, connect: Connect, profiles: ProfileSet
) -> None:
    node = await start_node("water_gauge")
    client = await connect(node)
    radar = profiles["radar_level_rs485"]
    node.freeze()
    level = node.expected("level", "water_level")
    adjustment = radar.point("min_adjustment")
    assert not (await client.write_registers(3401, to_raw(radar, adjustment, 13.0), device_id=1)).isError()
    assert await read_point(client, radar, adjustment, 1) == (13.0, Quality.GOOD)
    moved = await read_point(client, radar, radar.point("water_level"), 1)
    assert isinstance(level, float) and moved[0] == pytest.approx(level + 13.0 - 12.5, abs=1e-4)


async def test_forced_sentinel_reads_as_sensor_missing(
    start_node: StartNode, connect: Connect, profiles: ProfileSet
) -> None:
    node = await start_node("smart_pole")
    client = await connect(node)
    env = profiles["renke_rs_byh_env"]
    node.force_raw("env", "pm25", [0xFFFF])
    assert await read_point(client, env, env.point("pm25"), 3) == (None, Quality.SENTINEL)
    assert node.quality("env", "pm25") is Quality.SENTINEL
    node.force_raw("env", "pm25", None)
    assert (await read_point(client, env, env.point("pm25"), 3))[1] is Quality.GOOD


async def test_nodes_of_one_kind_differ_by_seed(start_node: StartNode) -> None:
    first = await start_node("signal_cabinet", seed=1)
    second = await start_node("signal_cabinet", seed=2)
    assert first.port != second.port
    assert first.snapshot() != second.snapshot()
