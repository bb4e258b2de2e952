"""Write one point of a device: check, invert the transform, send ahead of polls, optionally read back.

The value is checked against the point (writable, type, valid range, enum
states) and turned into registers by :func:`citysense.profiles.transform.to_raw`
*before* anything is sent. A bit inside a holding register is written
read-modify-write so the register's other bits keep their state. Coils use
FC 5/15, registers FC 6/16 (Modbus Application Protocol v1.1b3 §6.5-6.12).
With ``read_back`` the point is read again and must decode to the written value.
"""

from __future__ import annotations

import math

from citysense.errors import CodecError
from citysense.profiles.model import Profile, Table
from citysense.profiles.transform import Value, to_raw, to_value
from citysense.quality import Quality
from edge_agent.drivers.modbus.link import RegisterLink
from edge_agent.errors import ModbusError, ReadBackMismatch, WriteRefused


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
    try:
        registers = to_raw(profile, point, value)
    except CodecError as exc:
        raise WriteRefused(str(exc)) from exc
    address = profile.pdu_address(point)
    if point.bit is not None:  # read-modify-write: keep the register's other bits
        [current] = await link.read(point.table, unit, address, 1, urgent=True)
        mask = 1 << point.bit
        registers = [(current & ~mask) | (registers[0] & mask)]
    await link.write(point.table, unit, address, registers)
    if not read_back:
        return value
    got, quality = to_value(
        profile, point, await link.read(point.table, unit, address, point.register_count, urgent=True)
    )
    if quality is not Quality.GOOD or not _same(got, value):
        raise ReadBackMismatch(f"wrote {value!r} to '{metric}', read back {got!r} ({quality.wire})")
    return got


def _same(got: Value, want: float | int | bool | str) -> bool:
    if isinstance(got, float) or isinstance(want, float):
        if isinstance(got, bool | str) or got is None or isinstance(want, bool | str):
            return False
        return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-9)
    return got == want


__all__ = ["ModbusError", "ReadBackMismatch", "WriteRefused", "write_point"]
