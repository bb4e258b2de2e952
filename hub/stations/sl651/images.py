"""Multi-packet image reports (36H): reassembly, or refusal with a reason (clause 6.5.3, mode M3).

An image is sent as ``total`` packets, each starting with SYN and its packet
information (12 bits total, 12 bits sequence, 1-based) and ending with ETB,
the last with ETX. The first packet's body holds serial number, send time,
``F1 F1`` station, ``F0 F0`` observation time and ``F3 F3``; the others carry
only image bytes; the bodies joined in sequence order form one report body.

Decision (documented in docs/stations-sl651.md): an image is reassembled up to
``max_bytes``; when complete it becomes one report with a ``PIC`` observation
(its size in bytes) and the image itself in ``extra["image"]`` for the gateway
to store and link, confirmed with ACK once durable. A last packet that finds
packets missing is refused (``image_incomplete``) with a NAK naming the first
missing one, and the parts are kept so that the re-sent packet completes it.
A bigger image, an inconsistent packet count or a new image that starts
before the last one ends is refused and its parts are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.stations.sl651.frames import Frame


@dataclass(slots=True)
class _Pending:
    total: int
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0
    last_seen: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """A packet was kept; ``missing`` is set once the last packet came with others still missing."""

    sequence: int
    total: int
    missing: int | None = None


@dataclass(frozen=True, slots=True)
class Whole:
    """Every packet arrived: the joined body."""

    body: bytes
    total: int


@dataclass(frozen=True, slots=True)
class Dropped:
    """The image was abandoned; ``reason`` is the refusal code."""

    reason: str
    detail: str


class Assembler:
    """One connection's images being reassembled, by station."""

    def __init__(self, *, max_bytes: int, max_pending: int = 4) -> None:
        self._max_bytes = max_bytes
        self._max_pending = max_pending
        self._pending: dict[str, _Pending] = {}

    def add(self, frame: Frame) -> Progress | Whole | Dropped:
        """Add one packet of a multi-packet frame."""
        assert frame.packet is not None
        total, sequence = frame.packet
        if total < 1 or not 1 <= sequence <= total:
            return Dropped("bad_packet", f"packet {sequence} of {total}")
        pending = self._pending.get(frame.station)
        if pending is not None and pending.total != total:
            del self._pending[frame.station]
            return Dropped("image_abandoned", f"a new image of {total} packets began before {pending.total} arrived")
        if pending is None and len(self._pending) >= self._max_pending:
            return Dropped("image_abandoned", f"{self._max_pending} images of other stations are being received")
        if pending is None:
            pending = self._pending[frame.station] = _Pending(total)
        old = pending.parts.get(sequence)
        pending.size += len(frame.body) - (len(old) if old is not None else 0)
        if pending.size > self._max_bytes:
            del self._pending[frame.station]
            return Dropped("image_too_large", f"more than {self._max_bytes} bytes in {total} packets")
        pending.parts[sequence] = frame.body
        pending.last_seen = pending.last_seen or sequence == total
        if len(pending.parts) == total:
            del self._pending[frame.station]
            return Whole(b"".join(pending.parts[k] for k in range(1, total + 1)), total)
        if pending.last_seen:
            missing = next(k for k in range(1, total + 1) if k not in pending.parts)
            return Progress(sequence, total, missing)
        return Progress(sequence, total)
