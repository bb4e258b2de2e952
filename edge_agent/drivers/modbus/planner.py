"""Read planner: merge a device's points into as few Modbus requests as possible.

A pure function. Points of one table are sorted by address and merged while
the hole between them is at most ``max_gap`` registers and the request stays
within ``max_count`` registers (the Modbus limit is 125 registers for FC 3/4
and 2000 bits for FC 1/2, Modbus Application Protocol v1.1b3 §6.1-6.4). A
multi-register value is never split across two requests.

When a device refuses a merged request (exception 2, "illegal data address",
because the request spans a hole in its map) the poller halves it with
:func:`split` until every part is answered or holds one point, and keeps the
result as its new plan: the bad range is found once and remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from citysense.profiles.model import Point, Profile, Table

MAX_BITS_PER_REQUEST = 2000


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: ``count`` registers (or bits) of ``table`` from ``start``."""

    table: Table
    start: int
    count: int
    points: tuple[Point, ...]

    @property
    def key(self) -> tuple[str, int, int]:
        """``(table, start, count)``: identifies the request (points are not hashable)."""
        return (self.table.value, self.start, self.count)

    def slice_of(self, point: Point, address: int, values: list[int]) -> list[int]:
        """Return the part of ``values`` (this request's answer) that holds ``point``."""
        offset = address - self.start
        return values[offset : offset + point.register_count]


def plan(
    points: Iterable[tuple[int, Point]],
    max_count: int = 100,
    max_gap: int = 10,
) -> list[ReadRequest]:
    """Plan requests for ``(pdu_address, point)`` pairs; see the module docstring."""
    by_table: dict[Table, list[tuple[int, Point]]] = {}
    for address, point in points:
        by_table.setdefault(point.table, []).append((address, point))
    requests: list[ReadRequest] = []
    for table in sorted(by_table, key=lambda t: t.read_function_code):
        cap = MAX_BITS_PER_REQUEST if table.is_bit_table else max_count
        items = sorted(by_table[table], key=lambda item: (item[0], item[1].metric))
        start, end = items[0][0], items[0][0] + items[0][1].register_count
        members: list[Point] = [items[0][1]]
        for address, point in items[1:]:
            new_end = max(end, address + point.register_count)
            if address - end <= max_gap and new_end - start <= cap:
                end = new_end
                members.append(point)
                continue
            requests.append(ReadRequest(table, start, end - start, tuple(members)))
            start, end, members = address, address + point.register_count, [point]
        requests.append(ReadRequest(table, start, end - start, tuple(members)))
    return requests


def plan_profile(profile: Profile) -> list[ReadRequest]:
    """Plan the requests that read every point of ``profile``."""
    return plan(
        ((profile.pdu_address(p), p) for p in profile.points),
        max_count=profile.defaults.max_registers_per_request,
        max_gap=profile.defaults.max_gap_registers,
    )


def span(table: Table, items: Sequence[tuple[int, Point]]) -> ReadRequest:
    """The one request covering ``(pdu_address, point)`` pairs exactly."""
    start = min(a for a, _ in items)
    end = max(a + p.register_count for a, p in items)
    return ReadRequest(table, start, end - start, tuple(p for _, p in sorted(items, key=lambda i: i[0])))


def split(req: ReadRequest, address_of: Callable[[Point], int]) -> tuple[ReadRequest, ReadRequest]:
    """Halve a refused request at a point boundary (never inside a multi-register value)."""
    if len(req.points) < 2:
        raise ValueError("a request for one point cannot be split")
    items = sorted(((address_of(p), p) for p in req.points), key=lambda i: i[0])
    half = len(items) // 2
    return span(req.table, items[:half]), span(req.table, items[half:])


def rejoin(parts: Sequence[ReadRequest], max_count: int) -> list[ReadRequest]:
    """Merge answered parts that touch (no register between them); their union is known to be readable."""
    out: list[ReadRequest] = []
    for part in parts:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.table is part.table
            and prev.start + prev.count == part.start
            and prev.count + part.count <= max_count
        ):
            out[-1] = ReadRequest(part.table, prev.start, prev.count + part.count, prev.points + part.points)
        else:
            out.append(part)
    return out
