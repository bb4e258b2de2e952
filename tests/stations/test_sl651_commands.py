"""Downlink commands of the central station (mode M4) and the station's answers as Control events."""

from __future__ import annotations

import pytest

from hub.stations.base import Control
from hub.stations.errors import StationError
from hub.stations.sl651 import bcd, codes, encode, frames
from hub.stations.sl651.downlink import prefix
from hub.stations.sl651.protocol import Sl651Protocol
from tests.stations.test_sl651_examples import cst

NOW = cst(2026, 7, 5, 9, 30, 15)
ADDRESS = "0012345678"


def protocol() -> Sl651Protocol:
    return Sl651Protocol(center=1, clock_ms=lambda: NOW)


def parse_down(raw: bytes) -> frames.Frame:
    parsed = frames.parse(raw, down=True, max_frame=4200)
    assert isinstance(parsed, frames.Frame), parsed
    return parsed


def answer(frame: bytes) -> Control:
    [event] = protocol().framer().feed(frame)
    assert isinstance(event, Control), event
    return event


@pytest.mark.parametrize(
    ("action", "function"),
    [
        ("query_realtime", 0x37),
        ("clock_query", 0x51),
        ("clock_set", 0x4A),
        ("query_basic_config", 0x41),
        ("query_runtime_params", 0x43),
        ("query_elements", 0x3A),
    ],
)
@pytest.mark.parametrize("encoding", ["hex", "ascii"])
def test_every_query_is_a_downlink_frame_ending_with_enq(action: str, function: int, encoding: str) -> None:
    raw = protocol().command(ADDRESS, "1234", action, {"encoding": encoding, "serial": 7, "elements": ["Z", "PJ"]})
    command = parse_down(raw)
    assert (command.function, command.station, command.center, command.password) == (function, ADDRESS, 1, "1234")
    assert command.end == codes.ENQ  # clause 6.3, Table 4: ENQ ends a query
    assert command.body.startswith(prefix(command.encoding, 7, NOW))


def test_clock_set_sends_the_time_to_set_in_beijing_time() -> None:
    target = cst(2026, 7, 5, 9, 31, 0)
    command = parse_down(protocol().command(ADDRESS, "1234", "clock_set", {"time_ms": target}))
    assert command.function == 0x4A
    assert bcd.cst_ms(command.body[2:8]) == target


def test_set_runtime_params_encodes_each_value_with_its_data_definition() -> None:
    raw = protocol().command(
        ADDRESS, "1234", "set_runtime_params", {"params": {"timed_report_interval_h": 1, "25": 0.5}}
    )
    body = parse_down(raw).body
    # after prefix and F1F1 + address: 20H 08H 01 (1 h), 25H 09H 05 (0.5 mm)
    assert body[8:15] == b"\xf1\xf1" + bytes.fromhex(ADDRESS)
    assert body[15:] == bytes.fromhex("200801250905")


@pytest.mark.parametrize(
    ("action", "args", "reason"),
    [
        ("reboot", {}, "unknown_action"),
        ("set_runtime_params", {}, "bad_argument"),
        ("set_runtime_params", {"params": {"timed_report_interval_h": 1000}}, "bad_argument"),
        ("query_elements", {"elements": ["NOPE"]}, "bad_argument"),
    ],
)
def test_a_command_the_protocol_lacks_raises_station_error(action: str, args: dict[str, object], reason: str) -> None:
    with pytest.raises(StationError) as caught:
        protocol().command(ADDRESS, "1234", action, args)
    assert caught.value.reason == reason


STATION = encode.Station(ADDRESS, "1234", 1, "river", "hex")


def test_clock_answer_gives_the_station_clock_in_utc() -> None:
    # clause 7.2.3.19: the answer's send time is the station's clock
    station_clock = cst(2026, 7, 5, 9, 29, 58)
    body = prefix("hex", 7, station_clock) + b"\xf1\xf1" + bytes.fromhex(ADDRESS)
    event = answer(encode.frame(STATION, 0x51, body))
    assert event.function == "51" and event.reply is None
    assert event.payload["clock_ms"] == station_clock and event.payload["station"] == ADDRESS


def test_realtime_answer_carries_observations_in_its_payload() -> None:
    obs = cst(2026, 7, 5, 9, 30)
    frame = encode.report(STATION, 0x37, serial=7, sent_ms=NOW, obs_ms=obs, items=[("Z", 2.345), ("VT", 12.2)])
    event = answer(frame)
    assert event.function == "37"
    assert [(o.code, o.value, o.ts_ms) for o in event.payload["observations"]] == [("Z", 2.345, obs), ("VT", 12.2, obs)]


def test_basic_config_answer_names_work_mode_and_addresses() -> None:
    # Table 11: 02H station address (28H: 5 bytes), 0CH work mode (08H: 1 byte), 03H password
    groups = bytes.fromhex("0228" + ADDRESS + "0C0802" + "03101234")
    body = prefix("hex", 7, NOW) + b"\xf1\xf1" + bytes.fromhex(ADDRESS) + groups
    event = answer(encode.frame(STATION, 0x41, body))
    assert event.payload["params"] == {"station_address": ADDRESS, "work_mode": "M2", "password": "1234"}


def test_runtime_params_answer_gives_numbers() -> None:
    # Table 12: 20H timed-report interval (h), 21H added-report interval (min), 28H water-level base (m)
    groups = bytes.fromhex("200801210805282300012345")
    body = prefix("hex", 7, NOW) + b"\xf1\xf1" + bytes.fromhex(ADDRESS) + groups
    event = answer(encode.frame(STATION, 0x43, body))
    assert event.payload["params"] == {
        "timed_report_interval_h": 1,
        "added_report_interval_min": 5,
        "water_level_base_1_m": 12.345,
    }
    assert event.payload["errors"] == []


def test_ascii_clock_answer() -> None:
    station = encode.Station(ADDRESS, "1234", 1, "river", "ascii")
    event = answer(encode.frame(station, 0x4A, prefix("ascii", 7, NOW) + b" ST " + ADDRESS.encode()))
    assert (event.function, event.payload["clock_ms"], event.payload["station"]) == ("4A", NOW, ADDRESS)


ASCII_STATION = encode.Station(ADDRESS, "1234", 1, "river", "ascii")


def test_ascii_realtime_answer_carries_observations() -> None:
    obs = cst(2026, 7, 5, 9, 30)
    frame = encode.report(ASCII_STATION, 0x37, serial=7, sent_ms=NOW, obs_ms=obs, items=[("Z", 2.345), ("PJ", 0.5)])
    event = answer(frame)
    assert [(o.code, o.value, o.ts_ms) for o in event.payload["observations"]] == [("Z", 2.345, obs), ("PJ", 0.5, obs)]


def test_ascii_runtime_params_answer_gives_numbers_by_name() -> None:
    body = prefix("ascii", 7, NOW) + b" ST " + ADDRESS.encode() + b" 20 1 21 5 28 12.345"
    event = answer(encode.frame(ASCII_STATION, 0x43, body))
    assert event.payload["params"] == {
        "timed_report_interval_h": 1.0,
        "added_report_interval_min": 5.0,
        "water_level_base_1_m": 12.345,
    }
