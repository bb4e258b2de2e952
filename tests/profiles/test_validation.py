"""A broken profile is refused with a message that names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysense.errors import ConfigError
from citysense.nodekinds import load_node_kinds
from citysense.profiles import load_profile

GOOD = """\
id: {id}
model: Gauge
manufacturer: Test
source: the manual
category: water
points:
  - {{metric: level, table: holding, address: 0, type: float32, unit: m}}
"""


def _write(tmp_path: Path, text: str, name: str = "gauge") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_profile(_write(tmp_path, text))
    return err.value


def test_good_profile_loads(tmp_path: Path) -> None:
    assert load_profile(_write(tmp_path, GOOD.format(id="gauge"))).point("level").register_count == 2


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (("unit: m", "unit: m, scael: 2"), "points.0.scael", "unknown key"),
        (("source: the manual", "source: the manual\nvendor: x"), "vendor", "unknown key"),
        (("type: float32", "type: float33"), "points.0.type", "float33"),
        (("address: 0", "address: 65535"), "points.0.address", "run past 65535"),
        (("address: 0", "address: zero"), "points.0.address", "integer"),
        (("table: holding", "table: coil"), "points.0", "type must be 'bool'"),
        (("unit: m", "unit: m, range: [10, 1]"), "points.0", "exceeds maximum"),
        (("unit: m", "unit: m, enum: {0: a}"), "points.0", "'enum' maps integer states"),
        (("unit: m", "unit: m, bit: 3"), "points.0", "'bit' picks a bit of one 16-bit register"),
        (("type: float32", "type: string"), "points.0", "needs 'length'"),
        (("unit: m", "unit: m, sentinels: [none]"), "points.0.sentinels.0", "integer"),
        (("unit: m", "unit: m, scale: 0"), "points.0", "must not be 0"),
        (("category: water", "category: water\ndefaults: {address_base: 2}"), "defaults.address_base", "less than"),
        (("category: water", "category: water\ndefaults: {address_base: 1}"), "points.0.address", "below"),
    ],
)
def test_broken_profile_names_file_and_key(tmp_path: Path, change: tuple[str, str], key: str, words: str) -> None:
    err = _error(tmp_path, GOOD.format(id="gauge").replace(*change))
    assert err.path.endswith("gauge.yaml")
    assert any(k == key and words in msg for k, msg in err.problems), err.problems
    assert "gauge.yaml" in str(err) and key in str(err)


def test_overlapping_points_are_refused(tmp_path: Path) -> None:
    text = GOOD.format(id="gauge") + "  - {metric: flow, table: holding, address: 1, type: uint16}\n"
    err = _error(tmp_path, text)
    assert any("'level' and 'flow' overlap" in msg for _, msg in err.problems)


STATUS = "  - {{metric: {m}, table: holding, address: {a}, type: {t}, {extra}}}\n"


@pytest.mark.parametrize(
    ("second", "why"),
    [
        pytest.param(
            {"m": "phase", "a": 8, "t": "uint16", "extra": "mask: 0x000C, shift: 2"},
            "both use bits 0x0004",
            id="masks-intersect",
        ),
        pytest.param(
            {"m": "raw", "a": 8, "t": "uint16", "extra": "unit: ''"}, "'raw' uses whole registers", id="plain"
        ),
        pytest.param(
            {"m": "wide", "a": 7, "t": "uint32", "extra": "mask: 0x00010000"}, "exactly the same ones", id="other-span"
        ),
        pytest.param(
            {"m": "both", "a": 7, "t": "uint32", "extra": "addresses: [7, 8]"}, "uses whole registers", id="multi"
        ),
    ],
)
def test_a_true_overlap_says_why(tmp_path: Path, second: dict[str, object], why: str) -> None:
    first = STATUS.format(m="fault", a=8, t="uint16", extra="mask: 0x0006, shift: 1")
    err = _error(tmp_path, GOOD.format(id="gauge") + first + STATUS.format(**second))
    [(key, msg)] = err.problems
    assert key == "points.2.address" and f"'fault' and '{second['m']}' overlap at holding register 0x0008" in msg
    assert why in msg, msg


def test_bit_fields_with_disjoint_bits_share_a_status_word(tmp_path: Path) -> None:
    fields = [("running", "bit: 0, type: bool"), ("phase", "mask: 0x000C, shift: 2, type: uint16"),
              ("input", "mask: 0xC000, shift: 14, type: uint16")]  # fmt: skip
    text = GOOD.format(id="gauge") + "".join(
        f"  - {{metric: {m}, table: holding, address: 8, {extra}}}\n" for m, extra in fields
    )
    assert [p.field_mask for p in load_profile(_write(tmp_path, text)).points[1:]] == [0x0001, 0x000C, 0xC000]


@pytest.mark.parametrize(
    ("point", "words"),
    [
        ("{metric: x, table: holding, address: 8, type: int16, scale_from: {metric: nope}}", "no metric 'nope'"),
        ("{metric: x, table: holding, address: 8, type: int16, scale_from: {metric: level}}", "polled integer"),
        ("{metric: x, table: holding, address: 8, type: float32, bcd: true}", "'bcd' applies to"),
        ("{metric: x, table: holding, address: 8, type: time_hm, scale: 2}", "is a time"),
        ("{metric: x, table: holding, address: 8, type: uint16, write_only: true}", "must also be 'writable'"),
        ("{metric: x, table: input, address: 8, type: uint16, writable: true}", "read-only"),
        ("{metric: x, table: holding, address: 8, type: uint32, writable: true, write_function_code: 6}",
         "writes one register"),
        ("{metric: x, table: coil, address: 8, type: bool, writable: true, write_function_code: 16}", "one of (5, 15)"),
        ("{metric: x, table: holding, addresses: [8, 9, 10], type: uint32}", "got 3"),
    ],
)  # fmt: skip
def test_new_keys_are_cross_checked(tmp_path: Path, point: str, words: str) -> None:
    err = _error(tmp_path, GOOD.format(id="gauge") + f"  - {point}\n")
    assert any(words in msg for _, msg in err.problems), err.problems


def test_file_name_must_match_id(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.format(id="other"))
    assert err.problems == [("id", "'other' must equal the file name 'gauge'")]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    err = _error(tmp_path, "id: [unclosed\n")
    assert "line" in err.problems[0][0] and "invalid YAML" in err.problems[0][1]


KIND = """\
kind: {kind}
name: Gauge station
department: water
connections:
  - {{id: rs485, type: modbus_tcp}}
