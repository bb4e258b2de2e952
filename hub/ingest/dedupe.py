"""Drop batches already stored, by ``(node, epoch, seq)``, and know each one's content digest.

An agent re-publishes a batch it never saw acknowledged, and a broker
redelivers unacknowledged QoS 1 messages (MQTT 3.1.1 §4.4): both arrive here
as duplicates, byte for byte. A batch with a stored key but another digest
is a reused seq (an agent that lost its state but kept its epoch), which the
pipeline dead-letters. A window of the most recent keys per node and epoch is
enough because agents number their batches in order.
"""

from __future__ import annotations

import hashlib
from collections import deque

# (node, epoch, seq) of one batch.
BatchKey = tuple[str, str, int]
UNKNOWN_DIGEST = 0  # stored before digests were kept (revision 0004): any content counts as the same


def digest(payload: bytes) -> int:
    """A 63-bit digest of a payload (BLAKE2b, RFC 7693), never :data:`UNKNOWN_DIGEST`."""
    value = int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "big") >> 1
    return value or 1


class SeqWindow:
    """Recently stored batch keys of every node and epoch, with their digests."""

    def __init__(self, window: int = 4096) -> None:
        self.window = window
        self._seen: dict[tuple[str, str], dict[int, int]] = {}
        self._order: dict[tuple[str, str], deque[int]] = {}

    def get(self, key: BatchKey) -> int | None:
        """The digest stored under ``key``, or ``None`` when the window does not know it."""
        node, epoch, seq = key
        seen = self._seen.get((node, epoch))
        return None if seen is None else seen.get(seq)

    def mark(self, key: BatchKey, content: int) -> None:
        """Remember that ``key`` is stored with digest ``content``, forgetting the oldest beyond the window."""
        node, epoch, seq = key
        seen = self._seen.setdefault((node, epoch), {})
        if seq in seen:
            return
        order = self._order.setdefault((node, epoch), deque())
        seen[seq] = content
        order.append(seq)
        if len(order) > self.window:
            seen.pop(order.popleft(), None)
