"""Every SL 651-2014 function code the gateway handles, in the HEX/BCD and the ASCII encoding."""

from __future__ import annotations

import pytest

from citysense.quality import Quality
from hub.stations.base import Control, Event, Refusal, Report
from hub.stations.sl651 import codes, encode, frames
from hub.stations.sl651.crc import crc16
from hub.stations.sl651.downlink import prefix
from hub.stations.sl651.protocol import Sl651Protocol
from tests.stations.test_sl651_examples import cst

OBS = cst(2026, 7, 5, 14, 0)
SENT = cst(2026, 7, 5, 14, 0, 12)
ENCODINGS = ["hex", "ascii"]


def gauge(encoding: str, station_class: str = "river") -> encode.Station:
    return encode.Station("0012345678", "1234", 1, station_class, encoding)  # type: ignore[arg-type]


def feed(*chunks: bytes) -> list[Event]:
    framer = Sl651Protocol().framer()
    return [e for c in chunks for e in framer.feed(c)]


def one_report(frame: bytes) -> Report:
    events = feed(frame)
    assert [type(e) for e in events] == [Report], events
    report = events[0]
    assert isinstance(report, Report)
    return report


def down(reply: bytes | None) -> frames.Frame:
    assert reply is not None
    parsed = frames.parse(reply, down=True, max_frame=4200)
    assert isinstance(parsed, frames.Frame)
    return parsed


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("function", [0x30, 0x32, 0x33])
def test_test_timed_and_added_reports_carry_their_elements_and_are_confirmed(encoding: str, function: int) -> None:
    items: list[encode.Item] = [("PJ", 2.5), ("PT", 130.5), ("Z", 3.217), ("VT", 12.6), ("AI", -3.5)]
    frame = encode.report(gauge(encoding), function, serial=77, sent_ms=SENT, obs_ms=OBS, items=items)
    report = one_report(frame)
    assert report.function == f"{function:02X}"
    assert [(o.code, o.value, o.ts_ms) for o in report.observations] == [(c, v, OBS) for c, v in items]
    answer = down(report.reply)
    # clause 6.5: the confirmation echoes function, serial number and send time, in the station's encoding
    assert (answer.encoding, answer.function, answer.station, answer.end) == (encoding, function, "0012345678", 0x1B)
    assert answer.body == prefix(answer.encoding, 77, SENT)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_uniform_interval_report_spreads_its_list_over_the_time_step(encoding: str) -> None:
    # clause 7.2.3.3: DRxnn time step, then one element and its values at TT, TT+step, ...
    levels = [1.0, 1.01, None, 1.03]
    frame = encode.report(
        gauge(encoding), 0x31, serial=5, sent_ms=SENT, obs_ms=OBS, items=[("Z", levels)], step_ms=300_000
    )
    report = one_report(frame)
    assert [(o.code, o.value, o.ts_ms) for o in report.observations] == [
        ("Z", v, OBS + k * 300_000) for k, v in enumerate(levels)
    ]
    assert report.observations[2].quality == Quality.SENTINEL


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_hourly_report_gives_twelve_five_minute_rainfalls_and_levels_ending_at_the_hour(encoding: str) -> None:
    # clause 7.2.3.6: DRP (F4H) 1-byte 0.1 mm values and DRZ1 (F5H) 2-byte 0.01 m values, FFH... none
    rain = [0.0, 0.5, 1.2, 3.4, 2.0, None, 0.0, 0.0, 0.1, 0.0, 0.0, 25.4]
    level = [0.12, 0.13, 0.15, 0.2, 0.26, 0.3, 0.31, 0.3, 0.29, 0.28, None, 0.27]
    items: list[encode.Item] = [("DRP", rain), ("DRZ1", level), ("PT", 60.1), ("VT", 12.1)]
    report = one_report(encode.report(gauge(encoding), 0x34, serial=9, sent_ms=SENT, obs_ms=OBS, items=items))
    drp = [o for o in report.observations if o.code == "DRP"]
    drz = [o for o in report.observations if o.code == "DRZ1"]
    assert [o.value for o in drp] == rain
    assert [o.value for o in drz] == level
    assert [o.ts_ms for o in drp] == [OBS - 55 * 60_000 + k * 300_000 for k in range(12)]
    assert drp[5].quality == Quality.SENTINEL and drz[10].quality == Quality.SENTINEL
    assert {o.unit for o in drp} == {"mm"} and {o.unit for o in drz} == {"m"}


def test_hourly_report_stamped_at_five_past_the_hour_starts_its_list_there() -> None:
    # field RTUs send the 05:00 hourly report with TT 04:05, the end of the hour's first 5 minutes
    tt = cst(2022, 11, 28, 4, 5)
    rain = [0.1 * k for k in range(12)]
    frame = encode.report(gauge("hex"), 0x34, serial=8, sent_ms=tt + 55 * 60_000, obs_ms=tt, items=[("DRP", rain)])
    drp = one_report(frame).observations
    assert [o.ts_ms for o in drp] == [tt + k * 300_000 for k in range(12)]
    assert drp[-1].ts_ms == cst(2022, 11, 28, 5, 0)


