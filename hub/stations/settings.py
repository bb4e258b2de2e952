"""The hub settings' ``stations:`` section: one TCP listener per protocol, and the gateway's limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from citysense.profiles.model import Strict


class ListenerSettings(Strict):
    """One TCP port stations of one protocol dial in to."""

    protocol: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,16}$")]
    host: str = "0.0.0.0"  # noqa: S104  (stations dial in from the mobile network)
    port: Annotated[int, Field(ge=0, le=65535)]
    # A station silent this long is disconnected (DTUs send heartbeats, monitors report every minute or so).
    idle_timeout_s: Annotated[float, Field(gt=0, le=86400)] = 600.0
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    # DTU only: how the registration and heartbeat packets look (hub/stations/dtu/settings.py).
    registration_prefix: Annotated[str, Field(max_length=32)] = ""
    heartbeat: Annotated[str, Field(max_length=64)] = ""
    request_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0  # a Modbus request through the DTU
    inter_frame_delay_s: Annotated[float, Field(ge=0, le=5)] = 0.1  # pause between two requests on the bus


class StationsSettings(Strict):
    """The station gateway (docs/stations.md)."""

    listeners: list[ListenerSettings] = Field(min_length=1)
    profiles_dir: Path | None = None  # station profiles (default: station_profiles/ of the project)
    write_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    dedupe_keep_s: Annotated[float, Field(ge=60)] = 7 * 86400  # stations re-send up to days of stored data
    command_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0

    @model_validator(mode="after")
    def _one_per_port(self) -> Self:
        seen: set[tuple[str, int]] = set()
        for listener in self.listeners:
            key = (listener.host, listener.port)
            if listener.port and key in seen:
                raise ValueError(f"two listeners on {listener.host}:{listener.port}")
            seen.add(key)
        return self
