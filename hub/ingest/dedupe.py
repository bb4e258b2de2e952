"""Drop batches already stored, by ``(node, seq)``.

An agent re-publishes a batch with the same sequence number when it never saw
the PUBACK, and a broker redelivers unacknowledged QoS 1 messages (MQTT 3.1.1
§4.4): both arrive here as duplicates. A window of the most recent sequence
numbers per node is enough because agents number their batches in order.
"""

from __future__ import annotations

from collections import deque


class SeqWindow:
    """Recently stored sequence numbers of every node."""

    def __init__(self, window: int = 4096) -> None:
        self.window = window
        self._seen: dict[str, set[int]] = {}
        self._order: dict[str, deque[int]] = {}

    def seen(self, node: str, seq: int) -> bool:
        """True when ``(node, seq)`` was already stored."""
        return seq in self._seen.get(node, ())

    def mark(self, node: str, seq: int) -> None:
        """Remember that ``(node, seq)`` is stored, forgetting the oldest beyond the window."""
        seen = self._seen.setdefault(node, set())
        order = self._order.setdefault(node, deque())
        if seq in seen:
            return
        seen.add(seq)
        order.append(seq)
        if len(order) > self.window:
            seen.discard(order.popleft())
