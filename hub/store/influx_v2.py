"""InfluxDB's v2 write API (2.x, 3.x, Cloud, and servers that implement it) through influxdb-client.

Writes go to ``/api/v2/write`` with a token, an organisation and a bucket,
gzip'ed, through ``influxdb_client``'s synchronous client in a worker thread
(its async client would add aiohttp as a dependency); the same line protocol as
the v1 store (:mod:`hub.store.lineprotocol`). Reads use the v1 compatibility
``/query`` endpoint (InfluxQL) that 2.x and 3.x serve with the same token, so
everything but the write path is inherited from :class:`InfluxV1Store`.
Map the bucket to a database name (DBRP) on the server for those reads.

Errors of ``influxdb_client`` and ``urllib3`` are mapped here to
:mod:`hub.store.errors`: HTTP 5xx/408/429 and transport failures are
``StoreUnavailable``, other HTTP errors ``StoreRejected``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import urllib3.exceptions
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from hub.store.base import StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable
from hub.store.influx_v1 import InfluxV1Store
from hub.store.lineprotocol import encode


class InfluxV2Store(InfluxV1Store):
    """Readings written through the v2 API into ``bucket``; read through v1 compatibility (database = bucket)."""

    def __init__(self, url: str, bucket: str, org: str, token: str, timeout_s: float = 10.0) -> None:
        super().__init__(url, bucket, "token", token, timeout_s, create_database=False)
        self.bucket, self.org = bucket, org
        self._v2 = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000), enable_gzip=True)
        self._write_api = self._v2.write_api(write_options=SYNCHRONOUS)

    async def close(self) -> None:
        """Close both HTTP clients."""
        await asyncio.to_thread(self._v2.close)
        await super().close()

    async def write(self, readings: Sequence[StoredReading]) -> None:
        """POST the readings as line protocol to ``/api/v2/write`` in batches of ``batch_lines``."""
        lines = encode(readings)
        for i in range(0, len(lines), self.batch_lines):
            body = "\n".join(lines[i : i + self.batch_lines])
            try:
                await asyncio.to_thread(self._post, body)
            except InfluxDBError as exc:
                status = exc.response.status if exc.response is not None else None
                if status is None or status >= 500 or status in (408, 429):
                    raise StoreUnavailable(f"{self.url}/api/v2/write: {exc}") from exc
                raise StoreRejected(f"{self.url}/api/v2/write: {exc}", status) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise StoreUnavailable(f"{self.url}/api/v2/write: {type(exc).__name__}: {exc}") from exc

    def _post(self, body: str) -> None:
        self._write_api.write(self.bucket, self.org, body, write_precision=WritePrecision.MS)  # type: ignore[arg-type]
