"""What Grafana does to a panel's InfluxQL before sending it: template variables and macros.

Follows Grafana's InfluxDB data source: a multi-value or include-all variable
inside a regex becomes ``(a|b)`` with each value regex-escaped, "All" becomes
the variable's ``allValue``; ``$timeFilter`` becomes an absolute range in ms;
``$__interval`` the interval Grafana picked for the panel width; ``${__from}``
and ``${__to}`` the range in ms. :func:`resolve_query_variable` runs a query
variable as Grafana does when the time range changes (the hidden ``rp``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

ALL = "$__all"
_REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|{}\[\]/-])")


def regex_value(values: list[str], all_value: str) -> str:
    """Format a variable's selection for a regex, as Grafana does for InfluxDB."""
    if values == [ALL]:
        return all_value
    escaped = [_REGEX_SPECIAL.sub(r"\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(
    query: str, selection: dict[str, list[str]], board: dict[str, Any], *, start_ms: int, end_ms: int, interval: str
) -> str:
    """Replace the dashboard's variables and Grafana's macros in ``query``."""
    out = query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    out = out.replace("${__from}", str(start_ms)).replace("${__to}", str(end_ms))
    out = out.replace("$__interval", interval)
    for var in sorted(board["templating"]["list"], key=lambda v: -len(v["name"])):
        name = var["name"]
        chosen = selection.get(name)
        if chosen is None:
            current = var.get("current", {}).get("value", ALL)
            chosen = current if isinstance(current, list) else [current]
        text = regex_value(chosen, var.get("allValue", ".*")) if var["type"] == "query" else chosen[0]
        out = out.replace(f"${{{name}}}", text).replace(f"${name}", text)
    return out


def run(influx_url: str, database: str, statement: str) -> list[dict[str, Any]]:
    """Run one statement; return its series; raise AssertionError with InfluxDB's error."""
    r = httpx.get(f"{influx_url}/query", params={"db": database, "q": statement, "epoch": "ms"}, timeout=30)
    assert r.status_code == 200, (r.status_code, r.text, statement)
    result = r.json()["results"][0]
    assert "error" not in result, (result["error"], statement)
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def resolve_query_variable(
    influx_url: str, database: str, board: dict[str, Any], name: str, selection: dict[str, list[str]], **range_: Any
) -> list[str]:
    """Run variable ``name``'s query with the other variables as selected; return its values (Grafana: row[1])."""
    var = next(v for v in board["templating"]["list"] if v["name"] == name)
    statement = interpolate(var["query"], selection, board, **range_)
    return [str(row[1]) for s in run(influx_url, database, statement) for row in s["values"]]


def has_values(series: list[dict[str, Any]]) -> bool:
    """True when some series has a row with a non-null value besides the time column."""
    return any(any(v is not None for v in row[1:]) for s in series for row in s["values"])


def influx_targets(board: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(panel title, target)`` of every InfluxDB target of a dashboard."""
    out = []
    for panel in board["panels"]:
        for t in panel.get("targets", []):
            if t["datasource"]["type"] == "influxdb":
                out.append((panel["title"], t))
    return out
