"""The hub's and each node's health as the API and ``/metrics`` report them, judged in one place."""

from __future__ import annotations

import time

from hub.api.health_schemas import (
    BrokerHealthPublic,
    Liveness,
    NodeHealthPublic,
    SpoolHealthPublic,
    StoreHealthPublic,
)
from hub.api.services import HubServices
from hub.registry.models import Node

SPOOL_FULL_AT = 0.9  # a spool this full is a problem: at 1.0 messages wait unacknowledged in the broker


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


def broker_ok(services: HubServices) -> bool:
    """False when the broker is known to be silent or unreachable (no watch: nothing known, so True)."""
    return services.broker is None or services.broker.ok()


def liveness(services: HubServices, node: Node, at_ms: int) -> Liveness:
    """The node's liveness: its broker presence (status, will) and its last traffic (hub/ingest/nodehealth.py)."""
    return services.node_health.liveness(
        node.id, node.last_seen_ms, at_ms, broker_ok=broker_ok(services), registry_online=node.online
    )


def node_health(services: HubServices, node_id: str) -> NodeHealthPublic | None:
    """The node's last health report, if one arrived since the hub started."""
    held = services.node_health.get(node_id)
    if held is None or held.health is None or held.health_received_ms is None:
        return None
    return NodeHealthPublic(**held.health.model_dump(), received_ms=held.health_received_ms)


def broker_health(services: HubServices) -> BrokerHealthPublic | None:
    """The broker ping's state and the ingest session."""
    w = services.broker
    if w is None:
        return None
    connected = services.ingest_connected() if services.ingest_connected is not None else True
    age = w.echo_age_s()
    return BrokerHealthPublic(
        state=w.state(),
        ingest_connected=connected,
        echo_age_s=None if age is None else round(age, 3),
        rtt_ms=None if w.rtt_ms is None else round(w.rtt_ms, 3),
        error=w.error,
    )


def store_health(services: HubServices) -> StoreHealthPublic | None:
    """The store's set-up and its last ping."""
    w = services.store_watch
    if w is None:
        return None
    return StoreHealthPublic(state=w.state(), error=w.error, write_retries=services.stats.store_retries)


def spool_health(services: HubServices) -> SpoolHealthPublic | None:
    """How much the spool holds."""
    sp = services.spool
    if sp is None:
        return None
    return SpoolHealthPublic(
        batches=sp.batches, readings=sp.readings, max_readings=sp.max_readings, fill=sp.readings / sp.max_readings
    )


def problems(
    broker: BrokerHealthPublic | None, store: StoreHealthPublic | None, spool: SpoolHealthPublic | None
) -> list[str]:
    """One line per failure an operator must look at (docs/operations.md, "What is wrong")."""
    out = []
    if broker is not None:
        if broker.state in ("silent", "unreachable"):
            out.append(f"broker {broker.state}" + (f": {broker.error}" if broker.error else ""))
        elif broker.state == "ok" and not broker.ingest_connected:
            out.append("ingest session not subscribed (reconnecting to the broker)")
    if store is not None and store.state != "ok":
        out.append(f"store {store.state}" + (f": {store.error}" if store.error else ""))
    if spool is not None and spool.fill >= SPOOL_FULL_AT:
        out.append(f"spool {spool.fill:.0%} full ({spool.readings} readings)")
    return out
