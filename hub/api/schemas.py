"""Public response models of the API."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, Field

from hub.api.health_schemas import BrokerHealthPublic, Liveness, NodeHealthPublic, SpoolHealthPublic, StoreHealthPublic

# Bounded path and query parameters: every request has a size and a range.
NodeId = Annotated[str, Path(max_length=64)]
DeviceUid = Annotated[str, Path(max_length=129)]
Filter = Annotated[str | None, Query(max_length=128)]
Metrics = Annotated[list[str] | None, Query(max_length=256)]
INT64_MAX = 2**63 - 1


class DevicePublic(BaseModel):
    """A device as the API shows it."""

    uid: str
    node_id: str
    local_id: str
    profile: str
    connection: str
    unit_id: int
    poll_interval_s: float


class NodePublic(BaseModel):
    """A node as the API shows it."""

    id: str
    kind: str
    name: str
    region_code: str
    department_id: str
    latitude: float | None
    longitude: float | None
    site: str
    online: bool
    last_seen_ms: int | None
    agent_version: str
    config_version: int
    devices: list[DevicePublic]
    status: str = "commissioned"  # placeholder | claiming (a claim waits on the broker) | claimed | commissioned
    desired_config_version: int = 0
    liveness: Liveness = Field(
        default="unknown",
        description="online; offline (its last will or a clean stop); silent (nothing heard for the hub's "
        "node_silent_after_s); unknown (the hub's broker is down, or nothing heard since it started). "
        "`online` is true only for liveness online",
    )
    health: NodeHealthPublic | None = Field(default=None, description="The agent's last health report")


class ReadingPublic(BaseModel):
    """One stored reading."""

    metric: str
    value: float | str | None
    unit: str
    ts_ms: int
    quality: str


class LatestPublic(BaseModel):
    """The newest reading of every metric of one device."""

    device: str
    readings: dict[str, ReadingPublic]


class RangePublic(BaseModel):
    """Readings of one device in ``[start_ms, end_ms)``."""

    device: str
    start_ms: int
    end_ms: int
    readings: list[ReadingPublic]


class DeadLetterPublic(BaseModel):
    """A rejected message or reading."""

    id: int
    received_ms: int
    topic: str
    node: str | None
    reason: str
    detail: str
    payload: str


class HealthPublic(BaseModel):
    """The hub's health (HTTP 503 unless ``status`` is ``ok``) and ingest counters."""

    status: Literal["ok", "degraded"]
    problems: list[str] = Field(description="What is wrong, one line each (empty when ok)")
    broker: BrokerHealthPublic | None = None
    store: StoreHealthPublic | None = None
    spool: SpoolHealthPublic | None = None
    nodes: int
    nodes_online: int
    messages: int
    batches: int
    readings_stored: int
    duplicates: int
    dead_letters: dict[str, int]
