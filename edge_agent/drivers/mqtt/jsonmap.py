"""Turn one JSON payload into readings through a :class:`Mapping` (pure).

Every problem raises :class:`Malformed` with a short reason code (``bad_json``,
``not_an_object``, ``bad_timestamp``, ``bad_device_id``, ``no_values``); the
source counts them and goes on. A metric whose path is absent is skipped: many
devices send partial updates (Shelly ``NotifyStatus``). A value that is not a
number, bool or string is reported with quality ``decode_error``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from citysense.contract import ID_PATTERN, Reading
from edge_agent.drivers.mqtt.model import Mapping, TimestampSpec
from edge_agent.errors import AgentError

_ID_RE = re.compile(ID_PATTERN)
_MISSING = object()


class Malformed(AgentError):
    """A payload could not be mapped; ``reason`` is a short code for the counters."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


def lookup(doc: Any, path: str) -> Any:
    """Follow a dot-separated path (numbers index lists); return ``_MISSING`` when absent."""
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


def _reading(device: str, metric: str, value: Any, unit: str, ts_ms: int, scale: float, offset: float) -> Reading:
    if isinstance(value, bool | str):
        return Reading(device=device, metric=metric, value=value, unit=unit, ts_ms=ts_ms)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return Reading(device=device, metric=metric, unit=unit, ts_ms=ts_ms, quality="sentinel")
        scaled = value if (scale, offset) == (1.0, 0.0) else round(value * scale + offset, 9)
        return Reading(device=device, metric=metric, value=scaled, unit=unit, ts_ms=ts_ms)
    return Reading(device=device, metric=metric, unit=unit, ts_ms=ts_ms, quality="decode_error")


def _numbers(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_numbers(value, f"{prefix}_{key}" if prefix else str(key)))
    elif isinstance(node, bool | int | float):
        out.append((prefix, node))
    return out


def map_json(mapping: Mapping, topic: str, payload: bytes, now_ms: int) -> list[Reading]:
    """Map one message; raises :class:`Malformed`."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed("bad_json", str(exc)) from exc
    if not isinstance(doc, dict):
        raise Malformed("not_an_object", f"payload is a JSON {type(doc).__name__}")
    if mapping.device_path is not None:
        raw_id = lookup(doc, mapping.device_path)
        if raw_id is _MISSING:
            raise Malformed("bad_device_id", f"no '{mapping.device_path}' in payload")
        device = device_id(str(raw_id))
    else:
        device = device_id(mapping.device.format(t=topic.split("/")))
    ts_ms = now_ms
    if mapping.timestamp is not None:
        raw_ts = lookup(doc, mapping.timestamp.path)
        if raw_ts is not _MISSING:
            ts_ms = parse_time(raw_ts, mapping.timestamp)
    out = []
    for m in mapping.metrics:
        value = lookup(doc, m.path)
        if value is not _MISSING and value is not None:
            out.append(_reading(device, m.metric, value, m.unit, ts_ms, m.scale, m.offset))
    if mapping.auto is not None:
        listed = {m.metric for m in mapping.metrics}
        under = lookup(doc, mapping.auto) if mapping.auto else doc
        for name, value in _numbers(under if under is not _MISSING else {}):
            metric = metric_name(name)
            if metric not in listed:
                out.append(_reading(device, metric, value, mapping.units.get(metric, ""), ts_ms, 1.0, 0.0))
    if not out:
        raise Malformed("no_values", f"nothing in the payload matches mapping '{mapping.name}'")
    return out
