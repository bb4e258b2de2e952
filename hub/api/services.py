"""The hub's long-lived objects, handed to the API through ``app.state``."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from citysense.agentconfig import HubLink
from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from hub.broker.admin import BrokerAdmin
from hub.broker.commands import CommandCenter
from hub.ingest.brokerwatch import BrokerWatch
from hub.ingest.nodehealth import NodeHealthBook
from hub.ingest.spool import Spool
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.service import Registry
from hub.store.base import Store
from hub.store.watch import StoreWatch

if TYPE_CHECKING:
    from hub.stations.server import StationGateway
    from hub.stations.stats import GatewayStats


@dataclass
class HubServices:
    """Everything a request handler may use."""

    registry: Registry
    store: Store
    latest: LatestCache
    stats: IngestStats
    profiles: ProfileSet
    spool: Spool | None = None
    # Device management (issue 6): node kinds for provisioning, the broker admin, how agents reach the hub.
    kinds: dict[str, NodeKind] = field(default_factory=dict)
    dynsec: BrokerAdmin | None = None  # Mosquitto's dynamic security or the NATS account store (hub/broker/admin.py)
    broker_deadline_s: float = 30.0  # a claim or rotation gives up on the broker after this (hub/api/claimflow.py)
    node_locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    hub_link: HubLink = field(default_factory=HubLink)
    open_read: bool = False
    commands: CommandCenter | None = None  # publishes commands and config to nodes
    registry_changed: Callable[[], Awaitable[None]] | None = None  # refreshes ingest's registry snapshot
    stations: StationGateway | None = None  # the station gateway, when the hub runs one
    station_stats: GatewayStats | None = None
    # Health (issue 13): the broker ping, the store's set-up and pings, each node's last status, the ingest session.
    broker: BrokerWatch | None = None
    store_watch: StoreWatch | None = None
    node_health: NodeHealthBook = field(default_factory=NodeHealthBook)
    ingest_connected: Callable[[], bool] | None = None
    # API requests answered 503 while the registry database was unavailable (hub/api/dbdown.py).
    registry_unavailable: int = 0

    async def notify_registry_changed(self) -> None:
        """Tell ingest that nodes or devices were added or moved."""
        if self.registry_changed is not None:
            await self.registry_changed()