devices:
  - {{id: level, profile: gauge, connection: rs485, unit_id: 1}}
  - {{id: rain, profile: gauge, connection: rs485, unit_id: 2}}
"""


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (("unit_id: 2", "unit_id: 1"), "devices.1.unit_id", "unit id 1 is used twice"),
        (
            ("profile: gauge, connection: rs485, unit_id: 2", "profile: nope, connection: rs485, unit_id: 2"),
            "devices.1.profile",
            "no profile 'nope'",
        ),
        (
            ("connection: rs485, unit_id: 2", "connection: can, unit_id: 2"),
            "devices.1.connection",
            "unknown connection",
        ),
        (("type: modbus_tcp", "type: lorawan"), "connections.0.type", "modbus_tcp"),
        (("department: water", "departement: water"), "departement", "unknown key"),
        (("kind: {kind}", "kind: other"), "kind", "must equal the file name"),
    ],
)
def test_broken_node_kind_names_file_and_key(tmp_path: Path, change: tuple[str, str], key: str, words: str) -> None:
    (tmp_path / "station.yaml").write_text(KIND.replace(*change).format(kind="station"))
    with pytest.raises(ConfigError) as err:
        load_node_kinds(tmp_path, {"gauge"})
    assert any(k == f"station.yaml: {key}" and words in msg for k, msg in err.value.problems), err.value.problems
