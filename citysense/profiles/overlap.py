"""Which points of a profile may share registers, and a clear refusal when they truly overlap.

Two points may use the same register(s) only when both are bit fields of
exactly the same register(s) (``bit``, or ``mask`` with ``shift``) and their
bits are disjoint: a status word holding the charging phase in D3-D2 and the
input-voltage state in D15-D14 (EPEVER Tracer register 3201H) is two points.
Anything else that shares a register is refused, naming both points, the
register and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from citysense.yamlconf import keyed

if TYPE_CHECKING:
    from citysense.profiles.point import Point


def _registers(p: Point) -> str:
    regs = p.manual_addresses()
    return f"register {regs[0]:#06x}" if len(regs) == 1 else f"registers {', '.join(f'{r:#06x}' for r in regs)}"


def _why(a: Point, b: Point) -> str | None:
    """Why ``a`` and ``b`` may not share a register, or None when they may."""
    ma, mb = a.field_mask, b.field_mask
    same_words = a.manual_addresses() == b.manual_addresses()
    if ma is None or mb is None:
        plain = b.metric if mb is None else a.metric
        return (
            f"'{plain}' uses whole registers; only bit fields ('bit', or 'mask' and 'shift') "
            "may share a register with another point"
        )
    if not same_words:
        return (
            "bit fields may share registers only when both cover exactly the same ones "
            f"({_registers(a)} vs {_registers(b)})"
        )
    if ma & mb:
        return f"both use bits {ma & mb:#06x}; give each field its own bits"
    return None


def check_overlaps(points: Sequence[Point]) -> None:
    """Raise a keyed ValueError for the first pair of points that overlap (see module docstring)."""
    owners: dict[tuple[str, int], list[int]] = {}
    for i, p in enumerate(points):
        for address in p.manual_addresses():
            owners.setdefault((p.table.value, address), []).append(i)
    for (table, address), users in sorted(owners.items()):
        for n, i in enumerate(users):
            for j in users[n + 1 :]:
                why = _why(points[i], points[j])
                if why is not None:
                    a, b = points[i].metric, points[j].metric
                    raise keyed(
                        f"points.{j}.address",
                        f"points '{a}' and '{b}' overlap at {table} register {address:#06x}: {why}",
                    )
