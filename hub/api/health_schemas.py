"""Public models of the hub's and the nodes' health (``/api/v1/health``, ``/api/v1/nodes``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from citysense.contract import AgentHealth


class BrokerHealthPublic(BaseModel):
    """The hub's view of its MQTT broker."""

    state: Literal["starting", "ok", "silent", "unreachable"] = Field(
        description="ok: the hub's ping through the broker came back; silent: connected but no echo; "
        "unreachable: no session"
    )
    ingest_connected: bool = Field(description="The ingest session is subscribed")
    echo_age_s: float | None = Field(description="Seconds since the last ping echo")
    rtt_ms: float | None = Field(description="Round trip of the last ping echo")
    error: str = ""


class StoreHealthPublic(BaseModel):
    """The time-series store."""

    state: Literal["ok", "setting_up", "unavailable"] = Field(
        description="setting_up: the start-up set-up (database, retention, rollups) has not succeeded yet"
    )
    error: str = ""
    write_retries: int = Field(description="Store writes retried since the hub started")


class SpoolHealthPublic(BaseModel):
    """The on-disk spool that holds batches while the store is away."""

    batches: int
    readings: int
    max_readings: int
    fill: float = Field(description="readings / max_readings")


class NodeHealthPublic(AgentHealth):
    """What the node's agent last reported about itself (its status topic's ``health``)."""

    received_ms: int = Field(description="When the hub received this report (hub clock)")


Liveness = Literal["online", "offline", "silent", "unknown"]
