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

Speed: :func:`encode` is on the ingest hot path (every reading passes through
it), so it keeps each device's escaped series key and each metric's escaped
field names in small caches instead of sorting and escaping them again per
line; :func:`series_key` and :func:`fields` stay the plain reference that
the tests compare it with.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence

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


def encode(readings: Sequence[StoredReading]) -> list[str]:
    """Return one line per ``(profile, device, ts_ms)``, in order of first appearance; raise ``StoreRejected``.

    One pass: a reading starts a line, and the readings right after it with the
    same key join that line (an agent sends a device's metrics of one poll
    together). A key met again after other keys (rare) sends the whole batch
    through :func:`_encode_grouped`, which groups first, as the reference does.
    """
    lines: list[str] = []
    append = lines.append
    seen: set[tuple[str, str, int]] = set()
    line_key: tuple[str, str, int] | None = None
    run: list[StoredReading] | None = None  # the current line's readings once it has more than one
    first: StoredReading | None = None
    # The previous line's device and metric: consecutive readings mostly share them (same objects from ingest).
    s_profile, s_node, s_device, s_tags, series = "", "", "", _NO_TAGS, ""
    m_metric, names = "", ("", "", "")
    for r in readings:
        value = r.value
        # check_value's conditions, tested inline for the common good float; the call itself when one may fail.
        if value.__class__ is not float or not -_MAX <= value <= _MAX or "__" in r.metric:
            check_value(r)
        key = (r.profile, r.device, r.ts_ms)
        if key == line_key:
            if run is None:
                assert first is not None  # set with line_key
                run = [first]
            run.append(r)
            continue
        if run is not None:
            lines[-1] = _line(run)
            run = None
        if key in seen:
            return _encode_grouped(readings)
        seen.add(key)
        line_key, first = key, r
        if value.__class__ is float:  # one good or bad float: the common line, written inline
            if r.device is not s_device or r.tags is not s_tags or r.node is not s_node or r.profile is not s_profile:
                s_profile, s_node, s_device, s_tags, series = r.profile, r.node, r.device, r.tags, _series_of(r)
            if r.metric != m_metric:
                m_metric = r.metric
                names = _names.get(m_metric) or _field_names(m_metric)
            q = r.quality
            name = names[0] if q == Quality.GOOD else names[1]
            append(f"{series} {name}={value!r},{names[2]}={_QUALITY_VALUE[q]} {r.ts_ms}")
        else:
            append(_line((r,)))
    if run is not None:
        lines[-1] = _line(run)
    return lines


def _encode_grouped(readings: Sequence[StoredReading]) -> list[str]:
    """:func:`encode` for readings whose keys are interleaved: group them by key first."""
    groups: dict[tuple[str, str, int], list[StoredReading]] = {}
    for r in readings:
        key = (r.profile, r.device, r.ts_ms)
        group = groups.get(key)
        if group is None:
            groups[key] = [r]
        else:
            group.append(r)
    return [_line(g) for g in groups.values()]


def _line(group: Sequence[StoredReading]) -> str:
    """The line of readings that share one device and timestamp."""
    return f"{_series_of(group[0])} {_fields_fast(group)} {group[0].ts_ms}"


_MAX = sys.float_info.max
_NO_TAGS: Mapping[str, str] = {}
SERIES_CACHE_MAX = 100_000  # devices; past that the cache starts over (a hub carries ~5,000 per county)
_series_cache: dict[tuple[str, str, str], tuple[Mapping[str, str], str]] = {}


def _series_of(r: StoredReading) -> str:
    """:func:`series_key` of the reading's device, from the cache while the device's tags are unchanged."""
    ck = (r.profile, r.node, r.device)
    hit = _series_cache.get(ck)
    if hit is not None and (hit[0] is r.tags or hit[0] == r.tags):
        return hit[1]
    if len(_series_cache) >= SERIES_CACHE_MAX:
        _series_cache.clear()
    key = series_key(r.profile, r.node, r.device, r.tags)
    _series_cache[ck] = (r.tags, key)
    return key


_names: dict[str, tuple[str, str, str]] = {}


def _field_names(metric: str) -> tuple[str, str, str]:
    """``(<metric>, <metric>__bad, <metric>__q)`` escaped (cached; the cache starts over past 4,096 metrics)."""
    names = _names.get(metric)
    if names is None:
        if len(_names) >= 4096:
            _names.clear()
        key = escape_key(metric)
        names = _names[metric] = (key, key + BAD_SUFFIX, key + QUALITY_SUFFIX)
    return names


_QUALITY_VALUE = {q: f"{int(q)}i" for q in Quality}


def _fields_fast(group: Sequence[StoredReading]) -> str:
    """:func:`fields` with cached names; one reading (the common case) skips the sort."""
    if len(group) > 1:
        by_metric = {r.metric: r for r in group}
        group = [by_metric[m] for m in sorted(by_metric)]
    out: list[str] = []
    for r in group:
        good, bad, q = _field_names(r.metric)
        value = r.value
        if value is not None:
            text = f'"{value.translate(_STRING)}"' if isinstance(value, str) else repr(float(value))
            out.append(f"{good if r.quality == Quality.GOOD else bad}={text}")
        out.append(f"{q}={_QUALITY_VALUE[r.quality]}")
    return ",".join(out)


def encode_reference(readings: Iterable[StoredReading]) -> list[str]:
    """The plain encoder :func:`encode` must agree with (kept for the tests)."""
    groups: dict[tuple[str, str, int], list[StoredReading]] = {}
    for r in readings:
        check_value(r)
        groups.setdefault((r.profile, r.device, r.ts_ms), []).append(r)
    lines: list[str] = []
    for (_, _, ts_ms), group in groups.items():
        first = group[0]
        lines.append(f"{series_key(first.profile, first.node, first.device, first.tags)} {fields(group)} {ts_ms}")
    return lines
