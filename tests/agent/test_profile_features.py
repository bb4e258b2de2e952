"""Each profile feature real devices need, polled from a pymodbus server serving what the reference encoder wrote.

The registers are written by the simulator's encoder (``simulator.registers``,
i.e. ``citysense.profiles.transform.to_raw`` over ``citysense.codec.encode``)
and checked against the words the vendor manual prints, so a decoder that only
mirrors the encoder cannot pass. The agent reads them over Modbus TCP with its
own poller and decodes them per profile.
"""

from __future__ import annotations

from typing import Any

import pytest

from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.profiles.model import Profile
from edge_agent.drivers.modbus.poller import DevicePoller
from simulator.device import SimulatedDevice
from simulator.models import DeviceState, Values
from tests.agent.support import modbus_tcp_server
from tests.agent.test_modbus_read import ListSink, link, profile

SHIPPED = load_profiles(default_profile_dir())
EPEVER = SHIPPED["epever_tracer_an"]
LEVEL = SHIPPED["level_decimals_rs485"]

BCD = profile("""
# BCD counter: the digits 12345678 in two registers (0x1234 0x5678), as meters with BCD registers hold them.
- {metric: tips, table: holding, address: 0, type: uint32, bcd: true, unit: "", range: [0, 99999999]}
# Two BCD fields of one register (year | month of a BCD device clock).
- {metric: year, table: holding, address: 2, type: uint16, mask: 0xFF00, shift: 8, bcd: true, unit: ""}
- {metric: month, table: holding, address: 2, type: uint16, mask: 0x00FF, bcd: true, unit: ""}
- {metric: clock, table: holding, address: 3, type: datetime, bcd: true, unit: ""}
- {metric: on_at, table: holding, address: 6, type: time_hm, bcd: true, unit: ""}
""")
SPLIT = profile("""
# A product id kept high word at 0010H and low word at 0020H, with other registers between.
- {metric: product_id, table: holding, addresses: [0x10, 0x20], type: uint32, unit: ""}
- {metric: firmware, table: holding, address: 0x15, type: uint16, unit: ""}
""")


def device(prof: Profile, values: Values, unit: int = 1) -> SimulatedDevice:
    """A simulated device of ``prof`` serving exactly ``values`` (written state wins over the model)."""
    dev = SimulatedDevice("dut", prof, unit, seed=1, clock=lambda: 0.0)
    dev.state = DeviceState(written=dict(values))
    dev.render(0.0)
    return dev


# (profile, values served, raw words as the manual prints them {address: word}, expected {metric: (value, unit)})
CASES: list[Any] = [
    pytest.param(
        LEVEL, {"unit_code": 7, "decimal_places": 2, "level": 1.23, "range_full": 50.0},
        {0x0003: 2, 0x0004: 123, 0x0006: 5000},
        {"level": (1.23, "mH2O"), "range_full": (50.0, "mH2O"), "decimal_places": (2, "")},
        id="scale-from-decimal-places-2",
    ),
    pytest.param(
        LEVEL, {"unit_code": 1, "decimal_places": 1, "level": 12.3},
        {0x0002: 1, 0x0003: 1, 0x0004: 123},
        {"level": (12.3, "kPa"), "unit_code": (1, "")},
        id="same-raw-one-decimal-and-unit-from-register",
    ),
    pytest.param(
        EPEVER, {"charging_phase": 2, "input_voltage_state": 1, "running": True, "charging_fault": False},
        {0x3201: 0x4009},
        {"charging_phase": (2, ""), "input_voltage_state": (1, ""), "running": (True, ""),
         "charging_fault": (False, "")},
        id="bit-fields-share-a-status-word",
    ),
    pytest.param(
        EPEVER, {"clock": "2026-12-02T03:40:05", "night_length": "11:30", "pv_power": 1234.56},
        {0x9013: 0x2805, 0x9014: 0x0203, 0x9015: 0x1A0C, 0x9065: 0x0B1E, 0x3102: 0xE240, 0x3103: 0x0001},
        {"clock": ("2026-12-02T03:40:05", ""), "night_length": ("11:30", ""), "pv_power": (1234.56, "W")},
        id="packed-binary-clock-low-word-first",
    ),
    pytest.param(
        BCD, {"tips": 12345678, "year": 26, "month": 12, "clock": "2026-12-02T03:40:05", "on_at": "18:30"},
        {0: 0x1234, 1: 0x5678, 2: 0x2612, 3: 0x2612, 4: 0x0203, 5: 0x4005, 6: 0x1830},
        {"tips": (12345678, ""), "year": (26, ""), "month": (12, ""), "clock": ("2026-12-02T03:40:05", ""),
         "on_at": ("18:30", "")},
        id="bcd-counter-fields-clock-and-timer",
    ),
    pytest.param(
        SPLIT, {"product_id": 0x00C0FFEE, "firmware": 7},
        {0x10: 0x00C0, 0x20: 0xFFEE, 0x15: 7},
        {"product_id": (0x00C0FFEE, ""), "firmware": (7, "")},
        id="value-from-non-contiguous-registers",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("prof", "values", "words", "expected"), CASES)
async def test_feature_decodes_what_the_reference_encoder_served(
    prof: Profile, values: Values, words: dict[int, int], expected: dict[str, tuple[object, str]]
) -> None:
    dev = device(prof, values)
    for address, word in words.items():  # the encoder wrote what the manual prints
        point = next(p for p in prof.points if address in p.manual_addresses() and p.table.value != "coil")
        assert dev.image.words[point.table][address - dev.image.base[point.table]] == word, hex(address)
    async with modbus_tcp_server([dev.sim_device()]) as port:
        conn = link(port)
        poller = DevicePoller("dut", prof, 1, conn, ListSink(), 1.0)
        readings = {r.metric: r for r in await poller.poll_once()}
        await conn.close()
    for metric, (value, unit) in expected.items():
        r = readings[metric]
        assert (r.value, r.unit, r.quality) == (
            pytest.approx(value) if isinstance(value, float) else value,
            unit,
            "good",
        )


async def test_unknown_decimal_places_is_a_decode_error_not_a_wrong_number() -> None:
    dev = device(LEVEL, {"decimal_places": 2, "level": 1.0})
    dev.force_raw("decimal_places", [12])  # not a decimals setting the transmitter knows
    async with modbus_tcp_server([dev.sim_device()]) as port:
        conn = link(port)
        readings = {r.metric: r for r in await DevicePoller("dut", LEVEL, 1, conn, ListSink(), 1.0).poll_once()}
        await conn.close()
    assert (readings["level"].value, readings["level"].quality) == (None, "decode_error")
    assert readings["decimal_places"].quality == "out_of_range"


def test_write_only_points_are_never_polled() -> None:
    poller = DevicePoller("dut", EPEVER, 1, None, ListSink(), 1.0)  # type: ignore[arg-type]
    planned = {p.metric for req in poller.requests for p in req.points}
    assert "clear_energy" not in planned and "load_on" in planned
    assert all(not (req.table.value == "coil" and req.start <= 0x14 < req.start + req.count) for req in poller.requests)
    level = DevicePoller("dut", LEVEL, 1, None, ListSink(), 1.0)  # type: ignore[arg-type]
    assert max(req.start + req.count for req in level.requests) <= 0x000D  # 000FH/0010H commands never read
