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
        ({"type": "uint32", "word_order": "little", "scale": 0.01}, [0x5678, 0x1234], 3054198.96, Quality.GOOD),
        ({"type": "uint32", "sentinels": [0xFFFFFFFF]}, [0xFFFF, 0xFFFF], None, Quality.SENTINEL),
        ({"type": "int32", "scale": 0.01, "range": [-500, 500]}, [0xFFFF, 0x3CB0], -500.0, Quality.GOOD),
        ({"type": "int16", "scale": 0.1, "range": [-40, 80]}, [801], 80.1, Quality.OUT_OF_RANGE),
        ({"type": "float32", "word_order": "little", "scale": 1000}, [0x0000, 0x3FC0], 1500.0, Quality.GOOD),
        ({"type": "string", "length": 2}, [0x4232, 0x3320], "B23", Quality.GOOD),  # "B23 ", ABB type register
        ({"table": "coil", "type": "bool"}, [1], True, Quality.GOOD),
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
        ({"type": "uint64", "scale": 0.01}, 12345678901.23),
        ({"type": "float32", "word_order": "little"}, 3.25),
        ({"type": "int16", "scale": 0.1, "offset": -40}, -12.5),
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


def test_a_bit_point_encodes_only_its_bit() -> None:
    prof, p = _profile(type="bool", bit=5)
    assert to_raw(prof, p, True) == [0b100000]
    assert to_raw(prof, p, False) == [0]
    assert to_value(prof, p, [0b100001]) == (True, Quality.GOOD)


def test_a_scale_from_write_is_checked_without_the_decimals_and_encoded_with_them() -> None:
    from citysense.profiles import load_profiles
    from citysense.profiles.loader import default_profile_dir
    from citysense.profiles.transform import check_value

    level = load_profiles(default_profile_dir())["level_decimals_rs485"]
    offset = level.point("zero_offset")
    check_value(level, offset, 0.05)  # the hub's check: no decimals at hand, nothing wrong with the value
    with pytest.raises(CodecError, match="valid range"):
        check_value(level, offset, 40000)
    with pytest.raises(CodecError, match="scale of 'zero_offset' is unknown"):
        to_raw(level, offset, 0.05)  # never encoded with a guessed scale
    assert to_raw(level, offset, 0.05, {"decimal_places": 2}) == [5]
    assert to_raw(level, offset, 0.05, {"decimal_places": 3}) == [50]
