"""``citysense-agent probe``: read a register range and print every interpretation side by side.

On site the question is rarely "what does register 40001 hold" but "which of
the sixteen ways of reading these four registers gives 231.4 V". Each row is
one start address and one type; the columns are the four layouts (ABCD, CDAB,
BADC, DCBA, named by the bytes of a 32-bit value, see :mod:`citysense.codec`),
each also shown times the profile point's scale when ``--profile`` names one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from citysense import codec
from citysense.codec import ByteOrder, DataType
from citysense.errors import CodecError
from citysense.profiles.model import Profile, Table
from edge_agent.plausibility import word_order_warning

LAYOUTS = {
    "ABCD": (ByteOrder.BIG, ByteOrder.BIG),
    "CDAB": (ByteOrder.BIG, ByteOrder.LITTLE),
    "BADC": (ByteOrder.LITTLE, ByteOrder.BIG),
    "DCBA": (ByteOrder.LITTLE, ByteOrder.LITTLE),
}
TYPES = [DataType.UINT16, DataType.INT16, DataType.UINT32, DataType.INT32, DataType.FLOAT32,
         DataType.UINT64, DataType.INT64, DataType.FLOAT64]  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One start address read as one type, in every layout."""

    address: int
    dtype: DataType
    values: dict[str, float | int | None]
    scale: float = 1.0
    metric: str = ""


def _fmt(v: float | int | None, scale: float) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    text = f"{v:.6g}" if isinstance(v, float) else str(v)
    if scale != 1.0:
        text += f" ({v * scale:.6g})"
    return text


def interpretations(
    registers: list[int], first_address: int, profile: Profile | None = None, table: Table = Table.HOLDING
) -> list[Row]:
    """Every (start address, type) reading of ``registers``, in every layout."""
    points = {}
    if profile is not None:
        points = {profile.pdu_address(p): p for p in profile.points if p.table is table}
    rows = []
    for offset in range(len(registers)):
        address = first_address + offset
        point = points.get(address)
        for dtype in TYPES:
            n = codec.register_count(dtype)
            if offset + n > len(registers):
                continue
            values: dict[str, float | int | None] = {}
            for name, (byte_order, word_order) in LAYOUTS.items():
                if n == 1 and name in ("CDAB", "DCBA"):
                    continue  # one register has no word order
                try:
                    value = codec.decode(registers[offset : offset + n], dtype, byte_order, word_order)
                except CodecError:
                    value = None
                values[name] = value if isinstance(value, int | float) else None
            scale = point.scale if point is not None else 1.0
            rows.append(Row(address, dtype, values, scale, point.metric if point is not None else ""))
    return rows


def render(rows: list[Row], registers: list[int], first_address: int) -> str:
    """The side-by-side table as text."""
    lines = ["raw: " + " ".join(f"{first_address + i}={r:#06x}" for i, r in enumerate(registers)), ""]
    header = f"{'addr':>6} {'type':<8} " + " ".join(f"{name:>24}" for name in LAYOUTS) + "  point"
    lines += [header, "-" * len(header)]
    for row in rows:
        cells = " ".join(f"{_fmt(row.values[n], row.scale) if n in row.values else '':>24}" for n in LAYOUTS)
        lines.append(f"{row.address:>6} {row.dtype.value:<8} {cells}  {row.metric}")
    return "\n".join(lines)


def layout_warnings(registers: list[int], first_address: int, profile: Profile, table: Table) -> list[str]:
    """Word-order warnings for the profile's points wholly inside the registers read."""
    out = []
    for p in profile.points:
        offset = profile.pdu_address(p) - first_address
        if p.table is table and p.addresses is None and offset >= 0 and offset + p.register_count <= len(registers):
            warning = word_order_warning(profile, p, registers[offset : offset + p.register_count])
            if warning is not None:
                out.append(warning)
    return out
