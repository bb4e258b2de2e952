"""Choose what of the buffer's oldest rows goes into one batch, under its caps in readings and bytes.

Each stored row holds the wire fragments of ``n`` consecutive readings, one per
line (:mod:`edge_agent.buffer_schema`). A batch takes whole rows while both
caps allow, joining the fragments with commas as they are; the row at which a
cap is reached is split at a fragment boundary: its first fragments go into
the batch and the rest stays behind as a row starting at the next id. A
fragment too large for any batch (over the byte cap alone) is dropped and
counted; nothing else is ever decoded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Row = tuple[int, int, bytes]  # first_id, n, body


@dataclass(slots=True)
class Taken:
    """What one batch takes: the comma-joined parts and how the rows it came from change."""

    parts: list[bytes] = field(default_factory=list)
    count: int = 0  # readings in the batch
    size: int = 0  # bytes of the parts with their separating commas
    first_id: int | None = None  # id of the first reading taken (or dropped)
    last_id: int | None = None  # id of the last reading taken (or dropped)
    whole_upto: int | None = None  # rows with first_id <= this are taken whole (delete them)
    rest: Row | None = None  # (old first_id, ...) of a split row: replace it by ``remainder``
    remainder: Row | None = None  # the split row's untaken readings, or None when nothing is left of it
    oversize: int = 0  # fragments dropped because no batch can hold one
    freed: int = 0  # stored bytes of the rows removed or shortened


def take(rows: Iterable[Row], max_readings: int, max_bytes: int) -> Taken:
    """Take rows (oldest first) while ``max_readings`` and ``max_bytes`` (of the joined parts) allow."""
    t = Taken()
    for first, n, body in rows:
        sep = 1 if t.parts else 0
        if t.count + n <= max_readings and t.size + sep + len(body) <= max_bytes:
            t.parts.append(body.replace(b"\n", b","))
            t.count += n
            t.size += sep + len(body)
            t.whole_upto, t.last_id, t.freed = first, first + n - 1, t.freed + len(body)
            t.first_id = first if t.first_id is None else t.first_id
            continue
        _split(t, first, n, body, max_readings, max_bytes)
        break
    return t


def _split(t: Taken, first: int, n: int, body: bytes, max_readings: int, max_bytes: int) -> None:
    """Take the leading fragments of the row that does not fit whole; keep the rest as a row."""
    frags = body.split(b"\n")
    assert len(frags) == n, "a stored row's count does not match its fragments"
    used = 0  # fragments consumed from the row (taken or dropped)
    taken: list[bytes] = []
    size = t.size
    for frag in frags:
        sep = 1 if (t.parts or taken) else 0
        if t.count + len(taken) >= max_readings:
            break
        if len(frag) > max_bytes:  # alone over the cap: no batch can ever carry it
            t.oversize += 1
            used += 1
            continue
        if size + sep + len(frag) > max_bytes:
            break
        taken.append(frag)
        size += sep + len(frag)
        used += 1
    if not used:
        return
    if taken:
        t.parts.append(b",".join(taken))
    t.count += len(taken)
    t.size = size
    t.first_id = first if t.first_id is None else t.first_id
    t.last_id = first + used - 1
    t.rest = (first, n, body)
    t.freed += len(body)
    if used < n:
        rest = b"\n".join(frags[used:])
        t.remainder = (first + used, n - used, rest)
        t.freed -= len(rest)
