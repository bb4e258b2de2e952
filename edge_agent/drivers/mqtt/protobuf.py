"""The protobuf wire format, read by hand (https://protobuf.dev/programming-guides/encoding/): no generated code.

Enough for Sparkplug B: varints (wire type 0), 64-bit (1), length-delimited
(2) and 32-bit (5) fields; groups (3, 4) are refused. A truncated or
overlong message raises :class:`Malformed` (``bad_protobuf``).
"""

from __future__ import annotations

from typing import Any

from edge_agent.drivers.mqtt.jsonmap import Malformed


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise Malformed("bad_protobuf", "truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Malformed("bad_protobuf", "varint too long")


def fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Split a protobuf message into ``(field number, wire type, raw value)`` (protobuf encoding spec)."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise Malformed("bad_protobuf", f"unsupported wire type {wire}")
        if pos > len(buf) or number == 0:
            raise Malformed("bad_protobuf", "truncated field")
        out.append((number, wire, value))
    return out
