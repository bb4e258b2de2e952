"""BCD numbers, "no data" fill values and China Standard Time (SL 651-2014 clause 6.6).

A value is ``length`` bytes of packed BCD, most significant digit first, with
``decimals`` implied decimal places (the data-definition byte). A negative
value has FFH as its first byte (clause 6.6.2.3); some RTUs instead put F in
the first nibble only, which is accepted too. A value made only of FFH bytes is
"no data" (clause 6.6.2.4) and is never turned into a number. Times are BCD
``YYMMDDhhmm[ss]`` in Beijing time (UTC+8, clause 6.6.2.2) and are stored as
UTC epoch milliseconds.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

CST_OFFSET_MS = 8 * 3600 * 1000
"""China Standard Time is UTC+8 all year (no daylight saving)."""


class BcdError(ValueError):
    """Bytes that are not the BCD the standard asks for; ``reason`` is the refusal code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Number:
    """A decoded value; ``value is None`` means the station sent its "no data" fill."""

    value: float | None


NO_DATA = Number(None)


def is_fill(raw: bytes) -> bool:
    """Tell whether ``raw`` is the "no data" fill (every byte FFH)."""
    return bool(raw) and raw.count(0xFF) == len(raw)


def digits(raw: bytes) -> int:
    """Return the unsigned integer of packed BCD ``raw``; raise :class:`BcdError` on a non-decimal nibble."""
    text = raw.hex()
    if not text.isdigit():
        raise BcdError("bad_bcd", f"not BCD: {text.upper()}")
    return int(text)


def decode(raw: bytes, decimals: int) -> Number:
    """Decode one element value (sign, fill and BCD rules of clause 6.6.2)."""
    if not raw:
        raise BcdError("bad_element", "a data definition of zero bytes")
    if is_fill(raw):
        return NO_DATA
    sign = 1
    if raw[0] == 0xFF:
        sign, raw = -1, raw[1:]
    elif raw[0] >> 4 == 0xF:
        sign, raw = -1, bytes([raw[0] & 0x0F]) + raw[1:]
    return Number(sign * digits(raw) / 10**decimals if raw else None)


def encode(value: float | None, length: int, decimals: int) -> bytes:
    """Encode ``value`` in ``length`` bytes with ``decimals`` places (``None`` → fill)."""
    if value is None:
        return b"\xff" * length
    scaled = round(abs(value) * 10**decimals)
    width = 2 * (length - 1) if value < 0 else 2 * length
    text = f"{scaled:0{width}d}"
    if len(text) > width:
        raise BcdError("bad_value", f"{value} does not fit {length} bytes with {decimals} decimals")
    body = bytes.fromhex(text)
    return b"\xff" + body if value < 0 else body


def cst_ms(raw: bytes) -> int:
    """Turn BCD ``YYMMDDhhmm`` or ``YYMMDDhhmmss`` Beijing time into UTC epoch milliseconds."""
    text = raw.hex()
    return cst_text_ms(text)


def cst_text_ms(text: str) -> int:
    """Turn the digits ``YYMMDDhhmm[ss]`` of Beijing time into UTC epoch milliseconds."""
    if len(text) not in (10, 12) or not text.isdigit():
        raise BcdError("bad_time", f"not a BCD time: {text.upper()}")
    year, month, day, hour, minute = (int(text[i : i + 2]) for i in range(0, 10, 2))
    second = int(text[10:12]) if len(text) == 12 else 0
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(2000 + year, month)[1]):
        raise BcdError("bad_time", f"no such date: {text}")
    if hour > 23 or minute > 59 or second > 59:
        raise BcdError("bad_time", f"no such time of day: {text}")
    local = calendar.timegm((2000 + year, month, day, hour, minute, second, 0, 0, 0))
    return local * 1000 - CST_OFFSET_MS


def cst_digits(ts_ms: int, *, seconds: bool = True) -> str:
    """Write UTC epoch milliseconds as Beijing time digits ``YYMMDDhhmm[ss]``."""
    t = time.gmtime((ts_ms + CST_OFFSET_MS) // 1000)
    text = f"{t.tm_year % 100:02d}{t.tm_mon:02d}{t.tm_mday:02d}{t.tm_hour:02d}{t.tm_min:02d}"
    return text + f"{t.tm_sec:02d}" if seconds else text


def cst_bytes(ts_ms: int, *, seconds: bool = True) -> bytes:
    """Write UTC epoch milliseconds as BCD Beijing time (6 bytes, or 5 without seconds)."""
    return bytes.fromhex(cst_digits(ts_ms, seconds=seconds))
