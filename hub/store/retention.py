"""Retention and downsampling: raw data for a while, 1-minute and 1-hour rollups for longer.

On InfluxDB 1.x the hub creates, at start, three retention policies in its
database (``raw``, the default, where writes land; ``m1``; ``h1``) and two
continuous queries per profile that roll ``raw`` up into ``m1`` every minute
and ``m1`` into ``h1`` every hour. A rollup point keeps the stored schema
(field ``m`` = mean of the good values, ``m__q`` = best quality code in the
window), so the same reader serves every resolution.

:func:`choose_resolution` (:mod:`hub.store.spans`, re-exported here) picks the
policy a range query reads: the finest one that still holds the start of the
range and returns a sensible number of points for its span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hub.store.influxql import ident
from hub.store.lineprotocol import QUALITY_SUFFIX
from hub.store.spans import DAY_MS, H1, M1, RAW, RetentionSettings, choose_resolution

__all__ = ["DAY_MS", "H1", "M1", "RAW", "RetentionSettings", "choose_resolution", "continuous_queries",
           "policy_statements", "rollup_select"]  # fmt: skip


def _duration(days: int | None) -> str:
    return "INF" if days is None else f"{days}d"


def policy_statements(database: str, r: RetentionSettings) -> list[str]:
    """The three retention policies, to prefix with CREATE (or ALTER when it exists); ``raw`` is the default."""
    db = ident(database)
    out = []
    for name, days, default in ((RAW, r.raw_days, True), (M1, r.rollup_1m_days, False), (H1, r.rollup_1h_days, False)):
        tail = f"DURATION {_duration(days)} REPLICATION 1{' DEFAULT' if default else ''}"
        out.append(f"RETENTION POLICY {ident(name)} ON {db} {tail}")
    return out


def rollup_select(
    database: str, profile: str, metrics: Sequence[str], source: str, target: str, every: str, where: str = ""
) -> str:
    """The SELECT ... INTO that rolls ``source`` up into ``target`` in windows of ``every``."""
    db = ident(database)
    cols = ", ".join(
        f"mean({ident(m)}) AS {ident(m)}, min({ident(m + QUALITY_SUFFIX)}) AS {ident(m + QUALITY_SUFFIX)}"
        for m in metrics
    )
    into = f"{db}.{ident(target)}.{ident(profile)}"
    where = f" WHERE {where}" if where else ""
    src = f"{db}.{ident(source)}.{ident(profile)}"
    return f"SELECT {cols} INTO {into} FROM {src}{where} GROUP BY time({every}), *"  # noqa: S608


def continuous_queries(database: str, numeric_metrics: Mapping[str, Sequence[str]]) -> list[str]:
    """DROP and CREATE the m1 and h1 continuous queries of every profile (so a changed profile is picked up)."""
    db = ident(database)
    out = []
    for profile, metrics in sorted(numeric_metrics.items()):
        if not metrics:
            continue
        for target, source, every in ((M1, RAW, "1m"), (H1, M1, "1h")):
            name = ident(f"cq_{target}_{profile}")
            out.append(f"DROP CONTINUOUS QUERY {name} ON {db}")
            body = rollup_select(database, profile, metrics, source, target, every)
            out.append(f"CREATE CONTINUOUS QUERY {name} ON {db} BEGIN {body} END")
    return out
