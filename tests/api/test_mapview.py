"""The map view's pure parts: chart lines from alert rules, and the map's frame."""

from __future__ import annotations

from typing import Any

import pytest

from citysense.profiles.alertrules import AlertRule
from hub.api.mapview import CITY, MIN_SPAN_DEG, chart_lines, frame


def _rule(rid: str, **kw: Any) -> AlertRule:
    return AlertRule.model_validate({"id": rid, "kind": "threshold", "metric": "level", **kw})


@pytest.mark.parametrize(
    ("rules", "want"),
    [
        ([], {}),
        ([_rule("w", above=3.5, severity="warning")], {"warning": 3.5}),
        ([_rule("w", above=3.5, severity="warning"), _rule("d", above=4.2, severity="critical")],
         {"warning": 3.5, "danger": 4.2}),
        ([_rule("m", above=4.0, severity="major"), _rule("c", above=4.5, severity="critical")], {"danger": 4.0}),
        ([_rule("off", above=3.0, severity="warning", enabled=False)], {}),
        ([_rule("low", below=0.5, severity="warning")], {}),  # a low-water rule draws no upper line
        ([_rule("other", metric="flow", above=9.0, severity="warning")], {}),
    ],
)  # fmt: skip
def test_chart_lines_take_the_lowest_enabled_threshold(rules: list[AlertRule], want: dict[str, float]) -> None:
    assert chart_lines(rules, "level") == want


def _node(lat: float | None, lon: float | None) -> dict[str, Any]:
    return {"latitude": lat, "longitude": lon}


def test_frame_holds_every_placed_node_and_never_collapses() -> None:
    assert frame([]) == CITY and frame([_node(None, None)]) == CITY
    one = frame([_node(21.9, 110.9)])
    assert one["north"] - one["south"] >= MIN_SPAN_DEG and one["south"] < 21.9 < one["north"]
    spread = frame([_node(21.7, 110.6), _node(22.3, 111.2), _node(None, None)])
    assert spread["south"] < 21.7 and spread["north"] > 22.3 and spread["west"] < 110.6 and spread["east"] > 111.2
