"""Every type × byte order × word order decodes to what an independent reference encoder wrote.

The reference builds the value's big-endian bytes with ``struct`` and lays them
into registers by the four classic names (ABCD, CDAB, BADC, DCBA and their
64-bit variants), the way vendor manuals describe them; the agent decodes them
through the profile's transform chain. Sentinels and NaN become quality codes.
"""

from __future__ import annotations

import math
import struct

import pytest

from citysense.profiles.model import Profile
from citysense.profiles.transform import to_value

FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "int64": ">q", "uint64": ">Q",
           "float32": ">f", "float64": ">d"}  # fmt: skip
SAMPLES = {
    "int16": [-12345, 0, 32767],
    "uint16": [0, 54321, 65535],
    "int32": [-123456789, 2147483647],
    "uint32": [4000000000, 0x11223344],
    "int64": [-1234567890123456789, 42],
    "uint64": [18446744073709551615, 0x1122334455667788],
    "float32": [-273.25, 1013.5, 3.0e38],
    "float64": [-1.0e300, 6.02214076e23],
}
ORDERS = {"ABCD": ("big", "big"), "CDAB": ("big", "little"), "BADC": ("little", "big"), "DCBA": ("little", "little")}


def reference_registers(value: float | int, dtype: str, name: str) -> list[int]:
    """Registers a device using layout ``name`` would hold for ``value`` (independent of citysense.codec)."""
    raw = struct.pack(FORMATS[dtype], value)
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]  # most significant word first
    if name in ("CDAB", "DCBA"):
        words.reverse()
    if name in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def one_point_profile(dtype: str, order: str, **extra: object) -> Profile:
    byte_order, word_order = ORDERS[order]
    point = {"metric": "x", "table": "holding", "address": 0, "type": dtype, **extra}
    point |= {"byte_order": byte_order, "word_order": word_order}
    return Profile.model_validate({"id": "p", "model": "m", "manufacturer": "m", "source": "test",
                                   "category": "test", "points": [point]})  # fmt: skip


CASES = [
    pytest.param(dtype, order, value, id=f"{dtype}-{order}-{value}")
    for dtype, values in SAMPLES.items()
    for order in ORDERS
    if not (dtype.endswith("16") and order in ("CDAB",))  # one register has no word order
    for value in values
]


@pytest.mark.parametrize(("dtype", "order", "value"), CASES)
def test_every_type_and_order_decodes_to_the_reference_value(dtype: str, order: str, value: float) -> None:
    prof = one_point_profile(dtype, order)
    got, quality = to_value(prof, prof.points[0], reference_registers(value, dtype, order))
    assert quality.wire == "good"
    if dtype == "float32":
        assert got == pytest.approx(value, rel=1e-7)
    else:
        assert got == value


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_infinity_become_sentinel_quality(dtype: str, order: str) -> None:
    prof = one_point_profile(dtype, order)
    for bad in (math.nan, math.inf, -math.inf):
        assert to_value(prof, prof.points[0], reference_registers(bad, dtype, order)) == (None, _q("sentinel"))


@pytest.mark.parametrize(("dtype", "raw"), [("uint16", 0xFFFF), ("int16", -32768), ("uint32", 0xFFFFFFFF)])
def test_sentinel_raw_values_become_sentinel_quality_never_a_number(dtype: str, raw: int) -> None:
    prof = one_point_profile(dtype, "ABCD", sentinels=[raw], scale=0.1)
    assert to_value(prof, prof.points[0], reference_registers(raw, dtype, "ABCD")) == (None, _q("sentinel"))
    assert to_value(prof, prof.points[0], reference_registers(1, dtype, "ABCD"))[1] == _q("good")


def test_scale_offset_range_and_bit() -> None:
    prof = one_point_profile("int16", "ABCD", scale=0.1, offset=-40, range=[-40, 80])
    assert to_value(prof, prof.points[0], [625]) == (pytest.approx(22.5), _q("good"))
    value, quality = to_value(prof, prof.points[0], [1500])
    assert (value, quality) == (pytest.approx(110.0), _q("out_of_range"))


def _q(name: str) -> object:
    from citysense.quality import Quality

    return Quality.from_wire(name)
