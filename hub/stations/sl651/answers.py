"""The station's answers to the central station's queries (mode M4), as ``Control`` payloads.

* 37H/3AH (real-time / given elements): the body of a report (clause 7.2.3.8);
  the payload's ``observations`` are the values, not stored by the gateway.
* 51H/4AH (clock query / set): serial, the station's clock as send time, ``F1 F1``
  + address (clause 7.2.3.19/7.2.3.15); the payload has ``clock_ms`` (UTC).
* 40H/41H (basic configuration) and 42H/43H (runtime parameters): serial, send
  time, ``F1 F1`` + address, then ``identifier`` + data definition + value
  groups (clause 7.2.3.11-7.2.3.14, Tables 11 and 12).
"""

from __future__ import annotations

from typing import Any

from hub.stations.sl651 import asciibody, bcd, body, codes
from hub.stations.sl651.bcd import BcdError
from hub.stations.sl651.frames import Frame

BASIC_NAMES: dict[int, str] = {
    0x01: "center_addresses",
    0x02: "station_address",
    0x03: "password",
    0x04: "center1_main_channel",
    0x05: "center1_backup_channel",
    0x06: "center2_main_channel",
    0x07: "center2_backup_channel",
    0x08: "center3_main_channel",
    0x09: "center3_backup_channel",
    0x0A: "center4_main_channel",
    0x0B: "center4_backup_channel",
    0x0C: "work_mode",
    0x0D: "elements",
    0x0E: "relay_stations",
    0x0F: "device_id",
}
"""Table 11: basic configuration identifiers (values kept as hex text, the work mode as M1..M4)."""

RUNTIME_NAMES: dict[int, str] = {
    0x20: "timed_report_interval_h",
    0x21: "added_report_interval_min",
    0x22: "rain_day_start_hour",
    0x23: "sampling_interval_s",
    0x24: "water_level_storage_interval_min",
    0x25: "rain_resolution_mm",
    0x26: "water_level_resolution_cm",
    0x27: "rain_added_threshold_mm",
    **{0x27 + n: f"water_level_base_{n}_m" for n in range(1, 9)},
    **{0x2F + n: f"water_level_correction_{n}_m" for n in range(1, 9)},
    **{0x37 + n: f"added_water_level_{n}_m" for n in range(1, 9)},
}
"""Table 12: runtime parameter identifiers (values are BCD numbers)."""

WORK_MODES = {1: "M1", 2: "M2", 3: "M3", 4: "M4"}


def decode(frame: Frame) -> dict[str, Any]:
    """Decode the answer ``frame`` into a payload; raise :class:`BcdError` for a bad serial/send time."""
    function = frame.function
    if frame.encoding == "ascii":
        return _ascii(frame)
    if function in (codes.Function.REALTIME, codes.Function.ELEMENTS):
        parsed = body.parse(frame.body, function)
        return _observations(parsed)
    serial, sent = body.prefix(frame.body)
    payload: dict[str, Any] = {"serial": serial, "clock_ms": sent}
    rest = frame.body[8:]
    if rest[:2] == b"\xf1\xf1":
        payload["station"] = rest[2:7].hex().upper()
        rest = rest[7:]
    if function in (codes.Function.GET_BASIC, codes.Function.SET_BASIC):
        payload["params"], payload["errors"] = _groups(rest, basic=True)
    elif function in (codes.Function.GET_RUNTIME, codes.Function.SET_RUNTIME):
        payload["params"], payload["errors"] = _groups(rest, basic=False)
    return payload


def _observations(parsed: body.Body) -> dict[str, Any]:
    return {
        "serial": parsed.serial,
        "clock_ms": parsed.sent_ms,
        "station_class": parsed.station_class,
        "observations": tuple(parsed.observations),
        "errors": parsed.errors,
    }


def _groups(raw: bytes, *, basic: bool) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    names = BASIC_NAMES if basic else RUNTIME_NAMES
    params: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    i = 0
    while i + 1 < len(raw):
        ident, definition = raw[i], raw[i + 1]
        size, decimals = definition >> 3, definition & 0x07
        value = raw[i + 2 : i + 2 + size]
        i += 2 + size
        name = names.get(ident, f"param_{ident:02X}")
        if len(value) < size:
            errors.append(("truncated_element", f"{name}: {size} bytes announced, {len(value)} left"))
            break
        if basic:
            params[name] = WORK_MODES.get(value[0], value.hex().upper()) if ident == 0x0C else value.hex().upper()
            continue
        try:
            params[name] = bcd.decode(value, decimals).value
        except BcdError as exc:
            errors.append((exc.reason, f"{name}: {exc}"))
    if i < len(raw):
        errors.append(("truncated_element", f"{len(raw) - i} stray bytes after the parameters"))
    return params, errors


def _ascii(frame: Frame) -> dict[str, Any]:
    if frame.function in (codes.Function.REALTIME, codes.Function.ELEMENTS):
        return _observations(asciibody.parse(frame.body, frame.function))
    parts = asciibody.tokens(frame.body)
    serial, sent, used = asciibody.prefix(parts)
    payload: dict[str, Any] = {"serial": serial, "clock_ms": sent}
    rest = parts[used:]
    if rest[:1] == ["ST"] and len(rest) > 1:
        payload["station"], rest = rest[1].upper(), rest[2:]
    if rest:
        basic = frame.function in (codes.Function.GET_BASIC, codes.Function.SET_BASIC)
        names = BASIC_NAMES if basic else RUNTIME_NAMES
        params: dict[str, Any] = {}
        for k in range(0, len(rest) - 1, 2):
            ident, text = rest[k].upper(), rest[k + 1]
            known = int(ident, 16) if len(ident) == 2 and all(c in "0123456789ABCDEF" for c in ident) else None
            name = names.get(known, f"param_{ident}") if known is not None else f"param_{ident}"
            params[name] = text if basic or not asciibody.is_number(text) else float(text)
        payload["params"] = params
    return payload