def test_hand_written_ascii_timed_report_decodes_like_its_hex_twin() -> None:
    # clause 6.3 ASCII encoding: SOH, header as hex characters, space-separated body, CRC as 4 hex characters
    body = b"0034170718110016 ST 0012345678 H TT 1707181100 PJ 4.0 PT 4.0 Z 10.490 VT 10.99"
    frame = b"\x01" + b"01" + b"0012345678" + b"1234" + b"32" + f"{len(body):04X}".encode() + b"\x02" + body + b"\x03"
    frame += f"{crc16(frame):04X}".encode()
    report = one_report(frame)
    assert [(o.code, o.value) for o in report.observations] == [("PJ", 4.0), ("PT", 4.0), ("Z", 10.49), ("VT", 10.99)]
    assert report.observations[0].ts_ms == cst(2017, 7, 18, 11, 0)
    assert report.extra["station_class"] == "river"
    answer = down(report.reply)
    assert answer.raw[:1] == b"\x01" and answer.body == b"0034170718110016"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_keepalive_in_either_encoding_is_control_without_reply(encoding: str) -> None:
    [event] = feed(encode.keepalive(gauge(encoding), serial=1, sent_ms=SENT))
    assert isinstance(event, Control)
    assert (event.function, event.reply, event.payload["clock_ms"]) == ("2F", None, SENT)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_manual_set_number_report_keeps_its_text_and_is_confirmed(encoding: str) -> None:
    # clause 7.2.3.7: manual set-number (人工置数) text after F2F2, in the SL 330 water-information code
    report = one_report(encode.manual(gauge(encoding), serial=3, sent_ms=SENT, text="H 0012345678 07051400 Z 3.21"))
    assert report.function == "35"
    assert report.observations == ()
    assert report.extra["manual"] == "H 0012345678 07051400 Z 3.21"
    assert down(report.reply).function == 0x35


def image_packets(data: bytes, packet_size: int = 100) -> list[bytes]:
    return encode.image(gauge("hex"), serial=11, sent_ms=SENT, obs_ms=OBS, data=data, packet_size=packet_size)


JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2 + b"\xff\xd9"


def test_multi_packet_image_is_reassembled_into_one_report_confirmed_with_ack() -> None:
    # clause 6.5.3 (M3): SYN + packet total/sequence, ETB until the last packet, which ends with ETX
    packets = image_packets(JPEG)
    assert len(packets) > 3
    events = feed(*packets)
    *progress, report = events
    assert all(isinstance(e, Control) and e.reply is None for e in progress)
    assert isinstance(report, Report)
    assert report.extra["image"] == JPEG and report.extra["content_type"] == "image/jpeg"
    assert [(o.code, o.value, o.ts_ms) for o in report.observations] == [("PIC", float(len(JPEG)), OBS)]
    assert down(report.reply).end == codes.ACK


def test_image_with_a_lost_packet_is_refused_with_nak_and_completed_by_the_resent_packet() -> None:
    packets = image_packets(JPEG)
    framer = Sl651Protocol().framer()
    events = [e for p in packets[:2] + packets[3:] for e in framer.feed(p)]
    refusal = events[-1]
    assert isinstance(refusal, Refusal) and refusal.reason == "image_incomplete"
    nak = down(refusal.reply)
    assert nak.end == codes.NAK and nak.packet == (len(packets), 3)  # names the missing packet
    [report] = framer.feed(packets[2])
    assert isinstance(report, Report) and report.extra["image"] == JPEG


def test_image_larger_than_the_limit_is_refused_and_dropped() -> None:
    framer = Sl651Protocol(max_image_bytes=300).framer()
    events = [e for p in image_packets(JPEG) for e in framer.feed(p)]
    reasons = [e.reason for e in events if isinstance(e, Refusal)]
    assert reasons[0] == "image_too_large"
    assert not any(isinstance(e, Report) for e in events)


def test_single_packet_image_needs_no_reassembly() -> None:
    [frame] = encode.image(gauge("hex"), serial=2, sent_ms=SENT, obs_ms=OBS, data=JPEG[:200], packet_size=4000)
    plain = frame[:13] + b"\x02" + frame[17:]  # STX instead of SYN + packet information
    plain = plain[:-2] + crc16(plain[:-2]).to_bytes(2, "big")
    report = one_report(plain)
    assert report.extra["image"] == JPEG[:200]
    assert down(report.reply).end == 0x1B


def test_image_packets_whose_length_counts_the_packet_information_are_accepted_too() -> None:
    # vendor variant: the 12-bit length includes the 3 bytes of packet total/sequence after SYN
    variant = []
    for packet in image_packets(JPEG):
        length = int.from_bytes(packet[11:13], "big") + 3
        frame = packet[:11] + length.to_bytes(2, "big") + packet[13:-2]
        variant.append(frame + crc16(frame).to_bytes(2, "big"))
    *_, report = feed(*variant)
    assert isinstance(report, Report) and report.extra["image"] == JPEG
