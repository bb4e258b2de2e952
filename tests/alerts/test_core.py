"""The pure evaluation core, driven by an explicit clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from citysense.profiles.alertrules import AlertRule
from citysense.quality import Quality
from hub.alerts.core import EvalState, Transition, evaluate, evaluate_node, tick

G, BAD = Quality.GOOD, Quality.TIMEOUT


def rule(**kw: object) -> AlertRule:
    return AlertRule.model_validate({"id": "r", "metric": "level", **kw})


def run(r: AlertRule, samples: Sequence[tuple[int, float | None, Quality]]) -> list[tuple[int, str, int]]:
    st = EvalState(created_ms=0)
    out: list[tuple[int, str, int]] = []
    for t, v, q in samples:
        tr = evaluate(r, st, v, q, t * 1000)
        if tr:
            out.append((t, tr.kind, tr.severity))
    return out


def test_threshold_hysteresis_does_not_flap() -> None:
    r = rule(kind="threshold", above=3.5, clear_below=3.3)
    seq = [(0, 3.4, G), (1, 3.6, G), (2, 3.45, G), (3, 3.55, G), (4, 3.4, G), (5, 3.2, G)]
    assert run(r, seq) == [(1, "raised", 2), (5, "cleared", 0)]


def test_for_and_clear_for_need_the_condition_to_hold() -> None:
    r = rule(kind="threshold", above=10, for_s=5, clear_for_s=3)
    seq = [(0, 11, G), (3, 9, G), (4, 11, G), (8, 11, G), (9, 12, G), (10, 5, G), (12, 11, G), (13, 5, G), (16, 5, G)]
    assert run(r, seq) == [(9, "raised", 2), (16, "cleared", 0)]


def test_bad_quality_never_raises_nor_clears() -> None:
    r = rule(kind="threshold", above=10)
    assert run(r, [(0, 99, BAD), (1, 11, G), (2, 1, BAD), (3, None, BAD)]) == [(1, "raised", 2)]


def test_n_of_m() -> None:
    r = rule(kind="threshold", above=10, n_of_m=(3, 5))
    seq = [(0, 11, G), (1, 1, G), (2, 11, G), (3, 1, G), (4, 11, G), (5, 1, G)]
    assert run(r, seq) == [(4, "raised", 2), (5, "cleared", 0)]


def test_rate_of_rise() -> None:
    r = rule(kind="rate", rise=0.3, window_s=600, severity="major")
    seq = [(0, 1.0, G), (300, 1.2, G), (600, 1.35, G), (1300, 1.4, G)]
    assert run(r, seq) == [(600, "raised", 3), (1300, "cleared", 0)]


def test_window_sum_levels_escalate_and_fall() -> None:
    r = rule(kind="window_sum", window_s=3600, levels={"warning": 30, "critical": 50})
    seq = [(0, 10, G), (600, 25, G), (1200, 20, G), (4000, 0, G), (5000, 0, G)]
    # 35 -> warning, 55 -> critical; at 4000 the 10 left the window (45), at 5000 everything did.
    assert run(r, seq) == [(600, "raised", 2), (1200, "severity", 4), (4000, "severity", 2), (5000, "cleared", 0)]


def test_window_sum_of_a_counter_that_resets_at_midnight() -> None:
    r = rule(kind="window_sum", window_s=3600, levels={"warning": 30}, counter=True)
    seq = [(0, 100, G), (600, 120, G), (1200, 5, G), (1800, 15, G)]
    assert run(r, seq) == [(1800, "raised", 2)]


def test_pending_for_fires_on_the_timer_without_new_readings() -> None:
    r = rule(kind="threshold", above=10, for_s=60)
    st = EvalState(created_ms=0)
    assert evaluate(r, st, 11, G, 0) is None
    st = EvalState.from_json(st.to_json())  # a restart in the middle
    assert tick(r, st, 59_000, 60) is None
    assert tick(r, st, 60_000, 60) == Transition("raised", 2, 11, 60_000)


def test_no_data_after_expected_interval_times_tolerance() -> None:
    r = AlertRule(id="silent", kind="no_data", tolerance=3)
    st = EvalState(created_ms=0)
    assert tick(r, st, 30_000, 10) is None
    assert tick(r, st, 31_000, 10) == Transition("raised", 2, None, 31_000)
    assert evaluate(r, st, 1.0, G, 32_000) == Transition("cleared", 0, 1.0, 32_000)


def test_persistent_bad_quality_is_a_sensor_fault() -> None:
    r = rule(kind="sensor_fault", for_s=10)
    assert run(r, [(0, None, BAD), (5, None, BAD), (10, None, BAD), (11, 1.0, G)]) == [
        (10, "raised", 2),
        (11, "cleared", 0),
    ]


def test_node_offline() -> None:
    r = AlertRule(id="offline", kind="node_offline", severity="major")
    st = EvalState(created_ms=0)
    assert evaluate_node(r, st, False, 5) == Transition("raised", 3, None, 5)
    assert evaluate_node(r, st, False, 6) is None
    assert evaluate_node(r, st, True, 7) == Transition("cleared", 0, None, 7)


@pytest.mark.parametrize(
    ("bad", "msg"),
    [
        ({"kind": "threshold"}, "exactly one of"),
        ({"kind": "threshold", "above": 3, "clear_below": 4}, "must not exceed"),
        ({"kind": "rate", "rise": 1}, "needs 'rise' and 'window_s'"),
        ({"kind": "window_sum", "window_s": 60}, "needs 'levels'"),
        ({"kind": "threshold", "above": 1, "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_rules_are_refused(bad: dict[str, object], msg: str) -> None:
    with pytest.raises(ValidationError, match=msg):
        rule(**bad)
