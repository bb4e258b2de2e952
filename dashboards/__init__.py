"""Grafana dashboards as code for department staff (water, weather, urban management, traffic).

``python -m dashboards generate`` writes ``dashboards/generated/*.json`` from the
device profiles and node kinds; ``python -m dashboards push`` loads them into a
Grafana server through its HTTP API. See ``docs/dashboards.md``.

Exceptions (one tree, rooted at :class:`DashboardError`):

- :class:`DashboardError` - a dashboard cannot be built (a profile lost a metric
  a panel needs, a lines file is malformed) or pushed (Grafana refused it).
"""

from __future__ import annotations


class DashboardError(Exception):
    """Root of this package's errors."""
