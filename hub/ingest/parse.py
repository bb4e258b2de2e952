"""One MQTT message to a telemetry batch, a node status or a refusal (pure, never raises).

Telemetry goes through the msgspec fast path (:mod:`hub.ingest.wire`); a
batch the contract refuses because of some readings is salvaged
(:mod:`hub.ingest.salvage`): its valid readings kept, each invalid one
refused on its own. A status dated more than ``MAX_FUTURE_MS`` ahead of the
hub's clock is refused: it would keep its node from ever going stale.
Anything that raises while parsing refuses the message with reason
``internal_error``, so no message can stop ingest.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, field

from citysense.contract import Channel, NodeStatus, TelemetryBatch, decode, parse_topic
from citysense.errors import ContractError
from hub.ingest.deadletters import Refusal
from hub.ingest.salvage import batch_key, salvage
from hub.ingest.validate import MAX_FUTURE_MS
from hub.ingest.wire import FastBatch, decode_telemetry

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Telemetry:
    """A telemetry message that decoded: its batch and the readings the contract refused in it."""

    topic: str
    node: str
    payload: bytes
    batch: TelemetryBatch | FastBatch
    bad: list[Refusal] = field(default_factory=list)


@dataclass(slots=True)
class Status:
    """A node's status message that decoded, with its topic and payload (for a dead letter if applying it fails)."""

    topic: str
    payload: bytes
    status: NodeStatus


@dataclass(slots=True)
class Refused:
    """A message refused whole; ``key`` is ``(node, epoch, seq)`` when a refused batch still names them."""

    refusal: Refusal
    key: tuple[str, str, int] | None = None


def parse(topic: str, payload: bytes, prefix: str, nodes: Container[str], now_ms: int) -> Telemetry | Status | Refused:
    """Parse one message from the broker; ``nodes`` holds the registered node ids."""
    try:
        return _parse(topic, payload, prefix, nodes, now_ms)
    except Exception as exc:  # a bug must not stop ingest: this message is dead-lettered, the next one goes on
        log.exception("ingest: parsing a message on %r raised", topic[:200])
        return Refused((topic, None, "internal_error", f"{type(exc).__name__}: {exc}", payload))


def _parse(topic: str, payload: bytes, prefix: str, nodes: Container[str], now_ms: int) -> Telemetry | Status | Refused:
    try:
        node, channel = parse_topic(topic, prefix)
    except ContractError as exc:
        return Refused((topic, None, exc.reason, exc.detail, payload))
    if node not in nodes:
        return Refused((topic, node, "unknown_node", f"node '{node}' is not registered", payload))
    if channel is Channel.TELEMETRY:
        return _telemetry(topic, node, payload)
    if channel is Channel.STATUS:
        try:
            status = decode(NodeStatus, payload, node)
        except ContractError as exc:
            return Refused((topic, node, exc.reason, exc.detail, payload))
        if status.ts_ms > now_ms + MAX_FUTURE_MS:
            detail = f"ts_ms {status.ts_ms} is more than {MAX_FUTURE_MS} ms ahead of hub time {now_ms}"
            return Refused((topic, node, "future_timestamp", detail, payload))
        return Status(topic, payload, status)
    return Refused((topic, node, "unexpected_channel", f"the hub takes no {channel.value} messages", payload))


def _telemetry(topic: str, node: str, payload: bytes) -> Telemetry | Refused:
    try:
        return Telemetry(topic, node, payload, decode_telemetry(payload, node))
    except ContractError as exc:
        first = exc
    if first.reason == "schema":
        try:
            batch, bad = salvage(payload, node, first)
        except ContractError as exc:
            first = exc
        else:
            refusals: list[Refusal] = [(topic, node, b.reason, b.detail, b.content) for b in bad]
            return Telemetry(topic, node, payload, batch, refusals)
    key = batch_key(payload) if first.reason != "node_mismatch" else None
    return Refused((topic, node, first.reason, first.detail, payload), None if key is None else (node, *key))
