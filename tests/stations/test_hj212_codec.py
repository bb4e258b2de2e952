"""HJ 212-2017 packets: the standard's CRC example, framing, resynchronisation, commands, a bounded fuzz."""

from __future__ import annotations

import random

from citysense.quality import Quality
from hub.stations.base import Control, Refusal, Report
from hub.stations.hj212.crc import crc16, crc_hex
from hub.stations.hj212.protocol import Hj212Protocol, packet
from hub.stations.hj212.segment import parse_segment, parse_time

# HJ 212-2017 §6.3.2 (Table 2 and its example): this data segment's CRC16 (Annex A) is 1C80.
STANDARD_SEGMENT = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
)
STANDARD_PACKET = b"##0101" + STANDARD_SEGMENT + b"1C80\r\n"
NOW = parse_time("20261202120000")


def _upload(cn: str, cp: str, flag: int = 5, mn: str = "AQM0000000000001", qn: str = "20261202120000123") -> bytes:
    return packet(f"QN={qn};ST=22;CN={cn};PW=123456;MN={mn};Flag={flag};CP=&&{cp}&&".encode())


def test_crc_of_the_standards_example_is_1c80() -> None:
    assert crc16(STANDARD_SEGMENT) == 0x1C80
    assert crc_hex(STANDARD_SEGMENT) == b"1C80"
    assert packet(STANDARD_SEGMENT) == STANDARD_PACKET


def test_the_standards_example_packet_parses_with_its_fields() -> None:
    seg = parse_segment(STANDARD_SEGMENT.decode())
    assert (seg.qn, seg.st, seg.cn, seg.pw, seg.mn, seg.flag) == (
        "20160801085857223", "32", "1062", "100000", "010000A8900016F000169DC0", 5,
    )  # fmt: skip
    assert seg.wants_ack and seg.edition == "2017"
    assert dict(seg.cp) == {"RtdInterval": "30"}


def test_realtime_upload_becomes_a_report_with_flags_as_quality_and_a_9014_answer() -> None:
    cp = "DataTime=20261202120000;a34004-Rtd=36.5,a34004-Flag=N;a34002-Rtd=80,a34002-Flag=D;a21026-Rtd=9,a21026-Flag=T"
    (event,) = Hj212Protocol().framer().feed(_upload("2011", cp))
    assert isinstance(event, Report)
    assert (event.station, event.function, event.password) == ("AQM0000000000001", "2011", "123456")
    got = {o.code: (o.value, o.quality, o.ts_ms) for o in event.observations}
    assert got == {
        "a34004-Rtd": (36.5, Quality.GOOD, NOW),
        "a34002-Rtd": (80.0, Quality.DEVICE_EXCEPTION, NOW),
        "a21026-Rtd": (9.0, Quality.OUT_OF_RANGE, NOW),
    }
    assert event.reply is not None
    answer = parse_segment(event.reply[6:-6].decode())
    assert (answer.cn, answer.st, answer.qn, answer.mn) == ("9014", "91", "20261202120000123", "AQM0000000000001")


def test_minute_hourly_daily_and_running_state_uploads_are_reports() -> None:
    framer = Hj212Protocol().framer()
    for cn in ("2051", "2061", "2031"):
        cp = "DataTime=20261202110000;a34004-Avg=30,a34004-Min=20,a34004-Max=40,a34004-Flag=N"
        (event,) = framer.feed(_upload(cn, cp))
        assert isinstance(event, Report) and event.function == cn
        assert {o.code for o in event.observations} == {"a34004-Avg", "a34004-Min", "a34004-Max"}
    (state,) = framer.feed(_upload("2021", "DataTime=20261202110000;SB1-RS=1"))
    assert isinstance(state, Report) and state.observations[0].value == 1.0


def test_no_answer_is_sent_when_flag_does_not_ask_for_one() -> None:
    (event,) = Hj212Protocol().framer().feed(_upload("2011", "DataTime=20261202120000;a34004-Rtd=1", flag=4))
    assert isinstance(event, Report) and event.reply is None


def test_a_resent_upload_has_the_same_key() -> None:
    framer = Hj212Protocol().framer()
    pkt = _upload("2011", "DataTime=20261202120000;a34004-Rtd=1")
    first, again = framer.feed(pkt + pkt)
    assert isinstance(first, Report) and isinstance(again, Report) and first.key == again.key


def test_split_upload_packets_are_each_a_report_and_share_the_first_ones_time() -> None:
    framer = Hj212Protocol().framer()
    one = packet(b"QN=1;ST=22;CN=2061;PW=1;MN=M;Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20261202110000;a34004-Avg=1&&")
    two = packet(b"QN=1;ST=22;CN=2061;PW=1;MN=M;Flag=7;PNUM=2;PNO=2;CP=&&a34002-Avg=2&&")
    a, b = framer.feed(one + two)
    assert isinstance(a, Report) and isinstance(b, Report) and a.key != b.key
    assert a.observations[0].ts_ms == b.observations[0].ts_ms


