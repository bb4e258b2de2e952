"""InfluxQL statements against the hub's schema (docs/storage-schema.md), with Grafana's macros.

measurement = profile id; tags ``device``, ``node``, ``town``, ``village``,
``dept``; field ``m`` holds good values only (bad ones are in ``m__bad``), so
``mean("m")`` is over good readings. ``$rp`` picks the retention policy
(``raw``, 1-minute ``m1`` or 1-hour ``h1`` rollups), which keep the same schema:
by the range's span, from the hub's resolution table, unless chosen by hand.
"""

# ruff: noqa: S608  (these statements are dashboard text for Grafana to run, built from profile names)
from __future__ import annotations

# Every panel is filtered by the dashboard's region and department variables. The "All" value
# is ".*", which also matches a device without that tag (a node placed directly in a town).
FILTER = '"town" =~ /^$town$/ AND "village" =~ /^$village$/ AND "dept" =~ /^$dept$/'


# The finest retention policy whose span covers the dashboard's range, or the one chosen by hand
# (the hub writes this table at start: hub/store/resolutions.py).
RESOLUTION = (
    'SELECT first("rp") FROM "meta"."rp_config" '
    'WHERE ("max_span_ms" >= ${__to} - ${__from} AND "pick" = \'$res\') OR "rp" = \'$res\''
)


def ident(name: str) -> str:
    """Quote an identifier (names come from profiles: lowercase, digits, underscores)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def source(profile: str) -> str:
    """The FROM clause: the profile's measurement in the chosen retention policy."""
    return f'"$rp".{ident(profile)}'


def device_is(uid: str) -> str:
    """A condition selecting one device."""
    return '"device" = \'' + uid.replace("\\", "\\\\").replace("'", "\\'") + "'"


def over_time(
    profile: str, metric: str, fn: str = "mean", *, by: str = "device", fill: str = "none", where: str = ""
) -> str:
    """``fn(metric)`` per Grafana interval, one series per ``by`` tag value."""
    extra = f" AND {where}" if where else ""
    return (
        f"SELECT {fn}({ident(metric)}) AS {ident(metric)} FROM {source(profile)} "
        f"WHERE $timeFilter AND {FILTER}{extra} GROUP BY time($__interval), {ident(by)} fill({fill})"
    )


def increase(profile: str, counter: str, *, by: str = "device") -> str:
    """How much a running total (energy, rain) grew in each Grafana interval, resets ignored."""
    return (
        f"SELECT non_negative_difference(max({ident(counter)})) AS {ident(counter)} FROM {source(profile)} "
        f"WHERE $timeFilter AND {FILTER} GROUP BY time($__interval), {ident(by)} fill(none)"
    )


def spread_since(profile: str, counter: str, window: str, *, by: str = "device") -> str:
    """How much a running total grew over the last ``window`` (e.g. ``1h``), per ``by``."""
    return (
        f"SELECT spread({ident(counter)}) AS {ident(counter)} FROM {source(profile)} "
        f"WHERE time > now() - {window} AND {FILTER} GROUP BY {ident(by)}"
    )


def latest(profile: str, metrics: list[str], *, by: str = "device") -> str:
    """The newest value of each metric in the dashboard's range, per ``by`` (a table)."""
    cols = ", ".join(f"last({ident(m)}) AS {ident(m)}" for m in metrics)
    return f"SELECT {cols} FROM {source(profile)} WHERE $timeFilter AND {FILTER} GROUP BY {ident(by)}"


def reporting(profile: str, quality_of: str, window: str) -> str:
    """Devices of a profile that stored anything in the last ``window``, counted per town."""
    inner = (
        f"SELECT last({ident(quality_of + '__q')}) AS q FROM {source(profile)} "
        f'WHERE time > now() - {window} AND {FILTER} GROUP BY "device", "town"'
    )
    return f'SELECT count("q") AS "devices" FROM ({inner}) GROUP BY "town"'


def bad_quality(profile: str, metric: str, *, by: str = "device") -> str:
    """Readings of ``metric`` that were not good, per interval (quality code > 0)."""
    return (
        f"SELECT count({ident(metric + '__q')}) AS {ident(metric + '_bad')} FROM {source(profile)} "
        f"WHERE $timeFilter AND {FILTER} AND {ident(metric + '__q')} > 0 "
        f"GROUP BY time($__interval), {ident(by)} fill(none)"
    )


def total_latest(profile: str, metric: str, window: str) -> str:
    """The sum over devices of each one's newest value in the last ``window`` (lamps on, cabinets in fault)."""
    inner = (
        f"SELECT last({ident(metric)}) AS v FROM {source(profile)} "
        f'WHERE time > now() - {window} AND {FILTER} GROUP BY "device"'
    )
    return f'SELECT sum("v") AS {ident(metric)} FROM ({inner})'
