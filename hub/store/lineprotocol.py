"""Encode readings as InfluxDB line protocol (ms precision), with plain f-strings.

Schema (``docs/storage-schema.md``): the measurement is the profile id; tags
are ``device``, ``node`` and the reading's extra tags, sorted by key; the
readings of one ``(device, ts_ms)`` make ONE line whose fields are, per metric:

    <metric>=<float or "string">     the value of a GOOD reading
    <metric>__bad=<float or "string"> the value of a non-good reading, if it has one
    <metric>__q=<code>i              the quality code, always

Escaping follows the line-protocol reference (InfluxDB 1.x "Line protocol
syntax", same rules in 2.x/3.x): measurement: comma and space; tag keys, tag
values and field keys: comma, equals sign and space; string field values:
double quote and backslash. Line protocol cannot carry a newline in a name
or tag, and 1.x cannot carry a backslash before a comma, equals sign, space
or the end of a tag ("invalid tag format"), so names and tags are normalised:
CR/LF become spaces and every backslash becomes ``/`` (:func:`normalise`).
Tags with an empty value are left out (InfluxDB does not keep them), as are
extra tags named ``device``, ``node`` or ``time``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from citysense.quality import Quality
from hub.store.base import StoredReading, check_value

QUALITY_SUFFIX = "__q"
BAD_SUFFIX = "__bad"
RESERVED_TAGS = frozenset({"device", "node", "time"})

_NORMALISE = str.maketrans({"\\": "/", "\n": " ", "\r": " "})
# One translate pass: CR/LF map straight to an escaped space, as a space would be.
_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ ", "\\": "/", "\n": "\\ ", "\r": "\\ "})
_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\\": "/", "\n": "\\ ", "\r": "\\ "})
_STRING = str.maketrans({'"': '\\"', "\\": "\\\\"})


def normalise(text: str) -> str:
    """Return a name or tag as InfluxDB will keep it (backslash to ``/``, CR/LF to space)."""
    return text.translate(_NORMALISE)


def escape_measurement(name: str) -> str:
    """Escape (and normalise) a measurement name."""
    return name.translate(_MEASUREMENT)


def escape_key(text: str) -> str:
    """Escape (and normalise) a tag key, tag value or field key."""
    return text.translate(_KEY)


def field_value(value: float | str) -> str:
    """Format a field value: a float as its shortest repr, a string quoted and escaped."""
    if isinstance(value, str):
        return f'"{value.translate(_STRING)}"'
    return repr(float(value))


def series_key(profile: str, node: str, device: str, tags: Mapping[str, str]) -> str:
    """Return ``measurement,tag=value,...`` with the tags sorted by key."""
    pairs = {k: v for k, v in tags.items() if k not in RESERVED_TAGS}
    pairs["device"] = device
    pairs["node"] = node
    escaped = ((escape_key(k), escape_key(v)) for k, v in sorted(pairs.items()))
    body = ",".join(f"{k}={v}" for k, v in escaped if k and v)
    return f"{escape_measurement(profile)},{body}"


def fields(readings: Iterable[StoredReading]) -> str:
    """Return the field set of readings that share one device and timestamp (last one per metric wins)."""
    by_metric = {r.metric: r for r in readings}
    out: list[str] = []
    for metric in sorted(by_metric):
        r = by_metric[metric]
        key = escape_key(metric)
        if r.value is not None:
            name = key if r.quality == Quality.GOOD else key + BAD_SUFFIX
            out.append(f"{name}={field_value(r.value)}")
        out.append(f"{key}{QUALITY_SUFFIX}={int(r.quality)}i")
    return ",".join(out)


def encode(readings: Iterable[StoredReading]) -> list[str]:
    """Return one line per ``(profile, device, ts_ms)``, in order of first appearance; raise ``StoreRejected``."""
    groups: dict[tuple[str, str, int], list[StoredReading]] = {}
    for r in readings:
        check_value(r)
        groups.setdefault((r.profile, r.device, r.ts_ms), []).append(r)
    lines: list[str] = []
    for (_, _, ts_ms), group in groups.items():
        first = group[0]
        lines.append(f"{series_key(first.profile, first.node, first.device, first.tags)} {fields(group)} {ts_ms}")
    return lines
