"""The SL 651 framer on a real byte stream: resynchronisation, limits, refusals, and a bounded fuzz."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysense.quality import Quality
from hub.stations.base import Control, Event, Refusal, Report
from hub.stations.sl651 import encode
from hub.stations.sl651.codes import REFUSAL_REASONS
from hub.stations.sl651.crc import crc16
from hub.stations.sl651.protocol import Sl651Protocol
from tests.stations.test_sl651_examples import KEEPALIVE, TEST_REPORT, TIMED_REPORT, cst

OBS = cst(2026, 7, 5, 14, 0)
STATION = encode.Station("0012345678", "1234", 1, "river", "hex")


def feed(*chunks: bytes, max_frame: int = 4200) -> list[Event]:
    framer = Sl651Protocol(max_frame=max_frame).framer()
    return [e for c in chunks for e in framer.feed(c)]


def reasons(events: list[Event]) -> list[str]:
    return [e.reason for e in events if isinstance(e, Refusal)]


def with_crc(frame: bytes) -> bytes:
    return frame + crc16(frame).to_bytes(2, "big")


def test_garbage_before_a_frame_is_one_refusal_and_the_frame_still_arrives() -> None:
    noise = b"\x00\x01\x7e\x01ATZ\r\n+++\x7e\x7e\x99\x01\x02"
    events = feed(noise + TEST_REPORT)
    assert reasons(events) == ["garbage"]
    assert [e.function for e in events if isinstance(e, Report)] == ["30"]


def test_noise_that_looks_like_a_long_header_does_not_hold_back_the_next_frame() -> None:
    # 7E7E, addresses, flag 0 + length 4000, STX: a plausible header whose frame never comes
    bogus = bytes.fromhex("7E7E01001234567812343" + "20FA002")
    events = feed(bogus + TEST_REPORT)
    assert reasons(events) == ["garbage"]
    assert [e.function for e in events if isinstance(e, Report)] == ["30"]


def test_a_frame_split_into_single_bytes_gives_the_same_events_as_whole() -> None:
    stream = KEEPALIVE + TEST_REPORT + TIMED_REPORT
    whole = feed(stream)
    assert feed(*(stream[i : i + 1] for i in range(len(stream)))) == whole
    assert [type(e) for e in whole] == [Control, Report, Report]


def test_a_station_that_disconnects_mid_frame_leaves_nothing_half_decoded() -> None:
    framer = Sl651Protocol().framer()
    assert framer.feed(TEST_REPORT[:40]) == []


def test_bad_crc_is_refused_and_the_next_frame_is_kept() -> None:
    broken = TEST_REPORT[:-1] + bytes([TEST_REPORT[-1] ^ 0xFF])
    events = feed(broken + TIMED_REPORT)
    assert reasons(events) == ["bad_crc"]
    assert [e.function for e in events if isinstance(e, Report)] == ["32"]


def test_wrong_length_is_refused_and_the_next_frame_is_kept() -> None:
    wrong = bytearray(TEST_REPORT)
    wrong[12] += 1  # the body length now ends one byte past ETX
    events = feed(bytes(wrong) + TIMED_REPORT)
    assert reasons(events)[0] == "bad_length"
    assert [e.function for e in events if isinstance(e, Report)] == ["32"]


def test_frame_larger_than_the_limit_is_refused() -> None:
    items: list[encode.Item] = [("PJ", 1.0), ("PT", 2.0), ("Z", 3.0), ("VT", 12.0), ("Q", 4.0), ("C", 5.0)]
    big = encode.report(STATION, 0x32, serial=1, sent_ms=OBS, obs_ms=OBS, items=items)
    assert len(big) > 64
    events = feed(big + KEEPALIVE, max_frame=64)
    assert reasons(events)[0] == "frame_too_large"
    assert any(isinstance(e, Control) for e in events)


def test_unknown_function_is_refused_with_the_station_named() -> None:
    frame = bytearray(KEEPALIVE[:-2])
    frame[10] = 0x99
    [event] = feed(with_crc(bytes(frame)))
    assert isinstance(event, Refusal) and event.reason == "unknown_function" and event.station == "0012345678"


def test_downlink_frame_from_a_station_is_refused() -> None:
    events = feed(bytes.fromhex("7E7E00123456780112343080080200035910111549471B75D4"))
    assert reasons(events) == ["bad_direction"]


def test_truncated_element_keeps_the_values_before_it() -> None:
    body = encode.report_body(STATION, 1, OBS, OBS, [("PJ", 1.5), ("Z", 2.0)]) + bytes([0x38, 0x28, 0x12])
    frame = with_crc(TEST_REPORT[:11] + len(body).to_bytes(2, "big") + b"\x02" + body + b"\x03")
    events = feed(frame)
    report = next(e for e in events if isinstance(e, Report))
    assert [(o.code, o.value) for o in report.observations] == [("PJ", 1.5), ("Z", 2.0)]
    assert reasons(events) == ["truncated_element"]
    assert report.reply is not None  # CRC-valid: re-sending would not help, so it is confirmed once stored


def test_bad_bcd_digit_spoils_only_its_value() -> None:
    body = encode.report_body(STATION, 1, OBS, OBS, [("PJ", 1.5), ("VT", 12.0)]).replace(
        b"\x38\x12\x12\x00", b"\x38\x12\x1a\x00"
    )
    frame = with_crc(TEST_REPORT[:11] + len(body).to_bytes(2, "big") + b"\x02" + body + b"\x03")
    events = feed(frame)
    report = next(e for e in events if isinstance(e, Report))
    assert [(o.code, o.value, o.quality) for o in report.observations] == [
        ("PJ", 1.5, Quality.GOOD),
        ("VT", None, Quality.DECODE_ERROR),
    ]
    assert reasons(events) == ["bad_bcd"]


def test_impossible_send_time_is_refused() -> None:
    body = bytes.fromhex("0001261305120000")  # month 13
    events = feed(with_crc(KEEPALIVE[:11] + len(body).to_bytes(2, "big") + b"\x02" + body + b"\x03"))
    assert reasons(events) == ["bad_time"]


def test_body_naming_another_station_is_refused() -> None:
    other = encode.Station("0099999999", "1234", 1, "river", "hex")
    body = encode.report_body(other, 1, OBS, OBS, [("PJ", 1.5)])
    events = feed(encode.frame(STATION, 0x32, body))
    assert reasons(events) == ["address_mismatch"]


def test_resent_copy_has_the_same_key_and_the_next_report_another() -> None:
    first = encode.report(STATION, 0x32, serial=8, sent_ms=OBS, obs_ms=OBS, items=[("PJ", 1.0)])
    later = encode.report(STATION, 0x32, serial=9, sent_ms=OBS + 300_000, obs_ms=OBS + 300_000, items=[("PJ", 1.0)])
    a, b, c = (e for e in feed(first, first, later) if isinstance(e, Report))
    assert a.key == b.key != c.key


def test_every_refusal_reason_is_documented_for_operators() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "stations-sl651.md").read_text(encoding="utf-8")
    assert [r for r in REFUSAL_REASONS if f"`{r}`" not in doc] == []


ASCII = encode.Station("0012345678", "1234", 1, "river", "ascii")
VALID = [
    KEEPALIVE,
    TEST_REPORT,
    TIMED_REPORT,
    encode.report(ASCII, 0x32, serial=4, sent_ms=OBS, obs_ms=OBS, items=[("PJ", 1.5), ("Z", 2.25), ("VT", 12.1)]),
    *encode.image(STATION, serial=5, sent_ms=OBS, obs_ms=OBS, data=b"\xff\xd8" + bytes(range(200)), packet_size=64),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=80), st.sampled_from(VALID)), max_size=12), st.data())
def test_fuzz_never_raises_and_every_refusal_has_a_known_reason(chunks: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(chunks)
    # flip a few bytes of the stream, then feed it in random pieces
    flips = data.draw(st.lists(st.integers(0, max(len(stream) - 1, 0)), max_size=4))
    mutable = bytearray(stream)
    for at in flips:
        if mutable:
            mutable[at] ^= 0x5A
    cuts = sorted(data.draw(st.lists(st.integers(0, len(mutable)), max_size=6)))
    pieces = [bytes(mutable[a:b]) for a, b in zip([0, *cuts], [*cuts, len(mutable)], strict=True)]
    events = feed(*pieces)
    for event in events:
        if isinstance(event, Refusal):
            assert event.reason in REFUSAL_REASONS and event.detail
        elif isinstance(event, Report):
            assert event.reply is not None and event.key


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\x7e", b"").replace(b"\x01", b"")), max_size=8))
def test_fuzz_frames_between_noise_all_arrive(noise: list[bytes]) -> None:
    stream = b"".join(n + f for n, f in zip(noise, VALID[:4] * 2, strict=False))
    events = feed(stream)
    assert len([e for e in events if not isinstance(e, Refusal)]) == min(len(noise), 8)


def test_every_element_code_is_documented_for_station_profiles() -> None:
    from hub.stations.sl651.elements import ELEMENTS, SPECIAL_CODES

    doc = (Path(__file__).parents[2] / "docs" / "stations-sl651.md").read_text(encoding="utf-8")
    codes = [e.code for e in ELEMENTS] + list(SPECIAL_CODES)
    assert [c for c in codes if f"`{c}`" not in doc] == []


FUNCTIONS = [0x2F, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x3A, 0x40, 0x41, 0x42, 0x43, 0x4A, 0x51, 0x77]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(FUNCTIONS),
    st.sampled_from(["hex", "ascii"]),
    st.one_of(st.none(), st.tuples(st.integers(0, 4095), st.integers(0, 4095))),
    st.one_of(
        st.binary(max_size=120),
        st.builds(lambda b: encode.report_body(STATION, 1, OBS, OBS, [("PJ", 1.0)]) + b, st.binary(max_size=40)),
        st.text("0123456789ABCDEF FT.-PJZVTSDRNH", max_size=80).map(str.encode),
    ),
)
def test_fuzz_frames_with_a_valid_crc_reach_the_decoders_and_never_break_them(
    function: int, encoding: str, packet: tuple[int, int] | None, body: bytes
) -> None:
    from hub.stations.sl651 import frames

    end = 0x17 if packet and packet[1] < packet[0] else 0x03
    frame = frames.build(
        encoding=encoding,  # type: ignore[arg-type]
        down=False,
        center=1,
        station="0012345678",
        password="1234",
        function=function,
        body=body,
        end=end,
        packet=packet,
    )
    events = feed(frame)
    assert events
    assert "decode_failed" not in reasons(events)
    assert all(e.reason in REFUSAL_REASONS for e in events if isinstance(e, Refusal))


def test_ascii_packet_information_that_is_not_hex_is_refused() -> None:
    from hub.stations.sl651 import frames

    good = frames.build(
        encoding="ascii",
        down=False,
        center=1,
        station="0012345678",
        password="1234",
        function=0x36,
        body=b"0001260705140000",
        end=0x03,
        packet=(1, 1),
    )
    bad = good[:24] + b"ZZZZZZ" + good[30:-4]
    events = feed(bad + f"{crc16(bad):04X}".encode())
    assert reasons(events) == ["bad_packet"]
