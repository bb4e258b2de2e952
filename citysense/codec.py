"""Pure encoders/decoders between Modbus registers and values, built on ``struct``.

A Modbus register is a 16-bit word sent big-endian on the wire (Modbus
Application Protocol v1.1b3, §4.2). Values wider than one register are laid out
by the device in one of four orders, named here by two switches:

=========== ============= ============ =============
byte_order  word_order    32-bit name  example bytes of 0x11223344
=========== ============= ============ =============
big         big           ABCD         11 22 33 44
big         little        CDAB         33 44 11 22
little      big           BADC         22 11 44 33
little      little        DCBA         44 33 22 11
=========== ============= ============ =============

The 64-bit variants follow the same two switches over four words. Strings are
registers' bytes in order (``byte_order`` swaps the two bytes of each register),
cut at the first NUL and stripped of trailing spaces.
"""

from __future__ import annotations

import enum
import math
import struct

from citysense import packed
from citysense.errors import CodecError


class DataType(enum.StrEnum):
    """Value types a point may have."""

    BOOL = "bool"  # coil / discrete input, or one bit of a register (with ``bit``)
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    TIME_HM = "time_hm"  # one register hh|mm -> "HH:MM" (citysense.packed)
    DATETIME = "datetime"  # three registers year|month, day|hour, minute|second -> ISO 8601


class ByteOrder(enum.StrEnum):
    """Order of the two bytes inside one register."""

    BIG = "big"
    LITTLE = "little"


WordOrder = ByteOrder  # same two values: which 16-bit word comes first

_FORMATS: dict[DataType, str] = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}

_WIDTHS: dict[DataType, int] = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
    DataType.TIME_HM: 1,
    DataType.DATETIME: 3,
}
PACKED = (DataType.TIME_HM, DataType.DATETIME)
INTEGERS = (DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.INT64, DataType.UINT64)


def register_count(dtype: DataType, length: int | None = None) -> int:
    """Return how many registers a value of ``dtype`` occupies (strings: ``length``)."""
    if dtype is DataType.STRING:
        if not length or length < 1:
            raise CodecError("a string needs a length of at least one register")
        return length
    return _WIDTHS[dtype]


def _ordered_bytes(registers: list[int] | tuple[int, ...], byte_order: ByteOrder, word_order: WordOrder) -> bytes:
    """Return the value's bytes in big-endian (ABCD...) order."""
    for r in registers:
        if not 0 <= r <= 0xFFFF:
            raise CodecError(f"register value {r} outside 0..65535")
    words = list(registers) if word_order == WordOrder.BIG else list(reversed(registers))
    raw = struct.pack(f">{len(words)}H", *words)
    if byte_order == ByteOrder.LITTLE:
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    return raw


def _to_registers(raw: bytes, byte_order: ByteOrder, word_order: WordOrder) -> list[int]:
    """Inverse of :func:`_ordered_bytes`."""
    if byte_order == ByteOrder.LITTLE:
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    words = list(struct.unpack(f">{len(raw) // 2}H", raw))
    return words if word_order == WordOrder.BIG else list(reversed(words))


def _swapped(registers: list[int] | tuple[int, ...], byte_order: ByteOrder) -> list[int]:
    """Registers with their two bytes swapped when ``byte_order`` is little."""
    for r in registers:
        if not 0 <= r <= 0xFFFF:
            raise CodecError(f"register value {r} outside 0..65535")
    if byte_order is ByteOrder.BIG:
        return list(registers)
    return [((r & 0xFF) << 8) | (r >> 8) for r in registers]


def decode(
    registers: list[int] | tuple[int, ...],
    dtype: DataType,
    byte_order: ByteOrder = ByteOrder.BIG,
    word_order: WordOrder = WordOrder.BIG,
    *,
    bcd: bool = False,
) -> int | float | str:
    """Decode registers into a raw value (before scaling) of ``dtype``.

    Integers come back as ``int``, floats as ``float`` (NaN and inf included:
    the caller decides their quality), strings as ``str``. A ``bool`` point is
    decoded as an unsigned 16-bit integer; bit extraction is the transform's job.
    ``bcd`` applies to the packed time types (their fields are BCD); integer BCD
    is decoded by the transform after any mask.
    """
    if dtype is DataType.STRING:
        raw = _ordered_bytes(registers, byte_order, WordOrder.BIG)
        text = raw.split(b"\x00", 1)[0]
        try:
            return text.decode("ascii").rstrip(" ")
        except UnicodeDecodeError as exc:
            raise CodecError(f"string registers are not ASCII: {raw!r}") from exc
    width = _WIDTHS[dtype]
    if len(registers) != width:
        raise CodecError(f"{dtype.value} needs {width} registers, got {len(registers)}")
    if dtype is DataType.BOOL:
        return int(registers[0])
    if dtype is DataType.TIME_HM:
        return packed.decode_time_hm(_swapped(registers, byte_order)[0], bcd)
    if dtype is DataType.DATETIME:
        return packed.decode_datetime(_swapped(registers, byte_order), bcd, word_order is WordOrder.LITTLE)
    raw = _ordered_bytes(registers, byte_order, word_order)
    value: int | float = struct.unpack(">" + _FORMATS[dtype], raw)[0]
    return value


def encode(
    value: int | float | str,
    dtype: DataType,
    byte_order: ByteOrder = ByteOrder.BIG,
    word_order: WordOrder = WordOrder.BIG,
    length: int | None = None,
    *,
    bcd: bool = False,
) -> list[int]:
    """Encode a raw value into registers; the reference inverse of :func:`decode`."""
    if dtype is DataType.TIME_HM:
        return _swapped(packed.encode_time_hm(str(value), bcd), byte_order)
    if dtype is DataType.DATETIME:
        return _swapped(packed.encode_datetime(str(value), bcd, word_order is WordOrder.LITTLE), byte_order)
    if dtype is DataType.STRING:
        count = register_count(dtype, length)
        data = str(value).encode("ascii")
        if len(data) > count * 2:
            raise CodecError(f"string of {len(data)} bytes does not fit {count} registers")
        return _to_registers(data.ljust(count * 2, b"\x00"), byte_order, WordOrder.BIG)
    if dtype is DataType.BOOL:
        return [1 if value else 0]
    fmt = _FORMATS[dtype]
    if fmt in ("f", "d"):
        packed_value: int | float = float(value)
    else:
        if isinstance(value, float) and (math.isnan(value) or not value.is_integer()):
            raise CodecError(f"{value!r} is not an integer for {dtype.value}")
        packed_value = int(value)
    try:
        raw = struct.pack(">" + fmt, packed_value)
    except struct.error as exc:
        raise CodecError(f"{value!r} does not fit {dtype.value}: {exc}") from exc
    return _to_registers(raw, byte_order, word_order)
