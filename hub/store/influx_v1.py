"""InfluxDB through its v1 HTTP API: 1.x, and the v1 compatibility endpoints of 2.x/3.x.

Writes are line protocol (:mod:`hub.store.lineprotocol`) POSTed to
``/write?precision=ms`` in batches, gzip'ed unless ``gzip`` is false (about a
tenth of the bytes; on the ingest benchmark plain and gzip'ed bodies give the
hub the same throughput, ``docs/benchmarks-hub.md``); reads are InfluxQL on ``/query?epoch=ms``
(:mod:`hub.store.influxql`). Every request runs under one overall deadline
(``timeout_s``) on top of httpx's own connect/read timeouts. HTTP and
transport failures are mapped to :mod:`hub.store.errors` here and nowhere else.

InfluxDB 2.x/3.x: map the database to a bucket (DBRP) beforehand, pass
``create_database=False`` (they do not take ``CREATE DATABASE``), and the token
as ``password`` (any ``username``): their v1 endpoints accept basic auth.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from hub.store import influxql, resolutions, retention
from hub.store.base import Store, StoredReading, reading_order
from hub.store.errors import StoreRejected, StoreUnavailable
from hub.store.lineprotocol import encode

log = logging.getLogger(__name__)

# 408 and 429 are client codes but mean "later", as 5xx do.
_RETRYABLE = frozenset({408, 429})
DEVICES_PER_STATEMENT = 200


class InfluxV1Store(Store):
    """Readings in one InfluxDB database; one measurement per profile, one series per device."""

    def __init__(
        self,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        *,
        retention_policy: str | None = None,
        create_database: bool = True,
        batch_lines: int = 5_000,
        transport: httpx.AsyncBaseTransport | None = None,
        rollups: retention.RetentionSettings | None = None,
        rollup_metrics: Mapping[str, Sequence[str]] | None = None,
        gzip: bool = True,
    ) -> None:
        if timeout_s <= 0 or batch_lines < 1:
            raise ValueError("timeout_s must be > 0 and batch_lines >= 1")
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.create_database = create_database
        self.batch_lines = batch_lines
        self.timeout_s = timeout_s
        self.rollups = rollups
        self.rollup_metrics = dict(rollup_metrics or {})
        auth = httpx.BasicAuth(username, password or "") if username is not None else None
        self._client = httpx.AsyncClient(
            base_url=self.url,
            auth=auth,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
        )
        self._write_params = {"db": database, "precision": "ms"}
        self.gzip = gzip
        self._write_headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzip:
            self._write_headers["Content-Encoding"] = "gzip"
        if retention_policy:
            self._write_params["rp"] = retention_policy

    async def start(self) -> None:
        """Create the database (``CREATE DATABASE`` is a no-op when it exists), or just ping."""
        if self.create_database:
            await self._query([f"CREATE DATABASE {influxql.ident(self.database)}"], with_db=False)
        else:
            await self._request("GET", "/ping")
        if self.rollups is not None:
            await self._create_rollups(self.rollups)

    async def ping(self) -> None:
        """``GET /ping`` (InfluxDB 1.x and 2.x answer 204 No Content)."""
        await self._request("GET", "/ping")

    async def _create_rollups(self, r: retention.RetentionSettings) -> None:
        """Create or update the retention policies and (re)create the continuous queries (InfluxDB 1.x)."""
        for policy in retention.policy_statements(self.database, r):
            try:
                await self._query([f"CREATE {policy}"], with_db=False)
            except StoreRejected:  # exists with other settings: bring it in line
                await self._query([f"ALTER {policy}"], with_db=False)
        await self._write_resolutions(r)
        for statement in retention.continuous_queries(self.database, self.rollup_metrics):
            try:
                await self._query([statement], with_db=False)
            except StoreRejected:
                if not statement.startswith("DROP"):  # dropping one that does not exist yet is fine
                    raise
        log.info("%s: retention policies and %d rollup queries in place", self.database, len(self.rollup_metrics))

    async def _write_resolutions(self, r: retention.RetentionSettings) -> None:
        """Create the ``meta`` policy and write the resolution table the dashboards read (resolutions.py)."""
        policy = resolutions.policy_statement(influxql.ident(self.database))
        try:
            await self._query([f"CREATE {policy}"], with_db=False)
        except StoreRejected:
            await self._query([f"ALTER {policy}"], with_db=False)
        params = {"db": self.database, "rp": resolutions.META, "precision": "ms"}
        await self._request("POST", "/write", params=params, content="\n".join(resolutions.lines(r)).encode())

    async def rollup_range(self, target: str, start_ms: int, end_ms: int) -> None:
        """Compute ``target`` (m1 or h1) rollups for a past range now, as the continuous queries would."""
        source, every = (retention.RAW, "1m") if target == retention.M1 else (retention.M1, "1h")
        where = f"time >= {start_ms}ms AND time < {end_ms}ms"
        for profile, metrics in sorted(self.rollup_metrics.items()):
            if metrics:
                sel = retention.rollup_select(self.database, profile, metrics, source, target, every, where)
                await self._query([sel], with_db=False)

    def resolutions(self) -> retention.RetentionSettings | None:
        """The policies the hub keeps in this database (``rollups``), or ``None``."""
        return self.rollups

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self._client.request(
                    method, path, params=params, content=content, data=data, headers=headers
                )
        except TimeoutError as exc:
            raise StoreUnavailable(f"{self.url}{path}: no answer within {self.timeout_s} s") from exc
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"{self.url}{path}: {type(exc).__name__}: {exc}") from exc
        if resp.is_success:
            return resp
        detail = f"{self.url}{path}: HTTP {resp.status_code}: {resp.text.strip()[:500]}"
        if resp.status_code >= 500 or resp.status_code in _RETRYABLE:
            raise StoreUnavailable(detail)
        raise StoreRejected(detail, resp.status_code)

    async def _query(
        self, statements: Sequence[str], *, with_db: bool = True, rp: str | None = None
    ) -> list[dict[str, Any]]:
        """Run statements in one request; return one result per statement; raise on any statement error."""
        params = {"epoch": "ms"}
        if with_db:
            params["db"] = self.database
            if rp or self.retention_policy:
                params["rp"] = rp or self.retention_policy or ""
        resp = await self._request("POST", "/query", params=params, data={"q": ";\n".join(statements)})
        try:
            body = resp.json()
            results: list[dict[str, Any]] = body["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreUnavailable(f"{self.url}/query: unexpected answer {resp.text[:200]!r}") from exc
        for result in results:
            if "error" in result:
                raise StoreRejected(f"{self.url}/query: {result['error']}")
        return results

    async def write(self, readings: Sequence[StoredReading]) -> None:
        """POST every batch; rejected batches do not stop the others (1.x keeps a partial write's good points)."""
        lines = encode(readings)
        rejected: StoreRejected | None = None
        for i in range(0, len(lines), self.batch_lines):
            body = "\n".join(lines[i : i + self.batch_lines]).encode()
            if self.gzip:
                body = gzip.compress(body, compresslevel=1)
            try:
                await self._post_lines(body)
            except StoreRejected as exc:
                log.warning(
                    "%s: batch of %d lines rejected: %s", self.database, len(lines[i : i + self.batch_lines]), exc
                )
                rejected = rejected or exc
        if rejected is not None:
            raise rejected
        log.debug("%s: wrote %d readings", self.database, len(readings))

    async def _post_lines(self, body: bytes) -> None:
        headers = self._write_headers
        try:
            await self._request("POST", "/write", params=self._write_params, content=body, headers=headers)
        except StoreRejected as exc:
            if exc.status != 404 or not self.create_database:
                raise
            # "database not found": it was dropped under us; create it again once and retry.
            log.warning("%s: database missing, creating it again", self.database)
            await self.start()
            await self._request("POST", "/write", params=self._write_params, content=body, headers=headers)

    async def query_range(
        self,
        device: str,
        profile: str,
        metrics: Sequence[str] | None,
        start_ms: int,
        end_ms: int,
        limit: int = 10_000,
        resolution: str = retention.RAW,
    ) -> list[StoredReading]:
        """Return the device's readings in ``[start_ms, end_ms)``, by time then metric.

        A rollup resolution reads the retention policy of that name (m1 or h1), which keeps the raw schema.
        """
        rp = None
        if resolution != retention.RAW:
            if self.resolutions() is None:  # the v2 store keeps its own (hub-side rollups)
                raise ValueError(f"{self.database}: no rollups are kept (resolution {resolution!r})")
            rp = resolution
        if limit < 1 or start_ms >= end_ms or (metrics is not None and not metrics):
            return []
        q = influxql.range_query(profile, device, metrics, start_ms, end_ms, limit)
        (result,) = await self._query([q], rp=rp)
        wanted = None if metrics is None else set(metrics)
        out = [
            r
            for s in result.get("series") or []
            for r in influxql.series_readings(s, profile)
            if wanted is None or r.metric in wanted
        ]
        out.sort(key=reading_order)
        return out[:limit]

    async def latest(self, devices: Sequence[tuple[str, str]]) -> dict[str, dict[str, StoredReading]]:
        """Return the newest reading per (device, metric): per profile, one ``last()`` per metric for all devices."""
        by_profile: dict[str, list[str]] = defaultdict(list)
        for device, profile in dict.fromkeys(devices):
            by_profile[profile].append(device)
        out: dict[str, dict[str, StoredReading]] = {}
        for profile, uids in by_profile.items():
            metrics = await self._metrics(profile)
            for i in range(0, len(uids), DEVICES_PER_STATEMENT) if metrics else ():
                chunk = uids[i : i + DEVICES_PER_STATEMENT]
                results = await self._query(influxql.latest_queries(profile, chunk, metrics))
                for metric, result in zip(metrics, results, strict=True):
                    for s in result.get("series") or []:
                        for r in influxql.series_readings(influxql.rename_last(s, metric), profile):
                            held = out.setdefault(r.device, {}).get(r.metric)
                            if held is None or r.ts_ms >= held.ts_ms:
                                out[r.device][r.metric] = r
        return out

    async def _metrics(self, profile: str) -> list[str]:
        """Return the metrics stored in a profile's measurement (those with a quality field)."""
        (result,) = await self._query([f"SHOW FIELD KEYS FROM {influxql.ident(profile)}"])
        keys = [row[0] for s in result.get("series") or [] for row in s.get("values") or []]
        return sorted({m for m, role in map(influxql.split_field, keys) if role == "q"})
