"""The transform chain between a point's registers and its reported value.

Read direction, in order (each step may end the chain with a bad quality):

1. decode registers per type and byte/word order (:mod:`citysense.codec`);
2. raw integer equal to one of ``sentinels`` -> quality ``sentinel``;
   a float NaN or infinity -> quality ``sentinel``; a float32 is rounded to
   the 7 significant digits it can hold (5.236, not 5.236000061035156);
3. ``bit`` extracts one bit -> ``bool``; else ``mask`` then ``shift``;
   then ``bcd`` reads the remaining nibbles as decimal digits (a nibble above 9
   -> ``decode_error``); packed times are decoded whole by the codec;
4. ``enum`` points report the raw state number (labels come from the profile);
   an undefined state -> quality ``out_of_range`` with the number kept;
5. ``value = raw * scale * dynamic + offset``, where ``dynamic`` is 1, or the
   scale picked by the value of the ``scale_from`` point decoded in the same
   poll (``context``; a "decimal places" value ``n`` gives 10^-n, as the
   0003H register of Chinese RS-485 pressure/level transmitters; no such value,
   or an unmapped one -> ``decode_error``);
6. outside ``range`` -> quality ``out_of_range`` with the value kept for diagnosis.

The write direction (:func:`to_raw`) is the exact inverse, refusing values
outside ``range`` before anything is sent. :func:`unit_of` gives a point's
unit, looked up through ``unit_from`` when the device reports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from citysense import codec, packed
from citysense.codec import DataType
from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile
from citysense.quality import Quality

Value = float | int | bool | str | None
_ROUND_DIGITS = 9  # drop binary noise of decimal scales (0.1 * 234 = 23.400000000000002)


Context = Mapping[str, Value]


def dynamic_scale(point: Point, context: Context | None) -> float | None:
    """The factor ``scale_from`` picks from ``context`` (1.0 without ``scale_from``); None when unknown."""
    ref = point.scale_from
    if ref is None:
        return 1.0
    got = _integer(None if context is None else context.get(ref.metric))
    if got is None:
        return None
    if ref.map is not None:
        return ref.map.get(got)
    return 10.0**-got if 0 <= got <= 9 else None


def unit_of(point: Point, context: Context | None = None) -> str:
    """The point's unit: fixed, or looked up through ``unit_from`` (``""`` when the code is unknown)."""
    if point.unit_from is None:
        return point.unit
    got = _integer(None if context is None else context.get(point.unit_from.metric))
    return "" if got is None else point.unit_from.map.get(got, "")


def _integer(value: Value) -> int | None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


def to_value(
    profile: Profile, point: Point, registers: list[int], context: Context | None = None
) -> tuple[Value, Quality]:
    """Turn a point's registers (or its one bit, for coil tables) into ``(value, quality)``.

    ``context`` holds the values of this poll's other points, for ``scale_from``.
    """
    if point.table.is_bit_table:
        return bool(registers[0]), Quality.GOOD
    try:
        raw = codec.decode(registers, point.type, profile.byte_order(point), profile.word_order(point), bcd=point.bcd)
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
    if point.bcd:
        try:
            raw = packed.from_bcd(int(raw))
        except CodecError:
            return None, Quality.DECODE_ERROR
    if point.enum is not None:
        return int(raw), (Quality.GOOD if int(raw) in point.enum else Quality.OUT_OF_RANGE)
    factor = dynamic_scale(point, context)
    if factor is None:
        return None, Quality.DECODE_ERROR
    scale = point.scale * factor
    value = raw if scale == 1.0 and point.offset == 0.0 else round(raw * scale + point.offset, _ROUND_DIGITS)
    if point.range is not None and not point.range[0] <= value <= point.range[1]:
        return value, Quality.OUT_OF_RANGE
    return value, Quality.GOOD


def to_raw(
    profile: Profile, point: Point, value: float | int | bool | str, context: Context | None = None
) -> list[int]:
    """Encode an engineering value into the point's registers (the inverse of :func:`to_value`).

    A bit or mask point yields its register(s) with only its field filled; the
    caller merges it with the register's other bits (read-modify-write).
    ``context`` gives the ``scale_from`` point's value. Raises
    :class:`CodecError` when the value is out of range or does not fit.
    """
    if point.table.is_bit_table:
        return [1 if value else 0]
    if point.type is DataType.STRING:
        return codec.encode(str(value), point.type, profile.byte_order(point), length=point.length)
    if point.type in codec.PACKED:
        order = (profile.byte_order(point), profile.word_order(point))
        return codec.encode(str(value), point.type, *order, bcd=point.bcd)
    if point.bit is not None:
        return [(1 << point.bit) if value else 0]
    if isinstance(value, str):
        raise CodecError(f"point '{point.metric}' takes a number, not {value!r}")
    if point.range is not None and point.enum is None and not point.range[0] <= value <= point.range[1]:
        raise CodecError(f"{value} is outside the valid range {point.range[0]}..{point.range[1]} of '{point.metric}'")
    if point.enum is not None and int(value) not in point.enum:
        raise CodecError(f"{value} is not a defined state of '{point.metric}'")
    factor = dynamic_scale(point, context)
    if factor is None:
        raise CodecError(f"the scale of '{point.metric}' is unknown: read '{point.scale_from.metric}' first")  # type: ignore[union-attr]
    raw: float | int = (float(value) - point.offset) / (point.scale * factor)
    if point.type not in (DataType.FLOAT32, DataType.FLOAT64):
        raw = round(raw)
        if point.bcd:
            raw = packed.to_bcd(raw, 16 * point.register_count)
        if point.mask is not None or point.shift:
            if raw < 0 or (point.mask is not None and (raw << point.shift) & ~point.mask):
                raise CodecError(f"{value} does not fit the bits {point.mask or 0:#x} of '{point.metric}'")
            raw = raw << point.shift
    return codec.encode(raw, point.type, profile.byte_order(point), profile.word_order(point))


def check_value(profile: Profile, point: Point, value: float | int | bool | str) -> None:
    """Refuse what :func:`to_raw` would refuse, also for a ``scale_from`` point whose context is not at hand.

    The hub checks a write before sending it to the node, which knows the
    decimals register's value; the range and states do not depend on it.
    """
    if point.scale_from is None:
        to_raw(profile, point, value)
        return
    if isinstance(value, str | bool):
        raise CodecError(f"point '{point.metric}' takes a number, not {value!r}")
    if point.range is not None and not point.range[0] <= value <= point.range[1]:
        raise CodecError(f"{value} is outside the valid range {point.range[0]}..{point.range[1]} of '{point.metric}'")
