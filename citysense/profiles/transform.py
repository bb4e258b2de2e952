"""The transform chain between a point's registers and its reported value.

Read direction, in order (each step may end the chain with a bad quality):

1. decode registers per type and byte/word order (:mod:`citysense.codec`);
2. raw integer equal to one of ``sentinels`` -> quality ``sentinel``;
   a float NaN or infinity -> quality ``sentinel``; a float32 is rounded to
   the 7 significant digits it can hold (5.236, not 5.236000061035156);
3. ``bit`` extracts one bit -> ``bool``; else ``mask`` then ``shift``;
4. ``enum`` points report the raw state number (labels come from the profile);
   an undefined state -> quality ``out_of_range`` with the number kept;
5. ``value = raw * scale + offset``;
6. outside ``range`` -> quality ``out_of_range`` with the value kept for diagnosis.

The write direction (:func:`to_raw`) is the exact inverse, refusing values
outside ``range`` before anything is sent.
"""

from __future__ import annotations

import math

from citysense import codec
from citysense.codec import DataType
from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile
from citysense.quality import Quality

Value = float | int | bool | str | None
_ROUND_DIGITS = 9  # drop binary noise of decimal scales (0.1 * 234 = 23.400000000000002)


def to_value(profile: Profile, point: Point, registers: list[int]) -> tuple[Value, Quality]:
    """Turn a point's registers (or its one bit, for coil tables) into ``(value, quality)``."""
    if point.table.is_bit_table:
        return bool(registers[0]), Quality.GOOD
    try:
        raw = codec.decode(registers, point.type, profile.byte_order(point), profile.word_order(point))
    except CodecError:
        return None, Quality.DECODE_ERROR
    if isinstance(raw, str):
        return raw, Quality.GOOD
    if isinstance(raw, float):
        if math.isnan(raw) or math.isinf(raw):
            return None, Quality.SENTINEL
        if point.type is DataType.FLOAT32:
            raw = float(f"{raw:.7g}")  # a float32 holds ~7 significant digits; drop the binary tail
    elif raw in point.sentinels:
        return None, Quality.SENTINEL
    if point.bit is not None:
        return bool((int(raw) >> point.bit) & 1), Quality.GOOD
    if point.mask is not None:
        raw = (int(raw) & point.mask) >> point.shift
    elif point.shift:
        raw = int(raw) >> point.shift
    if point.enum is not None:
        return int(raw), (Quality.GOOD if int(raw) in point.enum else Quality.OUT_OF_RANGE)
    value: float | int
    if point.scale == 1.0 and point.offset == 0.0:
        value = raw
    else:
        value = round(raw * point.scale + point.offset, _ROUND_DIGITS)
    if point.range is not None and not point.range[0] <= value <= point.range[1]:
        return value, Quality.OUT_OF_RANGE
    return value, Quality.GOOD


def to_raw(profile: Profile, point: Point, value: float | int | bool | str) -> list[int]:
    """Encode an engineering value into the point's registers (the inverse of :func:`to_value`).

    A bit point yields its register with only that bit set or clear; the
    caller merges it with the register's other bits (read-modify-write).
    Raises :class:`CodecError` when the value is out of range or does not fit.
    """
    if point.table.is_bit_table:
        return [1 if value else 0]
    if point.type is DataType.STRING:
        return codec.encode(str(value), point.type, profile.byte_order(point), length=point.length)
    if point.bit is not None:
        return [(1 << point.bit) if value else 0]
    if isinstance(value, str):
        raise CodecError(f"point '{point.metric}' takes a number, not {value!r}")
    if point.range is not None and point.enum is None and not point.range[0] <= value <= point.range[1]:
        raise CodecError(f"{value} is outside the valid range {point.range[0]}..{point.range[1]} of '{point.metric}'")
    if point.enum is not None and int(value) not in point.enum:
        raise CodecError(f"{value} is not a defined state of '{point.metric}'")
    raw: float | int = (float(value) - point.offset) / point.scale
    if point.type not in (DataType.FLOAT32, DataType.FLOAT64):
        raw = round(raw)
        if point.mask is not None or point.shift:
            raw = raw << point.shift
    return codec.encode(raw, point.type, profile.byte_order(point), profile.word_order(point))
