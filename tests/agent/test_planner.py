"""The read planner merges nearby registers and never splits a value."""

from __future__ import annotations

import pytest

from citysense.profiles.model import Point
from edge_agent.drivers.modbus.planner import plan


def _p(metric: str, address: int, dtype: str = "uint16", table: str = "holding", **kw: object) -> tuple[int, Point]:
    point = Point.model_validate({"metric": metric, "table": table, "address": address, "type": dtype, **kw})
    return address, point


def _shape(points: list[tuple[int, Point]], **kw: int) -> list[tuple[str, int, int, list[str]]]:
    return [(r.table.value, r.start, r.count, [p.metric for p in r.points]) for r in plan(points, **kw)]


@pytest.mark.parametrize(
    ("points", "kw", "expected"),
    [
        pytest.param([_p("a", 0), _p("b", 1)], {}, [("holding", 0, 2, ["a", "b"])], id="adjacent-merge"),
        pytest.param([_p("a", 0), _p("b", 11)], {"max_gap": 10}, [("holding", 0, 12, ["a", "b"])], id="gap-at-limit"),
        pytest.param(
            [_p("a", 0), _p("b", 12)],
            {"max_gap": 10},
            [("holding", 0, 1, ["a"]), ("holding", 12, 1, ["b"])],
            id="gap-over-limit",
        ),
        pytest.param(
            [_p("a", 0, "float32"), _p("b", 2, "float32"), _p("c", 4, "float32")],
            {"max_count": 5},
            [("holding", 0, 4, ["a", "b"]), ("holding", 4, 2, ["c"])],
            id="never-split-a-float",
        ),
        pytest.param(
            [_p("a", 5, table="input"), _p("b", 5), _p("c", 0, "bool", "coil")],
            {},
            [("coil", 0, 1, ["c"]), ("holding", 5, 1, ["b"]), ("input", 5, 1, ["a"])],
            id="tables-apart",
        ),
        pytest.param(
            [_p("hi", 3, "bool", bit=1), _p("lo", 3, "bool", bit=0)],
            {},
            [("holding", 3, 1, ["hi", "lo"])],
            id="bits-share-a-register",
        ),
        pytest.param([_p("s", 10, "string", length=8), _p("t", 20)], {}, [("holding", 10, 11, ["s", "t"])], id="str"),
    ],
)
def test_plan(points: list[tuple[int, Point]], kw: dict[str, int], expected: list[object]) -> None:
    assert _shape(points, **kw) == expected


def test_plan_respects_the_modbus_register_limit() -> None:
    points = [_p(f"m{i}", i * 2, "uint32") for i in range(100)]
    reqs = plan(points, max_count=125)
    assert all(r.count <= 125 for r in reqs)
    assert sum(len(r.points) for r in reqs) == 100


def test_split_halves_at_a_point_boundary_and_never_inside_a_value() -> None:
    from edge_agent.drivers.modbus.planner import split

    items = [_p("a", 0), _p("b", 1, "float32"), _p("c", 8), _p("d", 9, "uint32")]
    [req] = plan(items)
    addresses = {p.metric: a for a, p in items}
    first, second = split(req, lambda p: addresses[p.metric])
    assert (first.start, first.count, [p.metric for p in first.points]) == (0, 3, ["a", "b"])
    assert (second.start, second.count, [p.metric for p in second.points]) == (8, 3, ["c", "d"])
    with pytest.raises(ValueError, match="one point"):
        split(split(first, lambda p: addresses[p.metric])[0], lambda p: addresses[p.metric])
