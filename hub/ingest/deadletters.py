"""Keep rejected messages and readings with their reasons, count them, and keep the table bounded.

Every rejection is stored and counted (``/metrics``, ``/api/v1/dead-letters``)
with its content up to ``PAYLOAD_KEEP_BYTES`` (the hub's message limit, 1 MiB:
a message the hub could take is kept whole, only an oversize one is cut). The
log gets the first one of each (source, reason), its node-supplied text made
printable, and then one line per ``LOG_PERIOD_S`` saying how many more came, so a misconfigured node or a
hostile publisher cannot flood the hub's log. Old rows are pruned
(``dead_letter_keep_days``, ``dead_letter_max_rows``); counters are not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from citysense.contract import MAX_PAYLOAD_BYTES
from hub.ingest.logsafe import safe
from hub.ingest.stats import IngestStats
from hub.registry.models import DeadLetter
from hub.registry.outage import Periodic
from hub.registry.service import Registry

log = logging.getLogger(__name__)
PAYLOAD_KEEP_BYTES = MAX_PAYLOAD_BYTES  # every message within the hub's limit is kept whole; a larger one cut here
LOG_PERIOD_S = 60.0
LOG_KEYS_MAX = 10_000  # distinct (source, reason) pairs remembered for throttling


# One refused message or reading: (topic, node or None, reason, detail, payload or the reading's JSON).
Refusal = tuple[str, str | None, str, str, bytes | str]


class LogThrottle:
    """Logs the first dead letter of each (source, reason), then at most one line per period with a count."""

    def __init__(self, period_s: float = LOG_PERIOD_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s, self.clock = period_s, clock
        self._next: dict[tuple[str, str], float] = {}
        self._held: Counter[tuple[str, str]] = Counter()

    def log(self, source: str, reason: str, detail: str) -> bool:
        """Log this rejection unless its pair was logged within the period; return whether it was logged."""
        now, key = self.clock(), (source, reason)
        if now < self._next.get(key, 0.0):
            self._held[key] += 1
            return False
        if len(self._next) >= LOG_KEYS_MAX:  # forget pairs whose period is over (their counts are logged as lost)
            self._next = {k: t for k, t in self._next.items() if t > now}
        held = self._held.pop(key, 0)
        more = f" ({held} more like it in the last {self.period_s:.0f} s)" if held else ""
        log.warning("%s: dead letter (%s): %s%s", safe(source, 80), safe(reason, 64), safe(detail), more)
        self._next[key] = now + self.period_s
        return True


class DeadLetterSink:
    """Writes dead letters to the registry database and counts them by reason."""

    def __init__(self, registry: Registry, stats: IngestStats) -> None:
        self.registry = registry
        self.stats = stats
        self.throttle = LogThrottle()

    async def add(self, topic: str, node: str | None, reason: str, detail: str, payload: bytes | str) -> None:
        """Record one rejected message or reading."""
        await self.add_many([(topic, node, reason, detail, payload)])

    async def add_many(self, items: list[Refusal]) -> None:
        """Record several rejections in one transaction."""
        now = time.time_ns() // 1_000_000
        letters = []
        for topic, node, reason, detail, payload in items:
            text = payload if isinstance(payload, str) else payload[:PAYLOAD_KEEP_BYTES].decode("utf-8", "replace")
            letters.append(
                DeadLetter(
                    received_ms=now,
                    topic=topic[:512],
                    node=node,
                    reason=reason,
                    detail=detail[:2000],
                    payload=text[:PAYLOAD_KEEP_BYTES],
                )
            )
            self.stats.dead_letters[reason] += 1
            self.throttle.log(node or topic, reason, detail)
        await asyncio.to_thread(self.registry.add_dead_letters, letters)

    async def run_pruning(self, keep_days: float, max_rows: int, every_s: float = 600.0) -> None:
        """Delete dead letters older than ``keep_days`` and beyond the newest ``max_rows``, every ``every_s``."""

        async def round_() -> None:
            cutoff = time.time_ns() // 1_000_000 - int(keep_days * 86_400_000)
            removed = await asyncio.to_thread(self.registry.prune_dead_letters, cutoff, max_rows)
            if removed:
                log.info("dead letters: %d old rows pruned", removed)

        await Periodic("dead-letter pruning", round_, every_s).run()  # a database outage never ends it
