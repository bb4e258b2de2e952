"""Report strategies: decide which readings of a point leave the agent (pure, driven by reading times).

``every_poll`` forwards everything. ``on_change`` forwards a reading when its
value differs from the last forwarded one by more than ``deadband`` (any
change, for non-numbers) or its quality differs; ``change_or_heartbeat`` also
forwards when ``heartbeat_s`` have passed since the last forwarded reading.
``aggregate`` collects the good values of ``interval_s`` and forwards one
reading at the end of the interval (stamped with the last value's time) with
their min, max, mean, sum or count; bad readings are forwarded when the
quality changes, so a failure is never hidden inside an aggregate.
Windows close when the next reading arrives (polls are periodic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from citysense.contract import Reading
from citysense.profiles.model import Aggregate, ReportMode, ReportSpec


@dataclass
class _State:
    last: Reading | None = None  # the last forwarded reading
    window_start_ms: int | None = None
    values: list[float] = field(default_factory=list)
    window_last: Reading | None = None


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _changed(spec: ReportSpec, last: Reading, r: Reading) -> bool:
    if r.quality != last.quality:
        return True
    a, b = _number(last.value), _number(r.value)
    if a is not None and b is not None:
        return abs(b - a) > spec.deadband
    return r.value != last.value


def _aggregate(kind: Aggregate, values: list[float]) -> float | int:
    if kind is Aggregate.COUNT:
        return len(values)
    if kind is Aggregate.MIN:
        return min(values)
    if kind is Aggregate.MAX:
        return max(values)
    total = sum(values)
    return total if kind is Aggregate.SUM else total / len(values)


class Reporter:
    """Applies each metric's :class:`ReportSpec` to the readings of one device."""

    def __init__(self, specs: Mapping[str, ReportSpec]) -> None:
        self.specs = {m: s for m, s in specs.items() if s.mode is not ReportMode.EVERY_POLL}
        self._state: dict[str, _State] = {}

    def filter(self, readings: Iterable[Reading]) -> list[Reading]:
        """Return the readings to forward, in order."""
        if not self.specs:  # every point reports every poll
            return list(readings)
        out: list[Reading] = []
        for r in readings:
            spec = self.specs.get(r.metric)
            if spec is None:
                out.append(r)
                continue
            st = self._state.setdefault(r.metric, _State())
            if spec.mode is ReportMode.AGGREGATE:
                out.extend(self._aggregate(spec, st, r))
                continue
            due = st.last is None or _changed(spec, st.last, r)
            if not due and spec.mode is ReportMode.CHANGE_OR_HEARTBEAT and st.last is not None:
                due = r.ts_ms - st.last.ts_ms >= (spec.heartbeat_s or 0) * 1000
            if due:
                st.last = r
                out.append(r)
        return out

    def _aggregate(self, spec: ReportSpec, st: _State, r: Reading) -> list[Reading]:
        out: list[Reading] = []
        interval_ms = (spec.interval_s or 0) * 1000
        if st.window_start_ms is not None and r.ts_ms - st.window_start_ms >= interval_ms:
            if st.values and st.window_last is not None and spec.aggregate is not None:
                value = round(_aggregate(spec.aggregate, st.values), 9)
                out.append(st.window_last.model_copy(update={"value": value, "quality": "good"}))
            st.window_start_ms, st.values, st.window_last = None, [], None
        if st.window_start_ms is None:
            st.window_start_ms = r.ts_ms
        number = _number(r.value)
        if r.quality == "good" and number is not None:
            st.values.append(number)
            st.window_last = r
        elif st.last is None or st.last.quality != r.quality:
            out.append(r)  # a failure (or a non-number) is reported, not averaged away
        st.last = r
        return out
