"""The hub's long-lived objects, handed to the API through ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from citysense.profiles import ProfileSet
from hub.ingest.spool import Spool
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.service import Registry
from hub.store.base import Store


@dataclass
class HubServices:
    """Everything a request handler may use."""

    registry: Registry
    store: Store
    latest: LatestCache
    stats: IngestStats
    profiles: ProfileSet
    spool: Spool | None = None
