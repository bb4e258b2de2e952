"""A minimal Sparkplug B *encoder* for the tests (protobuf wire format written by hand, per sparkplug_b.proto)."""

from __future__ import annotations

import struct
from typing import Any


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, wire: int, body: bytes) -> bytes:
    return varint(number << 3 | wire) + body


def properties(**props: str) -> bytes:
    """A PropertySet of String (type 12) properties: keys = 1, values = 2 (PropertyValue.string_value = 8)."""
    out = b""
    for key in props:
        raw = key.encode()
        out += field(1, 2, varint(len(raw)) + raw)
    for value in props.values():
        raw = value.encode()
        body = field(1, 0, varint(12)) + field(8, 2, varint(len(raw)) + raw)
        out += field(2, 2, varint(len(body)) + body)
    return out


def metric(
    name: str | None = None,
    *,
    alias: int | None = None,
    datatype: int,
    value: Any = None,
    ts: int | None = None,
    unit: str | None = None,
) -> bytes:
    out = b""
    if name is not None:
        raw = name.encode()
        out += field(1, 2, varint(len(raw)) + raw)
    if alias is not None:
        out += field(2, 0, varint(alias))
    if ts is not None:
        out += field(3, 0, varint(ts))
    out += field(4, 0, varint(datatype))
    if unit is not None:
        props = properties(engUnit=unit)
        out += field(9, 2, varint(len(props)) + props)
    if value is None:
        out += field(7, 0, varint(1))  # is_null
    elif datatype in (1, 2, 3, 5, 6, 7):  # Int8..Int32, UInt8..UInt32 -> int_value (two's complement, 32 bit)
        out += field(10, 0, varint(value & 0xFFFFFFFF))
    elif datatype in (4, 8, 13):  # Int64, UInt64, DateTime -> long_value
        out += field(11, 0, varint(value))
    elif datatype == 9:
        out += field(12, 5, struct.pack("<f", value))
    elif datatype == 10:
        out += field(13, 1, struct.pack("<d", value))
    elif datatype == 11:
        out += field(14, 0, varint(1 if value else 0))
    else:
        raw = str(value).encode()
        out += field(15, 2, varint(len(raw)) + raw)
    return out


def payload(ts: int, metrics: list[bytes], seq: int = 0) -> bytes:
    out = field(1, 0, varint(ts))
    for m in metrics:
        out += field(2, 2, varint(len(m)) + m)
    return out + field(3, 0, varint(seq))
