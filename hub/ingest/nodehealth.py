"""What each node last said about itself, and whether it is alive.

An agent publishes its status retained (``{prefix}/{node}/status``): a birth
on connect, ``online`` with ``health`` every ``status_interval_s``, and a
death as its last will. The hub keeps the newest of each node here, in
memory. Nothing of it needs a table to survive a hub restart: the broker
hands the retained status of every node to the hub's subscription at once
(MQTT 3.1.1 §3.3.1.3), and the registry keeps liveness and versions.

A node's *liveness* follows its broker presence and its traffic:

* ``unknown``: the hub's broker is silent or unreachable, so no presence can
  be seen (a stopped broker delivers no last will);
* ``offline``: the node's death message (its will, or a clean disconnect);
* ``silent``: nothing from it (telemetry or status) for ``silent_after_ms``;
* ``online`` otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from citysense.contract import AgentHealth, NodeStatus

log = logging.getLogger(__name__)
Liveness = Literal["online", "offline", "silent", "unknown"]
DEFAULT_SILENT_AFTER_MS = 180_000  # three of the agent's default 60 s status intervals


@dataclass(slots=True)
class NodeHealth:
    """The newest status of one node, as received."""

    presence: Literal["online", "offline"]
    session: str
    agent_ts_ms: int  # the agent's clock
    received_ms: int  # the hub's clock
    health: AgentHealth | None = None
    health_received_ms: int | None = None
    dropping_since: int | None = None  # dropped count when the current drop episode began


class NodeHealthBook:
    """Node id -> :class:`NodeHealth`; and each node's liveness."""

    def __init__(self, silent_after_ms: int = DEFAULT_SILENT_AFTER_MS) -> None:
        self.silent_after_ms = silent_after_ms
        self._nodes: dict[str, NodeHealth] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, node: str) -> NodeHealth | None:
        """The node's newest status, if one arrived since the hub started."""
        return self._nodes.get(node)

    def items(self) -> list[tuple[str, NodeHealth]]:
        """Every node heard from, by id."""
        return sorted(self._nodes.items())

    def record(self, status: NodeStatus, now_ms: int) -> None:
        """Keep ``status``; a late death of an older session is ignored (the node already reconnected)."""
        held = self._nodes.get(status.node)
        if status.state == "offline" and held is not None and held.session != status.session:
            return
        if held is None:
            held = self._nodes[status.node] = NodeHealth(status.state, status.session, status.ts_ms, now_ms)
        held.presence, held.session = status.state, status.session
        held.agent_ts_ms, held.received_ms = status.ts_ms, now_ms
        if status.health is not None:
            self._note_drops(status.node, held, status.health)
            held.health, held.health_received_ms = status.health, now_ms

    def liveness(
        self, node: str, last_seen_ms: int | None, now_ms: int, *, broker_ok: bool = True, registry_online: bool = True
    ) -> Liveness:
        """The node's liveness (see the module doc).

        ``last_seen_ms`` and ``registry_online``: what the registry holds (its last traffic, and its presence
        before this hub heard a status from it).
        """
        if not broker_ok:
            return "unknown"
        held = self._nodes.get(node)
        if held is None and not registry_online:
            return "offline" if last_seen_ms else "unknown"  # never heard from: unknown
        if held is not None and held.presence == "offline":
            return "offline"
        seen = max(last_seen_ms or 0, held.received_ms if held else 0)
        if not seen:
            return "unknown"
        return "silent" if now_ms - seen > self.silent_after_ms else "online"

    def _note_drops(self, node: str, held: NodeHealth, health: AgentHealth) -> None:
        """Log a node's drop episode once when it starts and once when it ends, with the count."""
        before = held.health.dropped if held.health is not None else None
        if before is None or health.dropped < before:  # first report, or a new buffer: no episode to judge
            return
        if health.dropped > before and held.dropping_since is None:
            held.dropping_since = before
            log.warning(
                "%s: the agent's buffer is full and dropping readings (%d so far, %d readings waiting)",
                node,
                health.dropped - before,
                health.queue_depth,
            )
        elif health.dropped == before and held.dropping_since is not None:
            log.warning("%s: the agent stopped dropping: %d readings dropped", node, before - held.dropping_since)
            held.dropping_since = None
