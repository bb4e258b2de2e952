"""The hub's acknowledgments on the agent's side: which batches are in flight, when to wait, what to re-send.

The broker's PUBACK only says the broker took a batch; the agent forgets it
when the hub says it is durable (:class:`~citysense.contract.IngestAck` on the
node's ``ack`` topic: every batch of the epoch up to ``seq``). Meanwhile at
most ``window`` batches are in flight (sent in this session, not yet
acknowledged), over the live and the backlog lanes together, so a hub that
comes back after an outage is not flooded by every agent at once. A batch
that stays unacknowledged for ``timeout_s`` after its sending is sent again
(the hub's dedupe drops copies), and the timeout doubles, up to
``MAX_TIMEOUT_FACTOR`` times, while no acknowledgment comes. When the buffer
caps dropped the batches right above the hub's acknowledgment, the hub cannot
move on until a batch tells it the new ``floor``: one batch is then formed
past a full window.
"""

from __future__ import annotations

import asyncio
import logging
import time

from citysense.contract import IngestAck
from edge_agent.buffer import DurableBuffer

log = logging.getLogger(__name__)
MAX_TIMEOUT_FACTOR = 16


class AckWindow:
    """In-flight batches of one session and the hub's acknowledgments of them."""

    def __init__(self, buffer: DurableBuffer, *, window: int, timeout_s: float) -> None:
        self.buffer = buffer
        self.window = window
        self.base_timeout_s = timeout_s
        self.timeout_s = timeout_s
        self._sent: dict[int, float] = {}  # seq -> monotonic time it was last sent
        self._moved = asyncio.Event()  # set whenever an acknowledgment frees batches
        self._gap_told: int | None = None  # the floor a batch past the full window was formed to carry

    @property
    def in_flight(self) -> int:
        """Batches sent in this session and not yet acknowledged."""
        return len(self._sent)

    def reset(self) -> None:
        """A new session: nothing is in flight on it yet."""
        self._sent.clear()
        self.timeout_s = self.base_timeout_s

    async def room(self) -> None:
        """Wait until fewer than ``window`` batches are in flight (or a new batch must carry a new ``floor``)."""
        while len(self._sent) >= self.window:
            low = self.buffer.gap_low()
            if low is not None and low != self._gap_told:
                self._gap_told = low  # one batch past the window, to carry the floor
                return
            self._moved.clear()
            try:
                async with asyncio.timeout(self.base_timeout_s):  # the caps may open a gap meanwhile
                    await self._moved.wait()
            except TimeoutError:
                pass

    def sent(self, seq: int) -> None:
        """Batch ``seq`` was just published."""
        self._sent[seq] = time.monotonic()

    def acked(self, ack: IngestAck) -> int:
        """Apply the hub's acknowledgment; return how many batches the buffer forgot."""
        if ack.epoch != self.buffer.epoch:
            log.debug("%s: acknowledgment for epoch %s ignored (ours is %s)", ack.node, ack.epoch, self.buffer.epoch)
            return 0
        forgotten = self.buffer.ack(ack.seq)
        done = [s for s in self._sent if s <= ack.seq]
        for seq in done:
            del self._sent[seq]
        if forgotten or done:
            self.timeout_s = self.base_timeout_s
            self._moved.set()
        return forgotten

    def forgot(self, seq: int) -> None:
        """Batch ``seq`` was forgotten at the broker's PUBACK (no acknowledgments on this broker)."""
        if self._sent.pop(seq, None) is not None:
            self._moved.set()

    def is_acked(self, seq: int) -> bool:
        """True when the hub has acknowledged batch ``seq`` already."""
        return seq <= self.buffer.acked

    async def overdue(self) -> list[int]:
        """Wait until some in-flight batch has waited ``timeout_s``; return every such seq, oldest first.

        The timeout then doubles (up to ``MAX_TIMEOUT_FACTOR`` times the base)
        until an acknowledgment arrives, so a hub that is away gets fewer copies.
        """
        while True:
            now = time.monotonic()
            due = sorted(s for s, t in self._sent.items() if now - t >= self.timeout_s)
            if due:
                self.timeout_s = min(self.timeout_s * 2, self.base_timeout_s * MAX_TIMEOUT_FACTOR)
                return due
            oldest = min(self._sent.values(), default=now)
            self._moved.clear()
            try:
                async with asyncio.timeout(max(0.05, oldest + self.timeout_s - now)):
                    await self._moved.wait()
            except TimeoutError:
                pass
