"""Packed and BCD register formats: decimal digits in nibbles, two fields per register.

Binary-coded decimal keeps one decimal digit per 4-bit nibble (``0x1234`` is
1234); a nibble above 9 is not a digit and the value is undecodable. Device
clocks and timers pack two byte-wide fields into one register, the larger
unit in the high byte, e.g. the EPEVER Tracer real-time clock (EPEVER "LS-B,
VS-B, Tracer-B, Tracer-A, iTracer, eTracer Series Controller Communication
Instruction" v2.5, holding registers 9013H-9015H: D15-D8 minute / D7-D0 second,
D15-D8 day / D7-D0 hour, D15-D8 year / D7-D0 month) and its "length of night"
(9065H: D15-D8 hour, D7-D0 minute). Each field is binary or BCD.

``time_hm`` is one register ``hh|mm`` reported as ``"HH:MM"``; ``datetime`` is
three registers year/month, day/hour, minute/second reported as ISO 8601
``"20YY-MM-DDThh:mm:ss"`` (no zone: the device's local time). Word order
``big`` has year/month first; ``little`` the reverse, as the EPEVER map.
"""

from __future__ import annotations

import datetime as dt

from citysense.errors import CodecError


def from_bcd(raw: int) -> int:
    """Read the nibbles of ``raw`` as decimal digits; refuse a nibble above 9."""
    if raw < 0:
        raise CodecError(f"BCD value {raw} is negative")
    value, scale = 0, 1
    while raw:
        digit = raw & 0xF
        if digit > 9:
            raise CodecError(f"nibble {digit:#x} is not a BCD digit")
        value += digit * scale
        scale *= 10
        raw >>= 4
    return value


def to_bcd(value: int, bits: int) -> int:
    """Encode a non-negative integer as BCD in ``bits`` bits."""
    if value < 0 or value >= 10 ** (bits // 4):
        raise CodecError(f"{value} does not fit {bits // 4} BCD digits")
    raw = 0
    for shift in range(0, bits, 4):
        raw |= (value % 10) << shift
        value //= 10
    return raw


def _field(byte: int, bcd: bool) -> int:
    return from_bcd(byte) if bcd else byte


def _byte(value: int, bcd: bool) -> int:
    return to_bcd(value, 8) if bcd else value


def decode_time_hm(register: int, bcd: bool) -> str:
    """``hh|mm`` in one register -> ``"HH:MM"``."""
    hours, minutes = _field(register >> 8, bcd), _field(register & 0xFF, bcd)
    if hours > 23 or minutes > 59:
        raise CodecError(f"{register:#06x} is not a time of day (hours {hours}, minutes {minutes})")
    return f"{hours:02d}:{minutes:02d}"


def encode_time_hm(text: str, bcd: bool) -> list[int]:
    """``"HH:MM"`` -> one register."""
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError:
        raise CodecError(f"{text!r} is not HH:MM") from None
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise CodecError(f"{text!r} is not a time of day")
    return [_byte(hours, bcd) << 8 | _byte(minutes, bcd)]


def decode_datetime(registers: list[int] | tuple[int, ...], bcd: bool, little_word_first: bool) -> str:
    """Three registers year/month, day/hour, minute/second -> ISO 8601 local time."""
    words = list(reversed(registers)) if little_word_first else list(registers)
    fields = [_field(b, bcd) for w in words for b in (w >> 8, w & 0xFF)]
    year, month, day, hour, minute, second = fields
    try:
        stamp = dt.datetime(2000 + year, month, day, hour, minute, second)  # the device clock has no zone: local time
    except ValueError as exc:
        raise CodecError(f"registers {[hex(w) for w in words]} are not a date and time: {exc}") from exc
    return stamp.isoformat()


def encode_datetime(text: str, bcd: bool, little_word_first: bool) -> list[int]:
    """ISO 8601 local time (years 2000-2099) -> three registers."""
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CodecError(f"{text!r} is not an ISO 8601 date and time") from None
    if not 2000 <= stamp.year <= 2099:
        raise CodecError(f"year {stamp.year} does not fit a two-digit device clock")
    pairs = [(stamp.year - 2000, stamp.month), (stamp.day, stamp.hour), (stamp.minute, stamp.second)]
    words = [_byte(hi, bcd) << 8 | _byte(lo, bcd) for hi, lo in pairs]
    return list(reversed(words)) if little_word_first else words
