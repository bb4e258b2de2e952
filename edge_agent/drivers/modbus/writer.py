"""Write one point of a device: check, invert the transform, send ahead of polls, optionally read back.

The value is checked against the point (writable, type, valid range, enum
states) and turned into registers by :func:`citysense.profiles.transform.to_raw`
*before* anything is sent. A bit or mask field of a holding register is
written read-modify-write so the register's other bits keep their state; a
point whose scale comes from another register (``scale_from``) reads that
register first. Coils use FC 5/15, registers FC 6/16, or the point's
``write_function_code`` (Modbus Application Protocol v1.1b3 §6.5-6.12).
With ``read_back`` the point is read again and must decode to the written value;
a write-only point is never read back. A read-back that fails after the
device acknowledged the write raises :class:`ReadBackFailed`: the value *was* written.
"""

from __future__ import annotations

import math

from citysense import codec
from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile, Table
from citysense.profiles.transform import Context, Value, to_raw, to_value
from citysense.quality import Quality
from edge_agent.drivers.modbus.link import RegisterLink
from edge_agent.errors import ModbusError, ReadBackFailed, ReadBackMismatch, WriteRefused


async def _read_point(link: RegisterLink, profile: Profile, point: Point, unit: int) -> list[int]:
    """The point's registers, gathered from each of its addresses in value order."""
    words: list[int] = []
    for address in point.manual_addresses():
        words += await link.read(point.table, unit, address - profile.defaults.address_base, 1, urgent=True)
    return words


async def _context(link: RegisterLink, profile: Profile, point: Point, unit: int) -> Context:
    if point.scale_from is None:
        return {}
    ref = profile.point(point.scale_from.metric)
    got, _ = to_value(profile, ref, await _read_point(link, profile, ref, unit))
    return {ref.metric: got}


def _merge(profile: Profile, point: Point, current: list[int], field: list[int]) -> list[int]:
    """Registers ``current`` with ``point``'s bits replaced by those of ``field``."""
    mask = point.field_mask
    assert mask is not None
    order = (profile.byte_order(point), profile.word_order(point))
    dtype = codec.DataType.UINT16 if point.type is codec.DataType.BOOL else point.type
    old = int(codec.decode(current, dtype, *order))
    new = int(codec.decode(field, dtype, *order))
    return codec.encode((old & ~mask) | (new & mask), dtype, *order)


async def write_point(
    link: RegisterLink,
    profile: Profile,
    metric: str,
    unit: int,
    value: float | int | bool | str,
    *,
    read_back: bool = True,
) -> Value:
    """Write ``value`` to ``metric``; return the value read back (or the value written)."""
    try:
        point = profile.point(metric)
    except KeyError:
        raise WriteRefused(f"profile '{profile.id}' has no point '{metric}'") from None
    if not point.writable:
        raise WriteRefused(f"point '{metric}' is not writable")
    if point.table not in (Table.COIL, Table.HOLDING):
        raise WriteRefused(f"point '{metric}' is in the read-only {point.table.value} table")
    if point.addresses is not None:
        raise WriteRefused(f"point '{metric}' spans registers that are not contiguous; write them one by one")
    context = await _context(link, profile, point, unit)
    try:
        registers = to_raw(profile, point, value, context)
    except CodecError as exc:
        raise WriteRefused(str(exc)) from exc
    address = profile.pdu_address(point)
    if point.field_mask is not None and not point.table.is_bit_table:  # read-modify-write
        current = await link.read(point.table, unit, address, point.register_count, urgent=True)
        registers = _merge(profile, point, current, registers)
    await link.write(point.table, unit, address, registers, function_code=point.write_function_code)
    if not read_back or point.write_only:
        return value
    try:
        words = await link.read(point.table, unit, address, point.register_count, urgent=True)
    except ModbusError as exc:
        raise ReadBackFailed(f"written, read-back failed: {exc}") from exc
    got, quality = to_value(profile, point, words, context)
    if quality is not Quality.GOOD or not _same(got, value):
        raise ReadBackMismatch(f"written, but '{metric}' reads back {got!r} ({quality.wire}), not {value!r}")
    return got


def _same(got: Value, want: float | int | bool | str) -> bool:
    if isinstance(got, float) or isinstance(want, float):
        if isinstance(got, bool | str) or got is None or isinstance(want, bool | str):
            return False
        return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-9)
    return got == want


__all__ = ["ModbusError", "ReadBackFailed", "ReadBackMismatch", "WriteRefused", "write_point"]
