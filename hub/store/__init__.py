"""Time-series storage of readings: one :class:`Store` interface, two back ends.

::

    base.py         StoredReading, the Store interface, value checks
    errors.py       StoreError > StoreUnavailable | StoreRejected
    lineprotocol.py pure InfluxDB line-protocol encoder (schema: docs/storage-schema.md)
    influxql.py     InfluxQL statements and result parsing for the InfluxDB back end
    influx_v1.py    InfluxV1Store: InfluxDB over the v1 HTTP API (1.x; 2.x/3.x compatibility)
    influx_v2.py    InfluxV2Store: writes through the v2 API (2.x, 3.x, Cloud), reads as v1
    hub_rollups.py  HubRollups: hub-side rollups for the v2 API (a local SQLite store aggregates)
    sqlite.py       SqliteStore: the embedded default, one SQLite file in WAL mode
    sqlite_rollups.py  its 1-minute and 1-hour rollups and retention
    spans.py        resolutions (raw, m1, h1), how long each is kept, which one a range reads
    retention.py    retention policies and continuous queries (InfluxDB 1.x)
    resolutions.py  the resolution table Grafana reads (InfluxDB 1.x)
"""

from __future__ import annotations

from hub.store.base import Store, StoredReading
from hub.store.errors import StoreError, StoreRejected, StoreUnavailable

__all__ = ["Store", "StoreError", "StoreRejected", "StoreUnavailable", "StoredReading"]
