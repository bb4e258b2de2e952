"""Frames the central station sends: confirmations (clause 6.5, modes M2/M3) and commands (M4).

A confirmation echoes the report's function, serial number and send time in a
downlink frame whose end character says what the station does next: ESC (1BH)
keep the link open, EOT (04H) hang up, ACK (06H) a multi-packet report arrived
whole, NAK (15H) re-send the packet named in the packet information. A command
ends with ENQ (05H). The worked example of clause 6.5 answers the test report
``...30002B02 0003 591011154947...`` with ``7E7E 0012345678 01 1234 30 8008 02
0003 591011154947 1B 75D4``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.stations.errors import StationError
from hub.stations.sl651 import bcd, codes, elements
from hub.stations.sl651.answers import BASIC_NAMES, RUNTIME_NAMES
from hub.stations.sl651.frames import Encoding, Frame, build

RUNTIME_DEFINITIONS: dict[int, int] = {
    0x20: 0x08,
    0x21: 0x08,
    0x22: 0x08,
    0x23: 0x10,
    0x24: 0x08,
    0x25: 0x09,
    0x26: 0x08,
    0x27: 0x08,
    **{0x27 + n: 0x23 for n in range(1, 9)},
    **{0x2F + n: 0x1B for n in range(1, 9)},
    **{0x37 + n: 0x12 for n in range(1, 9)},
}
"""Data definitions of the runtime parameters (Table 12), used to encode 42H/43H."""

ACTIONS: dict[str, codes.Function] = {
    "query_realtime": codes.Function.REALTIME,
    "query_elements": codes.Function.ELEMENTS,
    "clock_query": codes.Function.GET_CLOCK,
    "clock_set": codes.Function.SET_CLOCK,
    "query_basic_config": codes.Function.GET_BASIC,
    "set_basic_config": codes.Function.SET_BASIC,
    "query_runtime_params": codes.Function.GET_RUNTIME,
    "set_runtime_params": codes.Function.SET_RUNTIME,
}
"""Downlink command names (the gateway's command API) and their function codes."""


def prefix(encoding: Encoding, serial: int, sent_ms: int) -> bytes:
    """Serial number and send time, the start of every body."""
    if encoding == "ascii":
        return f"{serial & 0xFFFF:04X}{bcd.cst_digits(sent_ms)}".encode("ascii")
    return (serial & 0xFFFF).to_bytes(2, "big") + bcd.cst_bytes(sent_ms)


def confirm(frame: Frame, serial: int, sent_ms: int, end: int, packet: tuple[int, int] | None = None) -> bytes:
    """The central station's answer to an uplink ``frame`` (echoing its serial and send time)."""
    return build(
        encoding=frame.encoding,
        down=True,
        center=frame.center,
        station=frame.station,
        password=frame.password,
        function=frame.function,
        body=prefix(frame.encoding, serial, sent_ms),
        end=end,
        packet=packet,
    )


def command(
    *,
    station: str,
    password: str,
    center: int,
    serial: int,
    now_ms: int,
    action: str,
    args: Mapping[str, Any],
    encoding: Encoding = "hex",
) -> bytes:
    """Encode a downlink command; raise :class:`StationError` for an unknown action or argument."""
    function = ACTIONS.get(action)
    if function is None:
        raise StationError("unknown_action", f"SL 651 has no command {action!r}; known: {sorted(ACTIONS)}")
    if len(station) != 10 or len(password) != 4:
        raise StationError("bad_argument", "station is 10 hex digits and password 4")
    sent_ms = int(args.get("time_ms", now_ms)) if function == codes.Function.SET_CLOCK else now_ms
    try:
        body = prefix(encoding, serial, sent_ms) + _arguments(function, station, args, encoding)
    except ValueError as exc:  # a value that does not fit its data definition, or bad hex
        raise StationError("bad_argument", f"{action}: {exc}") from exc
    return build(
        encoding=encoding,
        down=True,
        center=center,
        station=station.upper(),
        password=password.upper(),
        function=function,
        body=body,
        end=codes.ENQ,
    )


def _arguments(function: codes.Function, station: str, args: Mapping[str, Any], encoding: Encoding) -> bytes:
    ascii_address = b" ST " + station.upper().encode("ascii")
    address = ascii_address if encoding == "ascii" else b"\xf1\xf1" + bytes.fromhex(station)
    if function == codes.Function.ELEMENTS:
        out = bytearray()
        for code in args.get("elements", ()):
            element = elements.BY_CODE.get(str(code))
            if element is None:
                raise StationError("bad_argument", f"unknown element code {code!r}")
            out += f" {element.code}".encode("ascii") if encoding == "ascii" else bytes([element.ident, 0])
        return bytes(out)
    if function in (codes.Function.GET_BASIC, codes.Function.GET_RUNTIME):
        names = BASIC_NAMES if function == codes.Function.GET_BASIC else RUNTIME_NAMES
        idents = [_ident(names, p) for p in args.get("params", names)]
        if encoding == "ascii":
            return address + b"".join(f" {i:02X}".encode("ascii") for i in idents)
        return address + b"".join(bytes([i, RUNTIME_DEFINITIONS.get(i, 0)]) for i in idents)
    if function in (codes.Function.SET_BASIC, codes.Function.SET_RUNTIME):
        params = args.get("params")
        if not isinstance(params, Mapping) or not params:
            raise StationError("bad_argument", "params must map parameter names to values")
        basic = function == codes.Function.SET_BASIC
        out = bytearray(address)
        for name, value in params.items():
            ident = _ident(BASIC_NAMES if basic else RUNTIME_NAMES, name)
            if encoding == "ascii":
                out += f" {ident:02X} {value}".encode("ascii")
            elif basic:
                raw = bytes.fromhex(str(value))
                out += bytes([ident, len(raw) << 3]) + raw
            else:
                definition = RUNTIME_DEFINITIONS.get(ident, 0x20)
                out += bytes([ident, definition]) + bcd.encode(float(value), definition >> 3, definition & 7)
        return bytes(out)
    return b""


def _ident(names: Mapping[int, str], param: object) -> int:
    by_name = {v: k for k, v in names.items()}
    if isinstance(param, int):
        return param
    if str(param) in by_name:
        return by_name[str(param)]
    try:
        return int(str(param), 16)
    except ValueError:
        raise StationError("bad_argument", f"unknown parameter {param!r}") from None
