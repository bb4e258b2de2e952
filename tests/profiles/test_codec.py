"""Every type in every byte/word order decodes to what a reference encoder wrote.

The reference bytes are built here with ``struct`` directly from the
definition of each order (ABCD, CDAB, BADC, DCBA and their 64-bit
extensions), independently of ``citysense.codec``.
"""

from __future__ import annotations

import itertools
import math
import struct

import pytest

from citysense.codec import ByteOrder, DataType, decode, encode

CASES: list[tuple[DataType, str, float | int]] = [
    (DataType.INT16, "h", -12345),
    (DataType.UINT16, "H", 54321),
    (DataType.INT32, "i", -123456789),
    (DataType.UINT32, "I", 0x11223344),
    (DataType.INT64, "q", -1234567890123456789),
    (DataType.UINT64, "Q", 0x1122334455667788),
    (DataType.FLOAT32, "f", -273.15),
    (DataType.FLOAT64, "d", 6.02214076e23),
]
ORDERS = list(itertools.product(ByteOrder, ByteOrder))


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
@pytest.mark.parametrize(("dtype", "fmt", "value"), CASES, ids=[c[0].value for c in CASES])
def test_decode_matches_reference(
    dtype: DataType, fmt: str, value: float | int, byte_order: ByteOrder, word_order: ByteOrder
) -> None:
    regs = reference_registers(fmt, value, byte_order, word_order)
    got = decode(regs, dtype, byte_order, word_order)
    want = struct.unpack(">" + fmt, struct.pack(">" + fmt, value))[0]  # float32 rounding
    assert got == want
    assert encode(want, dtype, byte_order, word_order) == regs


def test_named_32_bit_orders_of_0x11223344() -> None:
    value = 0x11223344
    assert reference_registers("I", value, ByteOrder.BIG, ByteOrder.BIG) == [0x1122, 0x3344]  # ABCD
    assert reference_registers("I", value, ByteOrder.BIG, ByteOrder.LITTLE) == [0x3344, 0x1122]  # CDAB
    assert reference_registers("I", value, ByteOrder.LITTLE, ByteOrder.BIG) == [0x2211, 0x4433]  # BADC
    assert reference_registers("I", value, ByteOrder.LITTLE, ByteOrder.LITTLE) == [0x4433, 0x2211]  # DCBA


def test_float_nan_decodes_as_nan() -> None:
    assert math.isnan(float(decode([0x7FC0, 0x0000], DataType.FLOAT32)))


@pytest.mark.parametrize("byte_order", list(ByteOrder), ids=lambda o: o.value)
def test_strings(byte_order: ByteOrder) -> None:
    regs = encode("GZ-01", DataType.STRING, byte_order, length=4)
    assert len(regs) == 4
    assert decode(regs, DataType.STRING, byte_order) == "GZ-01"
    if byte_order is ByteOrder.BIG:
        assert regs[0] == int.from_bytes(b"GZ", "big")
