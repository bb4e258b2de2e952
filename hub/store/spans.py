"""Resolutions: which of raw, 1-minute and 1-hour data a range reads, and how long each is kept.

Shared by every store (:meth:`hub.store.base.Store.query_resolved`), the
InfluxDB 1.x policies and continuous queries (:mod:`hub.store.retention`),
the embedded rollups (:mod:`hub.store.sqlite_rollups`) and the resolution
table Grafana reads (:mod:`hub.store.resolutions`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from citysense.profiles.model import Strict

DAY_MS = 86_400_000
RAW, M1, H1 = "raw", "m1", "h1"


class RetentionSettings(Strict):
    """How long each resolution is kept (``None``: forever)."""

    raw_days: Annotated[int, Field(ge=1)] = 30
    rollup_1m_days: Annotated[int, Field(ge=1)] | None = 365
    rollup_1h_days: Annotated[int, Field(ge=1)] | None = None
    # Spans up to this many days are read raw; up to rollup_1m_max_span_days from m1; longer from h1.
    raw_max_span_days: Annotated[float, Field(gt=0)] = 2
    rollup_1m_max_span_days: Annotated[float, Field(gt=0)] = 60


def choose_resolution(start_ms: int, end_ms: int, now_ms: int, r: RetentionSettings) -> str:
    """Return the retention policy a query over ``[start_ms, end_ms)`` should read."""
    span, age = end_ms - start_ms, now_ms - start_ms
    if span <= r.raw_max_span_days * DAY_MS and age <= r.raw_days * DAY_MS:
        return RAW
    if span <= r.rollup_1m_max_span_days * DAY_MS and (r.rollup_1m_days is None or age <= r.rollup_1m_days * DAY_MS):
        return M1
    return H1
