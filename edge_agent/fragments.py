"""Readings as wire fragments: the compact JSON object each reading is inside a telemetry batch.

The durable buffer stores every reading already in the form it takes on the
wire (one JSON object of ``readings`` in :class:`citysense.contract.TelemetryBatch`,
RFC 8259), so that forming a batch is a concatenation. A reading's fields are
encoded by msgspec straight from the model's ``__dict__`` (the contract's
field order: device, metric, value, unit, ts_ms, quality), about a tenth of
a pydantic dump per reading; a reading without a value leaves ``value`` out,
as :func:`citysense.contract.encode` does. The result parses to the same
reading as that encoding (a float may spell its exponent differently, which
JSON does not distinguish); a value msgspec refuses (an integer beyond 64
bits) goes through pydantic, which decides. A fragment never contains a raw
newline (RFC 8259 §7: control characters inside strings are escaped), so the
buffer separates fragments with one.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citysense.contract import Reading, encode

_encode = msgspec.json.Encoder().encode


def fragment(r: Reading) -> bytes:
    """``r`` as the compact JSON object it is on the wire."""
    d = r.__dict__
    if d["value"] is None:
        d = {k: v for k, v in d.items() if k != "value"}
    try:
        return _encode(d)
    except (TypeError, OverflowError):
        return encode(r)


def poll_body(readings: Sequence[Reading]) -> bytes:
    """The fragments of ``readings``, one per line (a buffer row's body)."""
    try:
        return b"\n".join([_encode(r.__dict__) if r.__dict__["value"] is not None else fragment(r) for r in readings])
    except (TypeError, OverflowError):
        return b"\n".join([fragment(r) for r in readings])
