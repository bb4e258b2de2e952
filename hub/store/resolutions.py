"""The resolution table: which retention policy fits a time span, written where Grafana can read it.

The hub's own API picks raw, 1-minute or 1-hour data by the span asked
(:func:`hub.store.retention.choose_resolution`). Grafana cannot run that
function, but it can run a query: at start the hub writes one point per
resolution into measurement ``rp_config`` of the ``meta`` retention policy
(kept forever, never the default), and the dashboards' hidden ``rp`` variable
selects the finest row whose ``max_span_ms`` covers the dashboard's range::

    SELECT first("rp") FROM "meta"."rp_config"
    WHERE ("max_span_ms" >= ${__to} - ${__from} AND "pick" = '$res') OR "rp" = '$res'

Each row is at a fixed timestamp (1, 2, 3 ms after the epoch, finest first), so
writing it again at the next start overwrites it and ``first()`` returns the
finest match. ``pick`` is ``auto`` on every row: choosing ``auto`` in the
dashboard selects by span, choosing a policy name selects that row.
"""

from __future__ import annotations

from hub.store.retention import DAY_MS, H1, M1, RAW, RetentionSettings

META = "meta"
MEASUREMENT = "rp_config"
FOREVER_SPAN_MS = 100 * 365 * DAY_MS  # h1 covers any span


def policy_statement(database_ident: str) -> str:
    """The ``meta`` retention policy (to prefix with CREATE or ALTER)."""
    return f'RETENTION POLICY "{META}" ON {database_ident} DURATION INF REPLICATION 1'


def lines(r: RetentionSettings) -> list[str]:
    """Line protocol (ms precision) of the three rows, finest first."""
    spans = ((RAW, r.raw_max_span_days * DAY_MS), (M1, r.rollup_1m_max_span_days * DAY_MS), (H1, FOREVER_SPAN_MS))
    return [
        f'{MEASUREMENT},idx={i} rp="{rp}",pick="auto",max_span_ms={int(span)}i {i}'
        for i, (rp, span) in enumerate(spans, start=1)
    ]
