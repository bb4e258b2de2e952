"""Turn one JSON or plain-text payload into readings through a :class:`Mapping` (pure).

Every problem raises :class:`Malformed` with a short reason code (``bad_json``,
``bad_text``, ``not_an_object``, ``bad_topic``, ``bad_timestamp``,
``bad_device_id``, ``no_values``, ``bad_availability``); the source counts them
and goes on. A metric whose path is absent is skipped: many devices send
partial updates (Shelly ``NotifyStatus``). Values are coerced by
:mod:`~edge_agent.drivers.mqtt.values` (``"100.00"`` -> 100.0; anything that is
not what the metric expects -> quality ``decode_error``, never a string with
quality good).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from citysense.contract import ID_PATTERN, Reading
from edge_agent.drivers.mqtt.model import Mapping, PayloadFormat, TimestampSpec
from edge_agent.drivers.mqtt.values import coerce, numeric
from edge_agent.errors import AgentError

_ID_RE = re.compile(ID_PATTERN)
_MISSING = object()


class Malformed(AgentError):
    """A payload could not be mapped; ``reason`` is a short code for the counters."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


def lookup(doc: Any, path: str) -> Any:
    """Follow a dot-separated path (numbers index lists; ``$`` is the root); return ``_MISSING`` when absent."""
    if path == "$":
        return doc
    node = doc
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


def metric_name(raw: str) -> str:
    """A wire-safe metric name from a device's field name (``ApparentPower`` -> ``apparent_power``)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", raw)
    snake = re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")
    if not snake or not snake[0].isalpha():
        snake = f"m_{snake}"
    return snake[:64]


def device_id(raw: str) -> str:
    """A valid device id from a topic level or payload field; raises :class:`Malformed`."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", raw)[:64]
    if not _ID_RE.match(cleaned):
        raise Malformed("bad_device_id", f"{raw!r} cannot be a device id")
    return cleaned


def parse_time(value: Any, spec: TimestampSpec) -> int:
    """Epoch milliseconds from a payload time; raises :class:`Malformed`."""
    try:
        if spec.format == "epoch_s":
            return round(float(value) * 1000)
        if spec.format == "epoch_ms":
            return int(value)
        text = str(value).replace("Z", "+00:00")
        # Keep at most microseconds (The Things Stack writes nanoseconds).
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            sign = -1 if spec.timezone[0] == "-" else 1
            hours, minutes = int(spec.timezone[1:3]), int(spec.timezone[4:6])
            when = when.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
        return round(when.astimezone(UTC).timestamp() * 1000)
    except (TypeError, ValueError, OverflowError) as exc:
        raise Malformed("bad_timestamp", f"{value!r} is not a {spec.format} time") from exc


def device_of(mapping: Mapping, topic: str, doc: Any, groups: dict[str, str]) -> str:
    """The device id of one message: from the payload (``device_path``) or the topic template."""
    if mapping.device_path is not None:
        raw_id = lookup(doc, mapping.device_path)
        if raw_id is _MISSING or isinstance(raw_id, dict | list):
            raise Malformed("bad_device_id", f"no '{mapping.device_path}' in payload")
        return device_id(str(raw_id))
    levels = topic.split("/")
    rest = ["/".join(levels[i:]) for i in range(len(levels))]
    try:
        return device_id(mapping.device.format(t=levels, rest=rest, **groups))
    except (IndexError, KeyError, ValueError, AttributeError) as exc:  # the template asks for what the topic lacks
        raise Malformed("bad_topic", f"device template {mapping.device!r} does not fit {topic!r}: {exc!r}") from exc


def parse(mapping: Mapping, payload: bytes) -> Any:
    """The payload as a document: parsed JSON, or the stripped text of a ``text`` mapping."""
    if mapping.format is PayloadFormat.TEXT:
        try:
            return payload.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise Malformed("bad_text", str(exc)) from exc
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed("bad_json", str(exc)) from exc


def _numbers(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every number, bool and numeric string under ``node``, with its joined key path."""
    out: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_numbers(value, f"{prefix}_{key}" if prefix else str(key)))
    elif isinstance(node, bool | int | float) or (isinstance(node, str) and numeric(node) is not None):
        out.append((prefix, node))
    return out


def _wants_object(mapping: Mapping) -> bool:
    paths = [m.path for m in mapping.metrics]
    return mapping.device_path is not None or mapping.auto is not None or any(p != "$" for p in paths)


def map_json(
    mapping: Mapping, topic: str, payload: bytes, now_ms: int, groups: dict[str, str] | None = None
) -> list[Reading]:
    """Map one message; raises :class:`Malformed`."""
    doc = parse(mapping, payload)
    if mapping.format is PayloadFormat.JSON and not isinstance(doc, dict) and _wants_object(mapping):
        raise Malformed("not_an_object", f"payload is a JSON {type(doc).__name__}")
    device = device_of(mapping, topic, doc, groups or {})
    ts_ms = now_ms
    if mapping.timestamp is not None:
        raw_ts = lookup(doc, mapping.timestamp.path)
        if raw_ts is not _MISSING:
            ts_ms = parse_time(raw_ts, mapping.timestamp)
    out = []
    for m in mapping.metrics:
        value = lookup(doc, m.path)
        if value is not _MISSING and value is not None:
            out.append(coerce(m, device, value, ts_ms))
    if mapping.auto is not None:
        listed = {m.metric for m in mapping.metrics}
        under = lookup(doc, mapping.auto) if mapping.auto else doc
        for name, value in _numbers(under if under is not _MISSING else {}):
            metric = metric_name(name)
            if metric not in listed:
                out.append(coerce(None, device, value, ts_ms, metric=metric, unit=mapping.units.get(metric, "")))
    if not out:
        raise Malformed("no_values", f"nothing in the payload matches mapping '{mapping.name}'")
    return out


def map_availability(
    mapping: Mapping, topic: str, payload: bytes, groups: dict[str, str] | None = None
) -> tuple[str, bool]:
    """``(device, online)`` from an availability message; raises :class:`Malformed`."""
    spec = mapping.availability
    assert spec is not None
    try:
        doc = parse(mapping, payload)
    except Malformed:  # zigbee2mqtt 1.x legacy availability is bare text where 2.x sends JSON
        doc = payload.decode("utf-8", "replace").strip()
    device = device_of(mapping, topic, doc, groups or {})
    state = doc if isinstance(doc, str) else lookup(doc, spec.path)
    text = str(state).lower() if isinstance(state, bool) else str(state)
    if state is not _MISSING and text in spec.online:
        return device, True
    if state is not _MISSING and text in spec.offline:
        return device, False
    raise Malformed("bad_availability", f"{str(state)[:40]!r} is neither {spec.online} nor {spec.offline}")