def test_garbage_before_a_packet_is_refused_and_the_packet_kept() -> None:
    events = (
        Hj212Protocol().framer().feed(b"\x00\xffAT+OK\r\n#" + _upload("2011", "DataTime=20261202120000;a34004-Rtd=1"))
    )
    assert [type(e) for e in events] == [Refusal, Report]
    assert isinstance(events[0], Refusal) and events[0].reason == "garbage"


def test_a_packet_split_across_reads_is_put_together() -> None:
    framer = Hj212Protocol().framer()
    pkt = _upload("2011", "DataTime=20261202120000;a34004-Rtd=1")
    assert next(e for i in range(len(pkt)) for e in framer.feed(pkt[i : i + 1])).__class__ is Report


def test_bad_crc_bad_length_and_oversize_are_refused_with_their_reasons() -> None:
    pkt = bytearray(_upload("2011", "DataTime=20261202120000;a34004-Rtd=1"))
    pkt[-3] = ord("0") if pkt[-3] != ord("0") else ord("1")
    framer = Hj212Protocol().framer()
    reasons = [e.reason for e in framer.feed(bytes(pkt)) if isinstance(e, Refusal)]
    reasons += [e.reason for e in framer.feed(b"##12ab") if isinstance(e, Refusal)]
    reasons += [e.reason for e in framer.feed(b"##9999" + b"x" * 10) if isinstance(e, Refusal)]
    assert reasons[:3] == ["bad_crc", "bad_length", "frame_too_long"]


def test_a_packet_cut_off_by_a_hang_up_is_refused_as_truncated() -> None:
    framer = Hj212Protocol().framer()
    assert framer.feed(_upload("2011", "DataTime=20261202120000;a34004-Rtd=1")[:40]) == []
    (event,) = framer.close()
    assert isinstance(event, Refusal) and event.reason == "truncated"


def test_answers_to_the_hubs_commands_are_control_events() -> None:
    framer = Hj212Protocol().framer()
    answer = packet(b"QN=20261202120000123;ST=91;CN=9012;PW=1;MN=M;Flag=4;CP=&&ExeRtn=1&&")
    (event,) = framer.feed(answer)
    assert isinstance(event, Control) and event.function == "9012" and event.payload["ExeRtn"] == "1"


def test_time_calibration_request_is_answered_with_the_hubs_time() -> None:
    proto = Hj212Protocol(clock=lambda: NOW)
    (event,) = proto.framer().feed(_upload("1013", ""))
    assert isinstance(event, Control) and event.reply is not None
    seg = parse_segment(event.reply[6:-6].decode())
    assert seg.cn == "1012" and dict(seg.cp)["SystemTime"] == "20261202120000"


def test_downlink_time_calibration_command_1012() -> None:
    frame = Hj212Protocol(clock=lambda: NOW).command("M1", "pw", "clock_set", {"ts_ms": NOW})
    seg = parse_segment(frame[6:-6].decode())
    assert (seg.cn, seg.mn, seg.pw, seg.flag, dict(seg.cp)) == ("1012", "M1", "pw", 5, {"SystemTime": "20261202120000"})
    assert frame[-6:-2] == crc_hex(frame[6:-6])


def test_bounded_fuzz_never_raises_and_every_refusal_has_a_reason() -> None:
    rng = random.Random(212)
    good = _upload("2011", "DataTime=20261202120000;a34004-Rtd=1,a34004-Flag=N")
    reports = 0
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(0, 6)):
            op = rng.random()
            i = rng.randrange(len(data))
            if op < 0.4:
                data[i] = rng.randrange(256)
            elif op < 0.7:
                del data[i]
            else:
                data.insert(i, rng.choice(b"#;=,&-\r\n0123456789ABCDEF"))
        events = Hj212Protocol().framer().feed(bytes(data) + good)
        assert events, "a valid packet after the damaged one is always found"
        assert isinstance(events[-1], Report)
        for e in events:
            assert not isinstance(e, Refusal) or (e.reason and e.detail)
        reports += sum(isinstance(e, Report) for e in events)
    assert reports >= 3000


def test_a_2005_edition_upload_is_answered_with_the_2005_flag() -> None:
    # HJ/T 212-2005 has no version bits: Flag 1 asks for an answer, and the answer carries Flag 0.
    (event,) = Hj212Protocol().framer().feed(_upload("2011", "DataTime=20261202120000;011-Rtd=20.5", flag=1))
    assert isinstance(event, Report) and event.extra["edition"] == "2005"
    assert event.reply is not None
    answer = parse_segment(event.reply[6:-6].decode())
    assert (answer.cn, answer.flag) == ("9014", 0)


def _annex_a_crc(data: bytes) -> int:
    """HJ 212-2017 Annex A's CRC as the standard writes it: bit by bit."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def test_the_table_driven_crc_is_the_annex_a_algorithm() -> None:
    rng = random.Random(16)
    for size in [0, 1, 2, *range(3, 1100, 37)]:
        data = bytes(rng.randrange(256) for _ in range(size))
        assert crc16(data) == _annex_a_crc(data), size
