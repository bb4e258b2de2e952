"""Readings as wire fragments: the compact JSON object each reading is inside a telemetry batch.

The durable buffer stores every reading already in the form it takes on the
wire (one JSON object of ``readings`` in :class:`citysense.contract.TelemetryBatch`,
RFC 8259), so that forming a batch is a concatenation. Encoding through
pydantic costs a model dump per reading; here the fixed part of each object
(device, metric, unit) is encoded once per distinct combination and
kept, and only the value and the timestamp are written per reading. The result
parses to the same object as :func:`citysense.contract.encode` of the reading
(floats may spell an exponent differently: ``1e+16`` where pydantic writes
``1e16``; both are the same JSON number). A value JSON has no spelling for
(infinity, or anything but the contract's value types) goes through pydantic,
which decides. A fragment never contains a raw newline (RFC 8259 §7: control
characters inside strings are escaped), so the buffer can separate fragments
with one.
"""

from __future__ import annotations

import json
import math

from citysense.contract import Reading, encode

_CACHE_MAX = 65_536  # distinct (device, metric, unit) kept; far above any real node
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_parts: dict[tuple[str, str, str], tuple[str, str]] = {}


def _fixed(device: str, metric: str, unit: str) -> tuple[str, str]:
    """The JSON before the value and between the value and the timestamp, for this device, metric and unit."""
    key = (device, metric, unit)
    parts = _parts.get(key)
    if parts is None:
        if len(_parts) >= _CACHE_MAX:
            _parts.clear()
        parts = _parts[key] = (
            f'{{"device":{_dumps(device)},"metric":{_dumps(metric)}',
            f',"unit":{_dumps(unit)},"ts_ms":',
        )
    return parts


def fragment(r: Reading) -> str:
    """``r`` as the compact JSON object it is on the wire."""
    d = r.__dict__
    value, quality = d["value"], d["quality"]
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            return encode(r).decode()
        text = repr(value)
    elif kind is int:
        text = str(value)
    elif kind is bool:
        text = "true" if value else "false"
    elif kind is str:
        text = _dumps(value)
    elif value is None:
        head, tail = _fixed(d["device"], d["metric"], d["unit"])
        return f'{head}{tail}{d["ts_ms"]},"quality":"{quality}"}}'
    else:
        return encode(r).decode()
    head, tail = _fixed(d["device"], d["metric"], d["unit"])
    return f'{head},"value":{text}{tail}{d["ts_ms"]},"quality":"{quality}"}}'
