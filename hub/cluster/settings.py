"""The hub's ``cluster:`` settings: the one switch from a county hub to a province worker."""

from __future__ import annotations

import os
import socket
from typing import Annotated

from pydantic import Field, SecretStr

from citysense.profiles.model import Strict


class ClusterSettings(Strict):
    """Consume telemetry from a NATS JetStream cluster as one of N workers (docs/scale-out.md).

    With this section the hub does not subscribe over MQTT: it consumes the
    partitions its leases give it. Agents, profiles and the rest of the hub's
    settings stay as they are; the store is usually ``victoria``.
    """

    nats_urls: list[str] = Field(min_length=1, max_length=16)
    """Every member's client URL (``nats://nats-1:4222``...): the client fails over between them."""
    worker: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """This worker's name; default: ``$CITYSENSE_WORKER``, else ``<hostname>-<pid>``."""
    partitions: Annotated[int, Field(ge=1, le=1024)] = 64
    """Must equal the count in the servers' ``mappings`` (deploy/nats/citysense-nats.conf)."""
    replicas: Annotated[int, Field(ge=1, le=5)] = 3
    lease_ttl_s: Annotated[float, Field(ge=1, le=300)] = 6.0
    lease_renew_s: Annotated[float, Field(gt=0, le=100)] = 2.0
    ack_wait_s: Annotated[float, Field(ge=1, le=600)] = 10.0
    fetch_batch: Annotated[int, Field(ge=1, le=10_000)] = 500
    bucket: str = Field(default="citysense", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    username: str | None = None
    password: SecretStr | None = None
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0

    def worker_name(self) -> str:
        """The configured name, the systemd instance's, or one unique to this process."""
        return self.worker or os.environ.get("CITYSENSE_WORKER") or f"{socket.gethostname()}-{os.getpid()}"
