"""Word-order mistakes that stay in range: warn when another layout gives the plausible value.

A float32 voltage of 231.4 V read with the wrong word order is 4.17e-08 V:
inside a range of 0..300 V, so it passes as good. A value is *implausible*
when it is not finite, outside the point's ``range``, or a float whose
magnitude is negligible against its range (below a millionth of the span) or
astronomically large; it is *plausible* when none of these holds. When the
configured layout gives an implausible value and another of the four layouts
(ABCD, CDAB, BADC, DCBA; :mod:`citysense.codec`) a plausible one, the
technician is told which ``byte_order``/``word_order`` to set. Used by
``citysense-agent probe --profile`` and ``citysense-agent validate --device``.
"""

from __future__ import annotations

import math

from citysense import codec
from citysense.codec import ByteOrder, DataType
from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile

LAYOUTS = {
    "ABCD": (ByteOrder.BIG, ByteOrder.BIG),
    "CDAB": (ByteOrder.BIG, ByteOrder.LITTLE),
    "BADC": (ByteOrder.LITTLE, ByteOrder.BIG),
    "DCBA": (ByteOrder.LITTLE, ByteOrder.LITTLE),
}
_NUMBERS = (DataType.INT32, DataType.UINT32, DataType.INT64, DataType.UINT64, DataType.FLOAT32, DataType.FLOAT64)
_HUGE = 1e12


def checkable(point: Point) -> bool:
    """True for values of several registers whose layout can be judged (floats, or integers with a range)."""
    if point.table.is_bit_table or point.type not in _NUMBERS or point.addresses is not None:
        return False
    if point.mask is not None or point.bcd or point.enum is not None or point.scale_from is not None:
        return False
    return point.type in (DataType.FLOAT32, DataType.FLOAT64) or point.range is not None


def _value(profile: Profile, point: Point, registers: list[int], layout: tuple[ByteOrder, ByteOrder]) -> float | None:
    try:
        raw = codec.decode(registers, point.type, *layout)
    except CodecError:
        return None
    if isinstance(raw, str):
        return None
    return float(raw) * point.scale + point.offset


def plausible(point: Point, value: float | None) -> bool:
    """See the module docstring."""
    if value is None or not math.isfinite(value):
        return False
    lo, hi = point.range if point.range is not None else (-_HUGE, _HUGE)
    if not lo <= value <= hi or abs(value) > _HUGE:
        return False
    if point.type in (DataType.FLOAT32, DataType.FLOAT64) and value != 0:
        span = (hi - lo) if point.range is not None else 1.0
        return abs(value) >= 1e-6 * max(span, 1.0)
    return True


def layout_name(byte_order: ByteOrder, word_order: ByteOrder) -> str:
    """ABCD, CDAB, BADC or DCBA."""
    return next(name for name, layout in LAYOUTS.items() if layout == (byte_order, word_order))


def word_order_warning(profile: Profile, point: Point, registers: list[int]) -> str | None:
    """A warning when the configured layout is implausible and another is plausible, else None."""
    if not checkable(point) or len(registers) != point.register_count:
        return None
    configured = (profile.byte_order(point), profile.word_order(point))
    got = _value(profile, point, registers, configured)
    if plausible(point, got):
        return None
    better = [
        (name, v)
        for name, layout in LAYOUTS.items()
        if layout != configured and plausible(point, v := _value(profile, point, registers, layout))
    ]
    if not better:
        return None
    name, v = better[0]
    byte_order, word_order = LAYOUTS[name]
    unit = f" {point.unit}" if point.unit else ""
    return (
        f"WARNING {point.metric}: configured {layout_name(*configured)} reads {got:.6g}{unit}, which is implausible; "
        f"{name} reads {v:.6g}{unit}: set byte_order: {byte_order.value}, word_order: {word_order.value}?"
    )
