"""Every type in every byte/word order decodes to what a reference encoder wrote.

The reference registers are built here with ``struct`` directly from the
definition of each order (ABCD, CDAB, BADC, DCBA and their 64-bit
extensions), independently of ``citysense.codec``.
"""

from __future__ import annotations

import itertools
import math
import struct

import pytest

from citysense.codec import ByteOrder, DataType, decode, encode, register_count
from citysense.errors import CodecError

# (type, struct format, values): extremes and an ordinary value of each type.
CASES: list[tuple[DataType, str, list[float | int]]] = [
    (DataType.INT16, "h", [-32768, -12345, 0, 32767]),
    (DataType.UINT16, "H", [0, 54321, 65535]),
    (DataType.INT32, "i", [-(2**31), -123456789, 2**31 - 1]),
    (DataType.UINT32, "I", [0, 0x11223344, 2**32 - 1]),
    (DataType.INT64, "q", [-(2**63), -1234567890123456789, 2**63 - 1]),
    (DataType.UINT64, "Q", [0, 0x1122334455667788, 2**64 - 1]),
    (DataType.FLOAT32, "f", [-273.15, 0.0, 1.5e-5, 3.4e38]),
    (DataType.FLOAT64, "d", [-1e-300, 6.02214076e23, math.pi]),
]
ORDERS = list(itertools.product(ByteOrder, ByteOrder))
TABLE = [(dtype, fmt, value) for dtype, fmt, values in CASES for value in values]


def reference_registers(fmt: str, value: float | int, byte_order: ByteOrder, word_order: ByteOrder) -> list[int]:
    """Registers as a device with these orders puts them on the wire."""
    big = struct.pack(">" + fmt, value)  # ABCD...: most significant byte first
    words = [big[i : i + 2] for i in range(0, len(big), 2)]
    if word_order is ByteOrder.LITTLE:
        words.reverse()  # least significant word first
    if byte_order is ByteOrder.LITTLE:
        words = [w[::-1] for w in words]  # bytes swapped inside each register
    return [int.from_bytes(w, "big") for w in words]


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS, ids=lambda o: o.value)
@pytest.mark.parametrize(("dtype", "fmt", "value"), TABLE, ids=[f"{c[0].value}={c[2]}" for c in TABLE])
def test_round_trip_against_reference(
    dtype: DataType, fmt: str, value: float | int, byte_order: ByteOrder, word_order: ByteOrder
) -> None:
    regs = reference_registers(fmt, value, byte_order, word_order)
    assert len(regs) == register_count(dtype)
    want = struct.unpack(">" + fmt, struct.pack(">" + fmt, value))[0]  # float32 keeps what it can
    assert decode(regs, dtype, byte_order, word_order) == want
    assert encode(want, dtype, byte_order, word_order) == regs


def test_named_32_bit_orders_of_0x11223344() -> None:
    value = 0x11223344
    assert reference_registers("I", value, ByteOrder.BIG, ByteOrder.BIG) == [0x1122, 0x3344]  # ABCD
    assert reference_registers("I", value, ByteOrder.BIG, ByteOrder.LITTLE) == [0x3344, 0x1122]  # CDAB
    assert reference_registers("I", value, ByteOrder.LITTLE, ByteOrder.BIG) == [0x2211, 0x4433]  # BADC
    assert reference_registers("I", value, ByteOrder.LITTLE, ByteOrder.LITTLE) == [0x4433, 0x2211]  # DCBA


@pytest.mark.parametrize("byte_order", list(ByteOrder), ids=lambda o: o.value)
def test_bool_is_one_register_either_way(byte_order: ByteOrder) -> None:
    assert encode(True, DataType.BOOL, byte_order) == [1]
    assert encode(False, DataType.BOOL, byte_order) == [0]
    assert decode([0b1010], DataType.BOOL, byte_order) == 0b1010  # bits are the transform's job


@pytest.mark.parametrize("byte_order", list(ByteOrder), ids=lambda o: o.value)
def test_strings_pack_two_characters_per_register(byte_order: ByteOrder) -> None:
    text = "GZ-01"
    raw = text.encode("ascii").ljust(8, b"\0")
    pairs = [raw[i : i + 2] for i in range(0, 8, 2)]
    want = [int.from_bytes(p if byte_order is ByteOrder.BIG else p[::-1], "big") for p in pairs]
    assert encode(text, DataType.STRING, byte_order, length=4) == want
    assert decode(want, DataType.STRING, byte_order) == text


def test_nan_and_infinity_decode_as_such() -> None:
    assert math.isnan(float(decode([0x7FC0, 0x0000], DataType.FLOAT32)))
    assert decode([0x7FF0, 0, 0, 0], DataType.FLOAT64) == math.inf


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: decode([1], DataType.UINT32), "needs 2 registers"),
        (lambda: decode([0x1_0000], DataType.UINT16), "outside 0..65535"),
        (lambda: encode(70000, DataType.UINT16), "does not fit"),
        (lambda: encode(-1, DataType.UINT32), "does not fit"),
        (lambda: encode(1.5, DataType.INT16), "not an integer"),
        (lambda: encode("too long", DataType.STRING, length=2), "does not fit 2 registers"),
        (lambda: decode([0xFFFF], DataType.STRING), "not ASCII"),
    ],
)
def test_impossible_values_raise_codec_error(call: object, words: str) -> None:
    assert callable(call)
    with pytest.raises(CodecError, match=words):
        call()
