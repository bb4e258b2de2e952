"""SL 651-2014 frames of published worked examples: CRC, header, elements, confirmations.

The uplink/downlink pairs (keep-alive 2FH, test report 30H, timed report 32H
and their confirmations) are the worked examples circulated with the standard's
explanations ("SL651-2014全协议解析", HEX encoding), and the timed report of a
field RTU comes from the M21F series manual. Their CRCs check, which pins the
CRC (clause 6.3.3) and the byte layout. The standard's printed text was not
available here: clause numbers cite where the standard defines each format and
are to be checked against the printed edition.
"""

from __future__ import annotations

import calendar

import pytest

from citysense.quality import Quality
from hub.stations.base import Control, Report
from hub.stations.sl651 import bcd
from hub.stations.sl651.crc import crc16
from hub.stations.sl651.protocol import Sl651Protocol

KEEPALIVE = bytes.fromhex("7E7E01001234567812342F0008020003591011155111036BCA")
KEEPALIVE_2 = bytes.fromhex("7E7E00987654321012342F0008027E0822101110074703C3AE")
TEST_REPORT = bytes.fromhex(
    "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F059101115492019000005"
    "2619000005392300000127381211150320FA"
)
TEST_REPLY = bytes.fromhex("7E7E00123456780112343080080200035910111549471B75D4")
TIMED_REPORT = bytes.fromhex(
    "7E7E05001122334403E832002B020034170718110016F1F1001122334448F0F01707181100201900004026"
    "190000403923000104903812109903A421"
)
TIMED_REPLY = bytes.fromhex("7E7E00112233440503E83280080200341707181100161BE5D4")
M21F_TIMED = bytes.fromhex(
    "7E7E010010100001A00032002B02000C200724172349F1F1001010000148F0F020072417232019000130"
    "2219000040392300000550381212680383 97".replace(" ", "")
)


