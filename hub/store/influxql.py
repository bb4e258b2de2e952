"""Build the InfluxQL the InfluxDB store sends, and turn result series back into readings.

Only InfluxQL that InfluxDB 1.x and the v1 ``/query`` endpoints of 2.x/3.x
share is used: plain ``SELECT`` with ``WHERE`` on tags and time,
``GROUP BY *``, ``LIMIT``, the ``last()`` selector with auxiliary fields, and
``SHOW FIELD KEYS``. Quoting follows the InfluxQL spec: identifiers in double
quotes, string literals in single quotes, backslash escapes in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.lineprotocol import BAD_SUFFIX, QUALITY_SUFFIX, RESERVED_TAGS, normalise

_IDENT = str.maketrans({"\\": "\\\\", '"': '\\"'})
_LITERAL = str.maketrans({"'": "\\'"})

Series = Mapping[str, Any]


def ident(name: str) -> str:
    """Quote an identifier (measurement, tag key, field key) as written by the encoder."""
    return f'"{normalise(name).translate(_IDENT)}"'


def literal(text: str) -> str:
    """Quote a tag value for ``WHERE`` as written by the encoder (no backslash survives normalising)."""
    return f"'{normalise(text).translate(_LITERAL)}'"


def metric_fields(metric: str) -> list[str]:
    """Return the three field keys that hold one metric."""
    return [metric, metric + BAD_SUFFIX, metric + QUALITY_SUFFIX]


def range_query(
    profile: str,
    device: str,
    metrics: Sequence[str] | None,
    start_ms: int,
    end_ms: int,
    limit: int,
) -> str:
    """SELECT one device's rows in ``[start_ms, end_ms)``; ``LIMIT`` counts rows (each holds >= 1 reading)."""
    cols = "*" if metrics is None else ",".join(ident(f) for m in sorted(set(metrics)) for f in metric_fields(m))
    # Every name goes through ident() and every value through literal(): no injection (S608).
    where = f'"device" = {literal(device)} AND time >= {start_ms}ms AND time < {end_ms}ms'
    return f"SELECT {cols} FROM {ident(profile)} WHERE {where} GROUP BY * ORDER BY time ASC LIMIT {limit}"  # noqa: S608


def latest_queries(profile: str, devices: Sequence[str], metrics: Sequence[str]) -> list[str]:
    """One statement per metric: the newest quality code of every listed device, with its value fields.

    ``last()`` of a single field keeps that point's timestamp and lets the
    auxiliary fields come from the same point; ``last(*)`` would not.
    """
    where = " OR ".join(f'"device" = {literal(d)}' for d in devices)
    out = []
    for m in metrics:
        value, bad, q = (ident(f) for f in metric_fields(m))
        out.append(f"SELECT last({q}),{value},{bad} FROM {ident(profile)} WHERE {where} GROUP BY *")  # noqa: S608
    return out


def split_field(key: str) -> tuple[str, str]:
    """Return ``(metric, role)`` of a field key; role is ``""``, ``"bad"`` or ``"q"``."""
    if key.endswith(QUALITY_SUFFIX):
        return key[: -len(QUALITY_SUFFIX)], "q"
    if key.endswith(BAD_SUFFIX):
        return key[: -len(BAD_SUFFIX)], "bad"
    return key, ""


def _value(raw: object) -> float | str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, int | float):
        return float(raw)
    return str(raw)


def series_readings(series: Series, profile: str) -> list[StoredReading]:
    """Turn one result series (wide rows, one column per field) into readings."""
    tags: dict[str, str] = {k: v for k, v in (series.get("tags") or {}).items() if v}
    device, node = tags.get("device", ""), tags.get("node", "")
    extra = {k: v for k, v in tags.items() if k not in RESERVED_TAGS}
    columns: list[str] = series["columns"]
    roles = [split_field(c) for c in columns]
    out: list[StoredReading] = []
    for row in series.get("values") or []:
        ts_ms = int(row[0])
        found: dict[str, dict[str, object]] = {}
        for (metric, role), raw in zip(roles[1:], row[1:], strict=True):
            if raw is not None:
                found.setdefault(metric, {})[role] = raw
        for metric, parts in found.items():
            code = parts.get("q")
            quality = Quality(int(code)) if isinstance(code, int | float) else Quality.GOOD
            raw = parts.get("" if quality == Quality.GOOD else "bad")
            out.append(
                StoredReading(
                    node=node,
                    device=device,
                    profile=profile,
                    metric=metric,
                    value=_value(raw),
                    unit="",
                    ts_ms=ts_ms,
                    quality=quality,
                    tags=extra,
                )
            )
    return out


def rename_last(series: Series, metric: str) -> Series:
    """Name the ``last`` column of a latest statement after the metric's quality field."""
    columns = [metric + QUALITY_SUFFIX if c == "last" else c for c in series["columns"]]
    return {**series, "columns": columns}
