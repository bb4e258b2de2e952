"""InfluxDB's v2 write API (2.x, 3.x, Cloud, and servers that implement it) through influxdb-client.

Writes go to ``/api/v2/write`` with a token, an organisation and a bucket,
gzip'ed, through ``influxdb_client``'s synchronous client in a worker thread
(its async client would add aiohttp as a dependency); the same line protocol as
the v1 store (:mod:`hub.store.lineprotocol`). Reads use the v1 compatibility
``/query`` endpoint (InfluxQL) that 2.x and 3.x serve with the same token, so
everything but the write path is inherited from :class:`InfluxV1Store`.
Map the bucket to a database name (DBRP) on the server for those reads.

With ``rollups`` (:class:`hub.store.hub_rollups.HubRollups`) the hub
downsamples itself: after the raw points, the 1-minute and 1-hour windows the
batch touched go to the buckets ``<bucket>_m1`` and ``<bucket>_h1``, in the
same schema (``m`` = mean of the good values, ``m__q`` = best quality). Map
them as retention policies ``m1`` and ``h1`` of the same database (DBRP) and
:meth:`query_resolved` reads the resolution that fits a range, as on 1.x.
A write returns only once raw and rollup points are written, so a batch that
fails is retried whole and its windows are emitted again.

Errors of ``influxdb_client`` and ``urllib3`` are mapped here to
:mod:`hub.store.errors`: HTTP 5xx/408/429 and transport failures are
``StoreUnavailable``, other HTTP errors ``StoreRejected``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import urllib3.exceptions
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from hub.store.base import StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable
from hub.store.hub_rollups import HubRollups
from hub.store.influx_v1 import InfluxV1Store
from hub.store.lineprotocol import encode
from hub.store.retention import RetentionSettings

log = logging.getLogger(__name__)


class InfluxV2Store(InfluxV1Store):
    """Readings written through the v2 API into ``bucket``; read through v1 compatibility (database = bucket)."""

    def __init__(
        self,
        url: str,
        bucket: str,
        org: str,
        token: str,
        timeout_s: float = 10.0,
        *,
        rollups: HubRollups | None = None,
        resolution: RetentionSettings | None = None,
        gzip: bool = True,
    ) -> None:
        super().__init__(url, bucket, "token", token, timeout_s, create_database=False, gzip=gzip)
        self.bucket, self.org = bucket, org
        self.hub_rollups = rollups
        self.rollup_rejected = 0  # rollup points a rollup bucket refused (raw points were stored)
        self._resolution = resolution
        self._v2 = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000), enable_gzip=gzip)
        self._write_api = self._v2.write_api(write_options=SYNCHRONOUS)

    async def start(self) -> None:
        """Ping the server (v2 servers take no CREATE statements) and open the local rollup aggregator."""
        if self.hub_rollups is not None:
            await self.hub_rollups.start()
        await super().start()  # rollups=None upstairs: no CREATE RETENTION POLICY, which v2 servers refuse

    def resolutions(self) -> RetentionSettings | None:
        """``m1``/``h1`` are the hub-side rollup buckets, read through DBRP mappings, when the hub writes them."""
        return self._resolution if self.hub_rollups is not None else None

    async def close(self) -> None:
        """Close both HTTP clients and the local aggregator."""
        await asyncio.to_thread(self._v2.close)
        if self.hub_rollups is not None:
            await self.hub_rollups.close()
        await super().close()

    async def write(self, readings: Sequence[StoredReading]) -> None:
        """Write the raw points, then the rollup windows they touched into ``<bucket>_m1`` / ``<bucket>_h1``."""
        await self._write_bucket(self.bucket, readings)
        if self.hub_rollups is None:
            return
        for rp, windows in sorted((await self.hub_rollups.absorb(readings)).items()):
            try:
                await self._write_bucket(f"{self.bucket}_{rp}", windows)
            except StoreRejected as exc:
                # The raw points are stored: a missing or refused rollup bucket must not refuse (dead-letter) them.
                # An unavailable server still raises, so the whole batch is retried or spooled.
                before, self.rollup_rejected = self.rollup_rejected, self.rollup_rejected + len(windows)
                if before == 0 or before // 10_000 != self.rollup_rejected // 10_000:  # the first, then every 10,000th
                    log.warning(
                        "%s_%s: rollup points refused (%d so far): %s", self.bucket, rp, self.rollup_rejected, exc
                    )

    async def _write_bucket(self, bucket: str, readings: Sequence[StoredReading]) -> None:
        """POST the readings as line protocol to ``/api/v2/write`` in batches of ``batch_lines``."""
        lines = encode(readings)
        for i in range(0, len(lines), self.batch_lines):
            body = "\n".join(lines[i : i + self.batch_lines])
            try:
                await asyncio.to_thread(self._post, bucket, body)
            except InfluxDBError as exc:
                status = exc.response.status if exc.response is not None else None
                if status is None or status >= 500 or status in (408, 429):
                    raise StoreUnavailable(f"{self.url}/api/v2/write: {exc}") from exc
                raise StoreRejected(f"{self.url}/api/v2/write: {exc}", status) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise StoreUnavailable(f"{self.url}/api/v2/write: {type(exc).__name__}: {exc}") from exc

    def _post(self, bucket: str, body: str) -> None:
        self._write_api.write(bucket, self.org, body, write_precision=WritePrecision.MS)  # type: ignore[arg-type]
