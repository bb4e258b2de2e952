"""The store interface: what the hub writes and reads, whatever the back end.

A :class:`StoredReading` is one reading after ingest has resolved its node,
device uid and profile. Values are normalised before they get here: numbers
and booleans are floats (``True`` is ``1.0``) so that a metric's type never
changes between writes; strings stay strings; ``None`` only with a quality
other than ``GOOD``.

Every back end keeps one value per ``(device, metric, ts_ms)``: writing the
same key again replaces the first write (last write wins), so a redelivered
batch is harmless.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from typing import Self

import msgspec

from citysense.quality import Quality
from hub.store.errors import StoreRejected
from hub.store.spans import RAW, RetentionSettings, choose_resolution


class StoredReading(msgspec.Struct, frozen=True, gc=False):
    """One value of one metric of one device at one instant, as stored.

    A msgspec struct rather than a frozen dataclass: ingest makes one per
    reading, and a frozen dataclass's ``__init__`` (one ``object.__setattr__``
    per field) was a tenth of the hub's CPU under load. ``gc=False``: it holds
    only strings, numbers and the device's tag mapping, never a cycle, so the
    cycle collector need not track it. Unhashable (``tags`` is a mapping).
    """

    node: str
    device: str  # globally unique device uid, e.g. "GZ-P-0001.lamp"
    profile: str
    metric: str
    value: float | str | None
    unit: str
    ts_ms: int
    quality: Quality
    tags: Mapping[str, str] = msgspec.field(default_factory=dict)  # extra tags (town, village, dept...)


def check_value(r: StoredReading) -> None:
    """Refuse what some back end cannot keep faithfully: NaN/inf, ``__`` in a metric, good without value."""
    if isinstance(r.value, float) and not math.isfinite(r.value):
        raise StoreRejected(f"{r.device}.{r.metric}@{r.ts_ms}: value {r.value} is not finite")
    if "__" in r.metric:
        # The InfluxDB schema names companion fields <metric>__q and <metric>__bad.
        raise StoreRejected(f"{r.device}.{r.metric}: metric names may not contain '__'")
    if r.value is None and r.quality == Quality.GOOD:
        raise StoreRejected(f"{r.device}.{r.metric}@{r.ts_ms}: a good reading must carry a value")


def reading_order(r: StoredReading) -> tuple[int, str]:
    """Sort key of query results: time, then metric."""
    return (r.ts_ms, r.metric)


class Store(abc.ABC):
    """Time-series storage of readings; see :mod:`hub.store.errors` for what each call raises."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and create what the back end needs (database, tables)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and threads; the store cannot be used afterwards."""

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` when the back end does not answer (a local one always does)."""
        return  # a concrete default (B027): a local back end need not override it

    @abc.abstractmethod
    async def write(self, readings: Sequence[StoredReading]) -> None:
        """Store ``readings`` idempotently; raise ``StoreUnavailable`` so the caller can retry."""

    @abc.abstractmethod
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
        """Return readings with ``start_ms <= ts_ms < end_ms``, ordered by time then metric, at most ``limit``.

        ``resolution`` is ``raw``, or ``m1``/``h1`` for the rollups of a store
        whose :meth:`resolutions` is set (``ValueError`` otherwise); rollup
        readings have the raw schema, one per window.
        """

    def resolutions(self) -> RetentionSettings | None:
        """The resolutions this store keeps beside raw data (``None``: raw only)."""
        return None

    async def query_resolved(
        self,
        device: str,
        profile: str,
        metrics: Sequence[str] | None,
        start_ms: int,
        end_ms: int,
        now_ms: int,
        limit: int = 10_000,
    ) -> tuple[str, list[StoredReading]]:
        """Like :meth:`query_range`, from the resolution that fits the range; return ``(resolution, readings)``."""
        kept = self.resolutions()
        rp = RAW if kept is None else choose_resolution(start_ms, end_ms, now_ms, kept)
        return rp, await self.query_range(device, profile, metrics, start_ms, end_ms, limit, rp)

    @abc.abstractmethod
    async def latest(self, devices: Sequence[tuple[str, str]]) -> dict[str, dict[str, StoredReading]]:
        """Return device uid -> metric -> newest reading for ``(device uid, profile)`` pairs."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