def cst(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> int:
    """Beijing wall-clock time as UTC epoch ms (computed independently of the code under test)."""
    return (calendar.timegm((year, month, day, hour, minute, second)) - 8 * 3600) * 1000


EXAMPLES = [KEEPALIVE, KEEPALIVE_2, TEST_REPORT, TEST_REPLY, TIMED_REPORT, TIMED_REPLY, M21F_TIMED]


@pytest.mark.parametrize("frame", EXAMPLES)
def test_crc16_of_every_worked_example_matches_its_last_two_bytes(frame: bytes) -> None:
    # clause 6.3.3: CRC over start characters through end character, high byte first
    assert crc16(frame[:-2]) == int.from_bytes(frame[-2:], "big")


def test_crc16_is_the_modbus_polynomial_check_value() -> None:
    # the standard's CRC is CRC-16 with 0xA001 reflected and init 0xFFFF; its check value over "123456789" is 0x4B37
    assert crc16(b"123456789") == 0x4B37


def test_link_keepalive_example_is_a_control_without_answer() -> None:
    # clause 7.2.3.1: the keep-alive (2FH) needs no answer from the central station
    [event] = Sl651Protocol().framer().feed(KEEPALIVE)
    assert isinstance(event, Control)
    assert (event.station, event.function, event.password, event.reply) == ("0012345678", "2F", "1234", None)
    assert event.payload == {"serial": 3, "clock_ms": cst(2059, 10, 11, 15, 51, 11)}


def test_test_report_example_gives_its_four_values_and_the_examples_confirmation() -> None:
    # clause 7.2.3.2 and Appendix C: PJ 0.5 mm, PT 0.5 mm, Z 0.127 m, VT 11.15 V
    [event] = Sl651Protocol().framer().feed(TEST_REPORT)
    assert isinstance(event, Report)
    assert event.function == "30"
    assert [(o.code, o.value, o.unit) for o in event.observations] == [
        ("PJ", 0.5, "mm"),
        ("PT", 0.5, "mm"),
        ("Z", 0.127, "m"),
        ("VT", 11.15, "V"),
    ]
    assert {o.ts_ms for o in event.observations} == {cst(2059, 10, 11, 15, 49)}
    assert event.extra["station_class"] == "river"
    assert event.reply == TEST_REPLY  # the example's downlink answer, byte for byte (ESC keeps the link)


def test_timed_report_example_is_confirmed_as_the_standard_shows() -> None:
    # clause 7.2.3.4: timed report 32H; observation time 2017-07-18 11:00 Beijing = 03:00 UTC
    [event] = Sl651Protocol().framer().feed(TIMED_REPORT)
    assert isinstance(event, Report)
    assert [(o.code, o.value) for o in event.observations] == [("PJ", 4.0), ("PT", 4.0), ("Z", 10.49), ("VT", 10.99)]
    assert event.observations[0].ts_ms == cst(2017, 7, 18, 11, 0)
    assert event.password == "03E8"
    assert event.reply == TIMED_REPLY


def test_hang_up_mode_ends_the_confirmation_with_eot() -> None:
    # clause 6.5: EOT (04H) tells the station to end the link instead of ESC (1BH)
    [event] = Sl651Protocol(end_link=True).framer().feed(TIMED_REPORT)
    assert isinstance(event, Report) and event.reply is not None
    assert event.reply[-3] == 0x04
    assert crc16(event.reply[:-2]) == int.from_bytes(event.reply[-2:], "big")


def test_field_rtu_timed_report_decodes_five_minute_rainfall_and_level() -> None:
    [event] = Sl651Protocol().framer().feed(M21F_TIMED)
    assert isinstance(event, Report)
    assert [(o.code, o.value) for o in event.observations] == [("PJ", 13.0), ("PN05", 4.0), ("Z", 0.55), ("VT", 12.68)]
    assert event.observations[0].ts_ms == cst(2020, 7, 24, 17, 23)


def test_beijing_time_is_stored_as_utc() -> None:
    # clause 6.6.2.2: times are Beijing time; 2024-01-01 00:30 in Beijing is 2023-12-31 16:30 UTC
    assert bcd.cst_ms(bytes.fromhex("2401010030")) == cst(2024, 1, 1, 0, 30)
    assert bcd.cst_ms(bytes.fromhex("2401010030")) == calendar.timegm((2023, 12, 31, 16, 30, 0)) * 1000
    assert bcd.cst_digits(cst(2024, 1, 1, 0, 30, 5)) == "240101003005"


@pytest.mark.parametrize(
    ("raw", "decimals", "value"),
    [
        ("000005", 1, 0.5),
        ("00000127", 3, 0.127),
        ("FF0053", 1, -5.3),  # clause 6.6.2.3: FFH first byte marks a negative value
        ("F053", 1, -5.3),  # vendors that mark the sign in the first nibble only
        ("1115", 2, 11.15),
    ],
)
def test_bcd_values_with_data_definition_decimals(raw: str, decimals: int, value: float) -> None:
    assert bcd.decode(bytes.fromhex(raw), decimals).value == pytest.approx(value)


@pytest.mark.parametrize("raw", ["FF", "FFFF", "FFFFFF", "FFFFFFFF"])
def test_no_data_fill_is_never_a_number(raw: str) -> None:
    assert bcd.decode(bytes.fromhex(raw), 1).value is None


def test_no_data_fill_in_a_report_becomes_a_sentinel_observation() -> None:
    body = TEST_REPORT[14:-3].replace(bytes.fromhex("392300000127"), bytes.fromhex("3923FFFFFFFF"))
    frame = TEST_REPORT[:14] + body + b"\x03"
    frame += crc16(frame).to_bytes(2, "big")
    [event] = Sl651Protocol().framer().feed(frame)
    assert isinstance(event, Report)
    level = next(o for o in event.observations if o.code == "Z")
    assert (level.value, level.quality) == (None, Quality.SENTINEL)
    assert [o.value for o in event.observations if o.code != "Z"] == [0.5, 0.5, 11.15]
