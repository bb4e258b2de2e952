"""Coerce one payload value into a reading: numbers stay numbers, never a string passed off as good.

Devices send numbers as strings (zigbee2mqtt converters, Tasmota ``stat``
payloads, LoRaWAN formatters writing ``"battery": "100.00"``). A metric that
expects a number (the default) accepts a JSON number, a bool, or a string
that is a plain decimal number (``"100.00"``, ``"-3.5e2"``; not ``"1_000"``,
``"nan"`` or ``"0x10"``, which Python's ``float`` would take). A string in the
metric's ``values`` table becomes its value (``ON`` -> true). Anything else
becomes a ``decode_error`` reading with no value. ``type: string`` keeps text.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from citysense.contract import Reading
from edge_agent.drivers.mqtt.model import MetricMap

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
MAX_TEXT = 256  # a string value longer than this is not a sensor value


def numeric(text: str) -> int | float | None:
    """The number a string spells (``"100.00"`` -> 100.0, ``"42"`` -> 42), or None."""
    text = text.strip()
    if len(text) > 64 or not _DECIMAL.fullmatch(text):
        return None
    if text.lstrip("+-").isdigit():
        return int(text)
    value = float(text)
    return value if math.isfinite(value) else None


Outcome = tuple[Any, Literal["good", "decode_error", "sentinel"]]


def _typed(spec: MetricMap | None, value: Any) -> Outcome:
    """``(value, quality)`` after the metric's value table and type."""
    if spec is not None and isinstance(value, str) and value.strip() in spec.values:
        return spec.values[value.strip()], "good"
    kind = spec.type if spec is not None else None
    if kind == "string":
        return (value, "good") if isinstance(value, str) and len(value) <= MAX_TEXT else (None, "decode_error")
    if kind == "bool":
        return (value, "good") if isinstance(value, bool) else (None, "decode_error")
    if isinstance(value, bool):
        return (value, "good") if kind is None else (None, "decode_error")  # a bool is no number
    if isinstance(value, str):
        number = numeric(value)
        return (number, "good") if number is not None else (None, "decode_error")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None, "sentinel"
        return value, "good"
    return None, "decode_error"  # an object or a list where a value was expected


def coerce(spec: MetricMap | None, device: str, raw: Any, ts_ms: int, *, metric: str = "", unit: str = "") -> Reading:
    """One reading of ``raw`` as the mapping's metric ``spec`` (or an auto metric named ``metric``)."""
    value, quality = _typed(spec, raw)
    name = spec.metric if spec is not None else metric
    if spec is not None:
        unit = spec.unit
        if isinstance(value, int | float) and not isinstance(value, bool) and (spec.scale, spec.offset) != (1.0, 0.0):
            value = round(value * spec.scale + spec.offset, 9)
    return Reading(device=device, metric=name, value=value, unit=unit, ts_ms=ts_ms, quality=quality)
