"""The body of an uplink report in the HEX/BCD encoding, turned into observations.

Clause 6.6 and Appendix C: serial number (2 bytes, binary) and send time (BCD
YYMMDDhhmmss), then identifier groups: ``F1 F1`` + station address (5) +
station class (1), ``F0 F0`` + observation time (BCD YYMMDDhhmm), and elements
``identifier`` + data-definition byte (high 5 bits: byte length, low 3 bits:
decimal places) + BCD value. ``04 18`` + BCD DDHHMM is the time step of a
uniform-interval report (31H), whose one element is followed by a list of
values. ``F4`` (DRP) and ``F5``..``FC`` (DRZ1..8) carry twelve 5-minute values
of the hour ending at the observation time; ``45`` (ZT) is status bits; ``F2 F2``
manual set-number text and ``F3 F3`` image data run to the end of the body.

A bad value spoils only itself (``DECODE_ERROR``); a truncated element ends the
body, keeping what came before, and is reported as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citysense.quality import Quality
from hub.stations.base import Observation
from hub.stations.sl651 import bcd, codes, elements
from hub.stations.sl651.bcd import BcdError

FIVE_MIN_MS = 300_000


@dataclass(slots=True)
class Body:
    """What a report body said; ``errors`` are (reason, detail) of the parts that were not accepted."""

    serial: int
    sent_ms: int
    station: str | None = None
    station_class: str | None = None
    obs_ms: int | None = None
    observations: list[Observation] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None  # F2 manual set-number text
    image: bytes | None = None  # F3 image bytes

    def add(self, code: str, number: bcd.Number, ts_ms: int, unit: str = "") -> None:
        """Add one value; "no data" becomes a SENTINEL observation without a value."""
        if number.value is None:
            self.observations.append(Observation(code, None, ts_ms, Quality.SENTINEL, unit, "no data fill"))
        else:
            self.observations.append(Observation(code, number.value, ts_ms, Quality.GOOD, unit))

    def bad(self, code: str, ts_ms: int, reason: str, detail: str) -> None:
        """Record a value that could not be decoded (kept as DECODE_ERROR, and as an error)."""
        self.observations.append(Observation(code, None, ts_ms, Quality.DECODE_ERROR, elements.unit_of(code), detail))
        self.errors.append((reason, f"{code}: {detail}"))


def prefix(body: bytes) -> tuple[int, int]:
    """Return (serial, send time in UTC ms) of a body; raise :class:`BcdError` when short or not BCD."""
    if len(body) < 8:
        raise BcdError("short_body", f"body of {len(body)} bytes lacks serial number and send time")
    return int.from_bytes(body[:2], "big"), bcd.cst_ms(body[2:8])


def parse(body: bytes, function: int) -> Body:
    """Parse a report body (raises :class:`BcdError` only for a bad serial/send time)."""
    serial, sent = prefix(body)
    out = Body(serial, sent)
    i, n, step_ms = 8, len(body), 0
    while i < n:
        ident = body[i]
        if ident in (elements.ST, elements.TT, elements.RGZS, elements.PIC) and i + 1 < n and body[i + 1] == ident:
            i = _group(out, body, i + 2, ident)
            continue
        if i + 1 >= n:
            out.errors.append(("truncated_element", f"identifier {ident:02X}H without a data definition"))
            break
        code, i = _ident(body, i)
        definition = body[i]
        size, decimals = definition >> 3, definition & 0x07
        start, i = i + 1, i + 1 + size
        if i > n:
            out.errors.append(("truncated_element", f"{code}: {size} bytes announced, {n - start} left"))
            break
        if out.obs_ms is None:
            out.errors.append(("missing_obs_time", f"{code} before any observation time (F0F0)"))
            continue
        raw = body[start:i]
        if code == "04":
            step_ms = _step(out, raw)
        elif function == codes.Function.UNIFORM and step_ms and size:
            end = n - (n - start) % size
            _series(out, code, body[start:end], size, decimals, step_ms)
            if end != n:
                out.errors.append(("truncated_element", f"{code}: {n - end} bytes after the last value"))
            i = n
        else:
            _value(out, code, raw, decimals)
    return out


def _ident(body: bytes, i: int) -> tuple[str, int]:
    ident = body[i]
    if ident == elements.EXTENDED and i + 2 < len(body):
        return f"FF{body[i + 1]:02X}", i + 2
    element = elements.BY_IDENT.get(ident)
    if element is not None:
        return element.code, i + 1
    if ident == elements.DRP:
        return "DRP", i + 1
    if elements.DRZ_FIRST <= ident <= elements.DRZ_LAST:
        return f"DRZ{ident - elements.DRZ_FIRST + 1}", i + 1
    if ident == elements.ZT:
        return "ZT", i + 1
    return f"{ident:02X}", i + 1


def _group(out: Body, body: bytes, i: int, ident: int) -> int:
    if ident == elements.RGZS:
        out.text = body[i:].decode("ascii", "replace").strip()
        return len(body)
    if ident == elements.PIC:
        out.image = bytes(body[i:])
        return len(body)
    size = 6 if ident == elements.ST else 5
    raw = body[i : i + size]
    if len(raw) < size:
        out.errors.append(("truncated_element", f"{ident:02X}{ident:02X} group of {len(raw)} bytes"))
        return len(body)
    if ident == elements.ST:
        out.station = raw[:5].hex().upper()
        out.station_class = codes.STATION_CLASSES.get(raw[5], f"{raw[5]:02X}")
    else:
        try:
            out.obs_ms = bcd.cst_ms(raw)
        except BcdError as exc:
            out.errors.append((exc.reason, f"observation time: {exc}"))
            return len(body)
    return i + size


def _step(out: Body, raw: bytes) -> int:
    try:
        value = bcd.digits(raw)
    except BcdError as exc:
        out.errors.append((exc.reason, f"time step: {exc}"))
        return 0
    days, hours, minutes = value // 10000, value // 100 % 100, value % 100
    return ((days * 24 + hours) * 60 + minutes) * 60_000


def _series(out: Body, code: str, raw: bytes, size: int, decimals: int, step_ms: int) -> None:
    assert out.obs_ms is not None
    for k in range(len(raw) // size):
        _value(out, code, raw[k * size : (k + 1) * size], decimals, out.obs_ms + k * step_ms)


def _value(out: Body, code: str, raw: bytes, decimals: int, ts_ms: int | None = None) -> None:
    ts = out.obs_ms if ts_ms is None else ts_ms
    assert ts is not None
    if code == "DRP" or code.startswith("DRZ"):
        five_minute(out, code, raw, ts)
        return
    if code == "ZT":
        if bcd.is_fill(raw):
            out.add(code, bcd.NO_DATA, ts)
        else:
            out.add(code, bcd.Number(float(int.from_bytes(raw, "big"))), ts)
        return
    try:
        number = bcd.decode(raw, decimals)
    except BcdError as exc:
        out.bad(code, ts, exc.reason, str(exc))
        return
    out.add(code, number, ts, elements.unit_of(code))


def five_minute(out: Body, code: str, raw: bytes, ts: int) -> None:
    """Add DRP (1 byte, 0.1 mm) or DRZn (2 bytes, 0.01 m) values, 5 minutes apart.

    RTUs stamp the hour's list two ways: TT at hh:05, the end of its first
    interval (the values run hh:05 … hh+1:00), or TT at the whole hour, the end
    of its last one (hh-1:05 … hh:00); any other TT is taken as the last.
    """
    width, scale = (1, 10) if code == "DRP" else (2, 100)
    if not raw or len(raw) % width:
        out.bad(code, ts, "bad_element", f"{len(raw)} bytes is no list of {width}-byte values")
        return
    count = len(raw) // width
    first = ts if ts // 60_000 % 60 == 5 else ts - (count - 1) * FIVE_MIN_MS
    for k in range(count):
        part = raw[k * width : (k + 1) * width]
        number = bcd.NO_DATA if bcd.is_fill(part) else bcd.Number(int.from_bytes(part, "big") / scale)
        out.add(code, number, first + k * FIVE_MIN_MS, elements.unit_of(code))
