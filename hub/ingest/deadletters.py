"""Keep rejected messages and readings with their reasons, and count them."""

from __future__ import annotations

import asyncio
import logging
import time

from hub.ingest.stats import IngestStats
from hub.registry.models import DeadLetter
from hub.registry.service import Registry

log = logging.getLogger(__name__)
PAYLOAD_KEEP_BYTES = 4096


class DeadLetterSink:
    """Writes dead letters to the registry database and counts them by reason."""

    def __init__(self, registry: Registry, stats: IngestStats) -> None:
        self.registry = registry
        self.stats = stats

    async def add(self, topic: str, node: str | None, reason: str, detail: str, payload: bytes | str) -> None:
        """Record one rejected message or reading."""
        await self.add_many([(topic, node, reason, detail, payload)])

    async def add_many(self, items: list[tuple[str, str | None, str, str, bytes | str]]) -> None:
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
            log.warning("%s: dead letter (%s): %s", node or topic, reason, detail[:200])
        await asyncio.to_thread(self.registry.add_dead_letters, letters)
