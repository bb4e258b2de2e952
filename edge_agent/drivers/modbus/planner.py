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

A value built from registers that are not contiguous (``addresses``) is
planned as one single-register *part* per address; the decoder gathers the
parts from whichever requests hold them. Write-only points are never planned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from citysense.profiles.model import Point, Profile, Table

MAX_BITS_PER_REQUEST = 2000


def part_length(point: Point) -> int:
    """Registers of one planned part of ``point``: one per address of a non-contiguous value."""
    return 1 if point.addresses is not None else point.register_count


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: ``count`` registers (or bits) of ``table`` from ``start``.

    ``parts`` are the ``(pdu_address, point)`` pieces it carries, by address.
    """

    table: Table
    start: int
    count: int
    parts: tuple[tuple[int, Point], ...]

    @property
    def points(self) -> tuple[Point, ...]:
        """The points with a part in this request, each once, by address."""
        seen: dict[str, Point] = {}
        for _, p in self.parts:
            seen.setdefault(p.metric, p)
        return tuple(seen.values())

    @property
    def key(self) -> tuple[str, int, int]:
        """``(table, start, count)``: identifies the request (points are not hashable)."""
        return (self.table.value, self.start, self.count)

    def slice_of(self, point: Point, address: int, values: list[int]) -> list[int]:
        """Return the part of ``values`` (this request's answer) that holds ``point``'s part at ``address``."""
        offset = address - self.start
        return values[offset : offset + part_length(point)]


def plan(
    points: Iterable[tuple[int, Point]],
    max_count: int = 100,
    max_gap: int = 10,
) -> list[ReadRequest]:
    """Plan requests for ``(pdu_address, point)`` parts; see the module docstring."""
    by_table: dict[Table, list[tuple[int, Point]]] = {}
    for address, point in points:
        by_table.setdefault(point.table, []).append((address, point))
    requests: list[ReadRequest] = []
    for table in sorted(by_table, key=lambda t: t.read_function_code):
        cap = MAX_BITS_PER_REQUEST if table.is_bit_table else max_count
        items = sorted(by_table[table], key=lambda item: (item[0], item[1].metric))
        start, end = items[0][0], items[0][0] + part_length(items[0][1])
        members: list[tuple[int, Point]] = [items[0]]
        for address, point in items[1:]:
            new_end = max(end, address + part_length(point))
            if address - end <= max_gap and new_end - start <= cap:
                end = new_end
                members.append((address, point))
                continue
            requests.append(ReadRequest(table, start, end - start, tuple(members)))
            start, end, members = address, address + part_length(point), [(address, point)]
        requests.append(ReadRequest(table, start, end - start, tuple(members)))
    return requests


def profile_parts(profile: Profile) -> list[tuple[int, Point]]:
    """The ``(pdu_address, point)`` parts of every polled point of ``profile``."""
    base = profile.defaults.address_base
    parts: list[tuple[int, Point]] = []
    for p in profile.points:
        if not p.polled:
            continue
        if p.addresses is not None:
            parts.extend((a - base, p) for a in p.addresses)
        else:
            parts.append((p.address - base, p))
    return parts


def plan_profile(profile: Profile) -> list[ReadRequest]:
    """Plan the requests that read every polled point of ``profile`` (none when all are write-only)."""
    parts = profile_parts(profile)
    if not parts:
        return []
    return plan(parts, max_count=profile.defaults.max_registers_per_request, max_gap=profile.defaults.max_gap_registers)


def span(table: Table, items: Sequence[tuple[int, Point]]) -> ReadRequest:
    """The one request covering ``(pdu_address, point)`` parts exactly."""
    start = min(a for a, _ in items)
    end = max(a + part_length(p) for a, p in items)
    return ReadRequest(table, start, end - start, tuple(sorted(items, key=lambda i: i[0])))


def split(req: ReadRequest, address_of: Callable[[Point], int] | None = None) -> tuple[ReadRequest, ReadRequest]:
    """Halve a refused request at a part boundary (never inside a multi-register value).

    ``address_of`` is accepted for compatibility; the request's parts carry their addresses.
    """
    del address_of
    if len(req.parts) < 2:
        raise ValueError("a request for one point cannot be split")
    items = sorted(req.parts, key=lambda i: i[0])
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
            out[-1] = ReadRequest(part.table, prev.start, prev.count + part.count, prev.parts + part.parts)
        else:
            out.append(part)
    return out
