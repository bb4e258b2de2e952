"""The body of an uplink report in the ASCII encoding, turned into observations.

Clause 6.6 (ASCII): the same groups as the HEX body written as text separated
by spaces: serial number (4 hex characters) and send time (12 digits), ``ST``
address (10 characters) and station class letter, ``TT`` observation time (10
digits), then ``identifier value`` pairs with the ASCII identifiers of
Appendix C (``PJ 4.0``, ``Z 10.490``, ``VT 12.09``), a minus sign for negative
values, and ``DRxnn`` (x = D day, H hour, N minute) as the time step of a
uniform-interval report followed by one identifier and its list of values.
``DRP``/``DRZn`` carry 24/48 hex characters (twelve 5-minute values), ``ZT``
eight hex characters; a value of only ``F`` characters is "no data".
"""

from __future__ import annotations

import re

from hub.stations.sl651 import bcd, codes, elements
from hub.stations.sl651.bcd import BcdError
from hub.stations.sl651.body import Body, five_minute

_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_STEP = re.compile(r"DR([DHN])(\d\d)")
_STEP_MS = {"D": 86_400_000, "H": 3_600_000, "N": 60_000}
_HEX = frozenset("0123456789ABCDEFabcdef")
_CLASS_BY_LETTER = {chr(k): v for k, v in codes.STATION_CLASSES.items()}


def tokens(body: bytes) -> list[str]:
    """Split an ASCII body into its space-separated tokens."""
    return body.decode("ascii", "replace").split()


def prefix(parts: list[str]) -> tuple[int, int, int]:
    """Return (serial, send time in UTC ms, tokens used) of an ASCII body."""
    if parts and len(parts[0]) == 16:
        head, used = parts[0], 1
    elif len(parts) >= 2:
        head, used = parts[0] + parts[1], 2
    else:
        raise BcdError("short_body", "body lacks serial number and send time")
    serial = head[:4]
    if len(head) != 16 or not all(c in _HEX for c in serial):
        raise BcdError("short_body", f"not a serial number and send time: {head!r}")
    return int(serial, 16), bcd.cst_text_ms(head[4:]), used


def parse(body: bytes, function: int) -> Body:
    """Parse an ASCII report body (raises :class:`BcdError` only for a bad serial/send time)."""
    parts = tokens(body)
    serial, sent, i = prefix(parts)
    out = Body(serial, sent)
    step_ms = 0
    while i < len(parts):
        ident, pos = parts[i].upper(), i + 1
        values, i = _values(parts, pos, ident)
        if ident == "ST":
            if len(values) < 1 or len(values[0]) != 10:
                out.errors.append(("bad_element", f"ST group {values!r}"))
                continue
            out.station = values[0].upper()
            letter = values[1] if len(values) > 1 else ""
            out.station_class = _CLASS_BY_LETTER.get(letter, letter or None)
        elif ident == "TT":
            try:
                out.obs_ms = bcd.cst_text_ms(values[0] if values else "")
            except BcdError as exc:
                out.errors.append((exc.reason, f"observation time: {exc}"))
                break
        elif ident == "RGZS":
            out.text = " ".join(parts[pos:])
            break
        elif out.obs_ms is None:
            out.errors.append(("missing_obs_time", f"{ident} before any observation time (TT)"))
        elif (step := _STEP.fullmatch(ident)) is not None:
            step_ms = int(step.group(2)) * _STEP_MS[step.group(1)]
        elif not values:
            out.errors.append(("truncated_element", f"{ident} without a value"))
        elif function == codes.Function.UNIFORM and step_ms:
            for k, text in enumerate(values):
                _value(out, ident, text, out.obs_ms + k * step_ms)
        else:
            if len(values) > 1:
                out.errors.append(("bad_element", f"{ident}: {len(values)} values where one is due"))
            _value(out, ident, values[0], out.obs_ms)
    return out


def _values(parts: list[str], i: int, ident: str) -> tuple[list[str], int]:
    """Collect the value tokens after an identifier (a fixed count for the special groups)."""
    fixed = {"ST": 2, "TT": 1, "DRP": 1, "ZT": 1}.get(ident, 1 if ident.startswith("DRZ") else 0)
    if fixed:
        return parts[i : i + fixed], i + fixed
    if _STEP.fullmatch(ident):
        return [], i
    j = i
    while j < len(parts) and (_NUMBER.fullmatch(parts[j]) or _fill(parts[j])):
        j += 1
    return parts[i:j], j


def is_number(text: str) -> bool:
    """Tell whether ``text`` is a decimal number as ASCII bodies write them."""
    return _NUMBER.fullmatch(text) is not None


def _fill(text: str) -> bool:
    return bool(text) and set(text.upper()) == {"F"}


def _value(out: Body, code: str, text: str, ts: int) -> None:
    unit = elements.unit_of(code)
    if code == "DRP" or code.startswith("DRZ"):
        if len(text) % 2 or any(c not in _HEX for c in text):
            out.bad(code, ts, "bad_element", f"{text!r} is not hex")
        else:
            five_minute(out, code, bytes.fromhex(text), ts)
        return
    if _fill(text):
        out.add(code, bcd.NO_DATA, ts, unit)
    elif code == "ZT" and all(c in _HEX for c in text):
        out.add(code, bcd.Number(float(int(text, 16))), ts)
    elif _NUMBER.fullmatch(text):
        out.add(code, bcd.Number(float(text)), ts, unit)
    else:
        out.bad(code, ts, "bad_value", f"{text!r} is not a number")
