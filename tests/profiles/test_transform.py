"""The transform chain: scale, offset, bits, enums, and quality instead of bogus numbers."""

from __future__ import annotations

import pytest

from citysense.codec import DataType, encode
from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile
from citysense.profiles.transform import to_raw, to_value
from citysense.quality import Quality


def _profile(**point: object) -> tuple[Profile, Point]:
    base: dict[str, object] = {"metric": "m", "table": "holding", "address": 0, "type": "int16"}
    base.update(point)
    prof = Profile.model_validate(
        {"id": "p", "model": "m", "manufacturer": "x", "source": "s", "category": "c", "points": [base]}
    )
    return prof, prof.points[0]


@pytest.mark.parametrize(
    ("point", "registers", "value", "quality"),
    [
        ({"scale": 0.1}, [0xFF9C], -10.0, Quality.GOOD),
        ({"scale": 0.1, "offset": 273.15}, [100], 283.15, Quality.GOOD),
        ({"type": "uint16", "sentinels": [0xFFFF]}, [0xFFFF], None, Quality.SENTINEL),
        ({"type": "int16", "sentinels": [32767], "scale": 0.1}, [32767], None, Quality.SENTINEL),
        ({"type": "float32"}, [0x7FC0, 0], None, Quality.SENTINEL),  # NaN
        ({"type": "float32"}, [0x7F80, 0], None, Quality.SENTINEL),  # +inf
        ({"type": "float32"}, encode(5.236, DataType.FLOAT32), 5.236, Quality.GOOD),
        ({"range": [0, 100]}, [150], 150, Quality.OUT_OF_RANGE),
        ({"type": "uint16", "bit": 3}, [0b1000], True, Quality.GOOD),
        ({"type": "uint16", "bit": 2}, [0b1000], False, Quality.GOOD),
        ({"type": "uint16", "mask": 0x0F00, "shift": 8}, [0x0A05], 10, Quality.GOOD),
        ({"type": "uint16", "enum": {0: "off", 1: "on"}}, [1], 1, Quality.GOOD),
        ({"type": "uint16", "enum": {0: "off", 1: "on"}}, [7], 7, Quality.OUT_OF_RANGE),
    ],
)
def test_to_value(point: dict[str, object], registers: list[int], value: object, quality: Quality) -> None:
    prof, p = _profile(**point)
    assert to_value(prof, p, registers) == (value, quality)


@pytest.mark.parametrize(
    ("point", "value"),
    [
        ({"scale": 0.1, "range": [-40, 80]}, -12.3),
        ({"type": "uint32", "scale": 0.01}, 1234.56),
        ({"type": "float32", "scale": 1000}, 1.5),
        ({"type": "uint16", "enum": {0: "a", 2: "b"}}, 2),
    ],
)
def test_to_raw_inverts_to_value(point: dict[str, object], value: float) -> None:
    prof, p = _profile(**point)
    assert to_value(prof, p, to_raw(prof, p, value)) == (value, Quality.GOOD)


@pytest.mark.parametrize(("point", "value"), [({"range": [0, 100]}, 101), ({"enum": {0: "a"}}, 3)])
def test_writes_outside_the_valid_range_are_refused(point: dict[str, object], value: float) -> None:
    prof, p = _profile(**point)
    with pytest.raises(CodecError):
        to_raw(prof, p, value)
