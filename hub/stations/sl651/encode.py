"""Build uplink SL 651 frames as a remote station does (the simulator, tests, field checks).

The layouts are those the gateway parses (:mod:`.body`, :mod:`.asciibody`):
serial and send time, ``ST`` station + class, ``TT`` observation time, then
elements with the data definitions of Appendix C. A value of ``None`` is sent
as the "no data" fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.stations.sl651 import bcd, codes, elements
from hub.stations.sl651.downlink import prefix
from hub.stations.sl651.frames import Encoding, build

Value = float | None
Item = tuple[str, Value | Sequence[Value]]
"""An element code with one value, or twelve for DRP/DRZn."""

_CLASS_BYTES = {name: code for code, name in codes.STATION_CLASSES.items()}


@dataclass(frozen=True, slots=True)
class Station:
    """Who sends: address (10 hex digits), password (4), central station address, class, encoding."""

    address: str
    password: str = "0000"  # noqa: S105 - the factory default RTUs ship with, sent in clear by the standard
    center: int = 1
    station_class: str = "rainfall"
    encoding: Encoding = "hex"


def frame(station: Station, function: int, body: bytes, *, packet: tuple[int, int] | None = None) -> bytes:
    """Wrap ``body`` in an uplink frame of ``station`` (ETB for every packet but the last)."""
    end = codes.ETB if packet is not None and packet[1] < packet[0] else codes.ETX
    return build(
        encoding=station.encoding,
        down=False,
        center=station.center,
        station=station.address,
        password=station.password,
        function=function,
        body=body,
        end=end,
        packet=packet,
    )


def keepalive(station: Station, *, serial: int, sent_ms: int) -> bytes:
    """Link keep-alive (2FH): serial and send time only."""
    return frame(station, codes.Function.KEEPALIVE, prefix(station.encoding, serial, sent_ms))


def report(
    station: Station,
    function: int,
    *,
    serial: int,
    sent_ms: int,
    obs_ms: int,
    items: Sequence[Item],
    step_ms: int | None = None,
) -> bytes:
    """A report (30H..34H, or an answer to 37H) with ``items``; ``step_ms`` makes it uniform-interval (31H)."""
    return frame(station, function, report_body(station, serial, sent_ms, obs_ms, items, step_ms))


def report_body(
    station: Station, serial: int, sent_ms: int, obs_ms: int, items: Sequence[Item], step_ms: int | None = None
) -> bytes:
    """The body of a report: prefix, ST, TT, (step), elements."""
    head = prefix(station.encoding, serial, sent_ms)
    if station.encoding == "ascii":
        letter = chr(_CLASS_BYTES[station.station_class])
        parts = [head.decode("ascii"), "ST", station.address, letter, "TT", bcd.cst_digits(obs_ms, seconds=False)]
        if step_ms is not None:
            parts.append(_ascii_step(step_ms))
        for code, value in items:
            parts += [code, *_ascii_values(code, value)]
        return " ".join(parts).encode("ascii")
    out = bytearray(head)
    out += b"\xf1\xf1" + bytes.fromhex(station.address) + bytes([_CLASS_BYTES[station.station_class]])
    out += b"\xf0\xf0" + bcd.cst_bytes(obs_ms, seconds=False)
    if step_ms is not None:
        minutes = step_ms // 60_000
        ddhhmm = f"{minutes // 1440:02d}{minutes // 60 % 24:02d}{minutes % 60:02d}"
        out += bytes([elements.STEP, 0x18]) + bytes.fromhex(ddhhmm)
    for code, value in items:
        out += _hex_item(code, value)
    return bytes(out)


def manual(station: Station, *, serial: int, sent_ms: int, text: str) -> bytes:
    """Manual set-number report (35H): the ``F2 F2`` text."""
    head = prefix(station.encoding, serial, sent_ms)
    if station.encoding == "ascii":
        return frame(station, codes.Function.MANUAL, head + b" RGZS " + text.encode("ascii"))
    return frame(station, codes.Function.MANUAL, head + b"\xf2\xf2" + text.encode("ascii"))


def image(station: Station, *, serial: int, sent_ms: int, obs_ms: int, data: bytes, packet_size: int) -> list[bytes]:
    """An image report (36H) cut into packets of at most ``packet_size`` body bytes."""
    body = (
        prefix("hex", serial, sent_ms)
        + b"\xf1\xf1"
        + bytes.fromhex(station.address)
        + bytes([_CLASS_BYTES[station.station_class]])
        + b"\xf0\xf0"
        + bcd.cst_bytes(obs_ms, seconds=False)
        + b"\xf3\xf3"
        + data
    )
    chunks = [body[i : i + packet_size] for i in range(0, len(body), packet_size)]
    return [frame(station, codes.Function.IMAGE, c, packet=(len(chunks), k + 1)) for k, c in enumerate(chunks)]


def _hex_item(code: str, value: Value | Sequence[Value]) -> bytes:
    if code == "DRP" or code.startswith("DRZ"):
        values = _many(code, value)
        width, scale = (1, 10) if code == "DRP" else (2, 100)
        ident = elements.DRP if code == "DRP" else elements.DRZ_FIRST + int(code[3:]) - 1
        raw = b"".join(b"\xff" * width if v is None else round(v * scale).to_bytes(width, "big") for v in values)
        return bytes([ident, len(raw) << 3]) + raw
    if code == "ZT":
        number = _one(code, value)
        raw = b"\xff" * 4 if number is None else int(number).to_bytes(4, "big")
        return bytes([elements.ZT, 0x20]) + raw
    element = elements.BY_CODE[code]
    length, decimals = element.definition >> 3, element.decimals
    if isinstance(value, Sequence):  # the list of a uniform-interval report
        raw = b"".join(bcd.encode(v, length, decimals) for v in value)
    else:
        raw = bcd.encode(value, length, decimals)
    return bytes([element.ident, element.definition]) + raw


def _ascii_values(code: str, value: Value | Sequence[Value]) -> list[str]:
    if code == "DRP" or code.startswith("DRZ"):
        width, scale = (2, 10) if code == "DRP" else (4, 100)
        return ["".join("F" * width if v is None else f"{round(v * scale):0{width}X}" for v in _many(code, value))]
    if code == "ZT":
        number = _one(code, value)
        return ["FFFFFFFF" if number is None else f"{int(number):08X}"]
    decimals = elements.BY_CODE[code].decimals
    values = list(value) if isinstance(value, Sequence) else [value]
    return ["FFFF" if v is None else f"{v:.{decimals}f}" for v in values]


def _ascii_step(step_ms: int) -> str:
    minutes = step_ms // 60_000
    if minutes % 1440 == 0:
        return f"DRD{minutes // 1440:02d}"
    if minutes % 60 == 0:
        return f"DRH{minutes // 60:02d}"
    return f"DRN{minutes:02d}"


def _many(code: str, value: Value | Sequence[Value]) -> Sequence[Value]:
    if not isinstance(value, Sequence):
        raise TypeError(f"{code} takes a list of values")
    return value


def _one(code: str, value: Value | Sequence[Value]) -> Value:
    if isinstance(value, Sequence):
        raise TypeError(f"{code} takes one value")
    return value
