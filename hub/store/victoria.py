"""VictoriaMetrics as the province store: line protocol in, Prometheus export API out.

VictoriaMetrics (Apache-2.0) clusters in production as ``vminsert`` (writes),
``vmselect`` (reads) and ``vmstorage``; its single-node server serves both
sides on one port. Writes are the hub's usual line protocol
(:mod:`hub.store.lineprotocol`) POSTed to ``<insert_url>/write?precision=ms``
(single node: ``http://vm:8428``; cluster: ``http://vminsert:8480/insert/<tenant>/influx``);
VictoriaMetrics names each field's series ``<measurement>_<field>``, so a
reading is ``<profile>_<metric>`` (good value), ``<profile>_<metric>__bad`` and
``<profile>_<metric>__q`` (quality code) with the device's tags as labels, and
a ``db`` label naming the hub's database, so several counties can share one
cluster.

Reads go to ``<select_url>/api/v1/export`` (single node: the same URL;
cluster: ``http://vmselect:8481/select/<tenant>/prometheus``), which returns
raw samples as JSON lines.

Two differences from InfluxDB, handled here:

* VictoriaMetrics keeps numbers only (a string field becomes 0). A string
  value is written as a series ``<profile>_<metric>__s`` whose label
  ``str_value`` carries the string (at most :data:`MAX_STRING` characters;
  CR/LF become spaces as in every tag) and whose sample is 1, beside its
  ``__q`` series with the same label.
* Two samples of one series at one instant are both kept unless the server
  runs with ``-dedup.minScrapeInterval=1ms`` (required, ``docs/scale-out.md``);
  with it, a re-sent batch is stored once. Reads also keep one sample per
  instant (the last one returned), so a server without the flag still answers
  without doubles.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from citysense.quality import Quality
from hub.store.base import StoredReading, check_value, reading_order
from hub.store.errors import StoreRejected, StoreUnavailable
from hub.store.influx_v1 import InfluxV1Store
from hub.store.lineprotocol import BAD_SUFFIX, QUALITY_SUFFIX, escape_key, normalise, series_key
from hub.store.retention import RAW

log = logging.getLogger(__name__)

STRING_SUFFIX = "__s"
STRING_LABEL = "str_value"
MAX_STRING = 1024
LATEST_LOOKBACK_S = 7 * 86400
_SKIP_LABELS = frozenset({"__name__", "device", "node", "db", STRING_LABEL})


class VictoriaStore(InfluxV1Store):
    """Readings in VictoriaMetrics, single node or cluster; ``database`` becomes the ``db`` label."""

    def __init__(
        self,
        insert_url: str,
        database: str,
        *,
        select_url: str | None = None,
        timeout_s: float = 10.0,
        batch_lines: int = 5_000,
        gzip: bool = True,
        latest_lookback_s: float = LATEST_LOOKBACK_S,
    ) -> None:
        super().__init__(
            insert_url, database, timeout_s=timeout_s, create_database=False, batch_lines=batch_lines, gzip=gzip
        )
        self.select_url = (select_url or insert_url).rstrip("/")
        self.latest_lookback_s = latest_lookback_s
        self._select = httpx.AsyncClient(base_url=self.select_url, timeout=httpx.Timeout(timeout_s))

    async def start(self) -> None:
        """Check that both sides answer (``/health`` on a single node, the cluster's ``/ping`` on vminsert)."""
        await self._request("GET", "/ping")
        await self._get_select("/api/v1/status/buildinfo", {})

    async def close(self) -> None:
        """Close both HTTP clients."""
        await self._select.aclose()
        await super().close()

    async def write(self, readings: Sequence[StoredReading]) -> None:
        """Write numbers as line protocol and string values as labelled ``__s`` series."""
        numeric: list[StoredReading] = []
        strings: list[str] = []
        for r in readings:
            if isinstance(r.value, str):
                check_value(r)
                strings.append(_string_line(r))
            else:
                numeric.append(r)
        if numeric:
            await super().write(numeric)
        for i in range(0, len(strings), self.batch_lines):
            body = "\n".join(strings[i : i + self.batch_lines]).encode()
            await self._post_lines(gzip.compress(body, compresslevel=1) if self.gzip else body)

    async def _post_lines(self, body: bytes) -> None:
        await self._request("POST", "/write", params=self._write_params, content=body, headers=self._write_headers)

    async def _get_select(self, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            resp = await self._select.post(path, data=params)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"{self.select_url}{path}: {type(exc).__name__}: {exc}") from exc
        if resp.is_success:
            return resp
        detail = f"{self.select_url}{path}: HTTP {resp.status_code}: {resp.text.strip()[:500]}"
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise StoreUnavailable(detail)
        raise StoreRejected(detail, resp.status_code)

    async def _export(self, selector: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Raw samples of every series matching ``selector`` in ``[start_ms, end_ms]`` (both ends inclusive)."""
        params = {"match[]": selector, "start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}"}
        resp = await self._get_select("/api/v1/export", params)
        try:
            return [json.loads(line) for line in resp.text.splitlines() if line.strip()]
        except ValueError as exc:
            raise StoreUnavailable(f"{self.select_url}/api/v1/export: unexpected answer {resp.text[:200]!r}") from exc

    def _selector(self, profile: str, devices: Sequence[str], metrics: Sequence[str] | None) -> str:
        names = "|".join(re.escape(m) for m in metrics) if metrics is not None else ".+"
        devs = "|".join(re.escape(normalise(d)) for d in devices)
        return (
            f'{{__name__=~"{_re(re.escape(profile))}_({_re(names)})(__q|__bad|__s)?",'
            f'device=~"{_re(devs)}",db="{_re(self.database)}"}}'
        )

    async def query_range(
        self,
        device: str,
        profile: str,
        metrics: Sequence[str] | None,
        start_ms: int,
        end_ms: int,
        limit: int = 10_000,
        resolution: str = RAW,
    ) -> list[StoredReading]:
        """The device's raw readings in ``[start_ms, end_ms)``, by time then metric (raw only)."""
        if resolution != RAW:
            raise ValueError(f"{self.database}: VictoriaMetrics is read raw (resolution {resolution!r})")
        if limit < 1 or start_ms >= end_ms or (metrics is not None and not metrics):
            return []
        series = await self._export(self._selector(profile, [device], metrics), start_ms, end_ms - 1)
        out = [r for r in _readings(series, profile) if start_ms <= r.ts_ms < end_ms]
        out.sort(key=reading_order)
        return out[:limit]

    async def latest(self, devices: Sequence[tuple[str, str]]) -> dict[str, dict[str, StoredReading]]:
        """The newest reading per (device, metric) within ``latest_lookback_s``."""
        by_profile: dict[str, list[str]] = defaultdict(list)
        for device, profile in dict.fromkeys(devices):
            by_profile[profile].append(device)
        now_ms = int(time.time() * 1000)
        out: dict[str, dict[str, StoredReading]] = {}
        for profile, uids in by_profile.items():
            for i in range(0, len(uids), 200):
                selector = self._selector(profile, uids[i : i + 200], None)
                series = await self._export(selector, now_ms - int(self.latest_lookback_s * 1000), now_ms + 60_000)
                for r in _readings(series, profile):
                    held = out.setdefault(r.device, {}).get(r.metric)
                    if held is None or r.ts_ms >= held.ts_ms:
                        out[r.device][r.metric] = r
        return out


def _re(text: str) -> str:
    """Escape a regular expression for a double-quoted MetricsQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _string_line(r: StoredReading) -> str:
    text = str(r.value)[:MAX_STRING]
    key = series_key(r.profile, r.node, r.device, {**r.tags, STRING_LABEL: text})
    name = escape_key(r.metric)
    return f"{key} {name}{STRING_SUFFIX}=1,{name}{QUALITY_SUFFIX}={int(r.quality)}i {r.ts_ms}"


def _readings(series: Iterable[dict[str, Any]], profile: str) -> list[StoredReading]:
    """Fold exported series (``<profile>_<metric>[__q|__bad|__s]``) back into one reading per (device, metric, ts)."""
    parts: dict[tuple[str, str, int], dict[str, Any]] = {}
    head = profile + "_"
    for s in series:
        labels: dict[str, str] = s.get("metric", {})
        name = labels.get("__name__", "")
        if not name.startswith(head):
            continue
        metric, role = name[len(head) :], "value"
        for suffix, kind in ((QUALITY_SUFFIX, "q"), (BAD_SUFFIX, "bad"), (STRING_SUFFIX, "s")):
            if metric.endswith(suffix):
                metric, role = metric[: -len(suffix)], kind
                break
        tags = {k: v for k, v in labels.items() if k not in _SKIP_LABELS}
        for sample, ts in zip(s.get("values", []), s.get("timestamps", []), strict=False):
            slot = parts.setdefault((labels.get("device", ""), metric, int(ts)), {"node": labels.get("node", "")})
            slot[role] = labels.get(STRING_LABEL, "") if role == "s" else sample
            slot["tags"] = tags
    out: list[StoredReading] = []
    for (device, metric, ts), slot in parts.items():
        if "q" not in slot:
            continue  # a value whose quality sample is not visible yet: read it with its quality later
        quality = Quality(int(slot["q"]))
        value: float | str | None = slot.get("s", slot.get("value", slot.get("bad")))
        if isinstance(value, int | float):
            value = float(value)
        out.append(StoredReading(slot["node"], device, profile, metric, value, "", ts, quality, slot["tags"]))
    return out
