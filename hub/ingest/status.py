"""Apply a node's status message: birth, periodic health or death (its last will).

Split from the pipeline so the status path (liveness, the node's self-reported
health) can grow without touching the telemetry path.
"""

from __future__ import annotations

import asyncio
import logging
import time

from citysense.contract import NodeStatus
from hub.ingest.logsafe import safe
from hub.ingest.nodehealth import NodeHealthBook
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.service import Registry

log = logging.getLogger(__name__)


class StatusHandler:
    """Records what a node says about itself on its retained status topic."""

    def __init__(self, *, registry: Registry, latest: LatestCache, stats: IngestStats) -> None:
        self.registry = registry
        self.latest = latest
        self.stats = stats
        self.book = NodeHealthBook()

    async def apply(self, status: NodeStatus) -> None:
        """Keep the node's health; mark it online or offline in the latest cache and the registry."""
        self.stats.status_messages += 1
        online = status.state == "online"
        self.latest.set_node_online(status.node, online, status.ts_ms, status.session)
        self.book.record(status, time.time_ns() // 1_000_000)
        if status.health is None:  # a birth or a death; periodic health reports are routine
            log.info(
                "%s: node %s (agent %s, config v%d)",
                status.node,
                status.state,
                safe(status.agent_version, 32),  # node-supplied: no forged log lines (hub/ingest/logsafe.py)
                status.config_version,
            )
        await asyncio.to_thread(
            self.registry.set_node_status,
            status.node,
            online,
            status.ts_ms,
            status.agent_version or None,
            status.config_version,
        )
