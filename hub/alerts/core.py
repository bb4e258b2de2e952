"""Pure evaluation core: one rule, one evaluation state, one sample or tick at a time.

No I/O and no clock: every call takes ``now_ms``. Each rule kind turns its
input into a *target level* (0 = normal, otherwise a :class:`Severity`;
``None`` = inside the hysteresis band, keep what is). One shared debounce
turns targets into transitions: a target above 0 must hold ``for_s`` before the
alarm raises; 0 must hold ``clear_for_s`` before it clears; a different
non-zero target while active changes the severity at once (escalate or fall).

The timer path (:func:`tick`) re-applies the last target with the current time,
so a pending ``for`` fires on time without new readings, and computes the
silence of ``no_data`` rules.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from citysense.profiles.alertrules import AlertRule, RuleKind, Severity
from citysense.quality import Quality

TransitionKind = Literal["raised", "cleared", "severity"]
MAX_SAMPLES = 20_000


@dataclass(frozen=True, slots=True)
class Transition:
    """What the engine must do with the alarm of this (device, rule)."""

    kind: TransitionKind
    severity: int
    value: float | None
    ts_ms: int


@dataclass(slots=True)
class EvalState:
    """Everything a rule remembers between samples; persisted as JSON."""

    created_ms: int
    active: bool = False
    severity: int = 0
    last_target: int | None = None
    pending_since_ms: int | None = None
    clearing_since_ms: int | None = None
    last_seen_ms: int | None = None
    bad_since_ms: int | None = None
    last_value: float | None = None
    prev_counter: float | None = None
    flags: deque[bool] = field(default_factory=deque)
    samples: deque[tuple[int, float]] = field(default_factory=deque)

    def to_json(self) -> str:
        """Serialise for the database."""
        d = {s: getattr(self, s) for s in self.__slots__ if s not in ("flags", "samples")}
        d["flags"] = list(self.flags)
        d["samples"] = list(self.samples)
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> EvalState:
        """Restore what :meth:`to_json` wrote."""
        d = json.loads(text)
        flags = deque(bool(f) for f in d.pop("flags"))
        samples = deque((int(t), float(v)) for t, v in d.pop("samples"))
        return cls(**d, flags=flags, samples=samples)


def _debounce(
    rule: AlertRule, st: EvalState, target: int | None, now_ms: int, value: float | None
) -> Transition | None:
    st.last_target = target
    if target is None:  # inside the hysteresis band: neither raise nor clear progresses
        st.pending_since_ms = None if not st.active else st.pending_since_ms
        st.clearing_since_ms = None
        return None
    if target > 0:
        st.clearing_since_ms = None
        if st.active:
            if target != st.severity:
                st.severity = target
                return Transition("severity", target, value, now_ms)
            return None
        if st.pending_since_ms is None:
            st.pending_since_ms = now_ms
        if now_ms - st.pending_since_ms >= rule.for_s * 1000:
            st.active, st.severity, st.pending_since_ms = True, target, None
            return Transition("raised", target, value, now_ms)
        return None
    st.pending_since_ms = None
    if not st.active:
        return None
    if st.clearing_since_ms is None:
        st.clearing_since_ms = now_ms
    if now_ms - st.clearing_since_ms >= rule.clear_for_s * 1000:
        st.active, st.severity, st.clearing_since_ms = False, 0, None
        return Transition("cleared", 0, value, now_ms)
    return None


def _threshold_target(rule: AlertRule, st: EvalState, v: float) -> int | None:
    sev = int(rule.sev)
    if rule.above is not None:
        breach, clear = v >= rule.above, v < (rule.clear_below if rule.clear_below is not None else rule.above)
    else:
        assert rule.below is not None
        breach, clear = v <= rule.below, v > (rule.clear_above if rule.clear_above is not None else rule.below)
    if rule.n_of_m is not None:
        n, m = rule.n_of_m
        st.flags.append(breach)
        while len(st.flags) > m:
            st.flags.popleft()
        breach = sum(st.flags) >= n
        clear = clear and not breach
    if breach:
        return sev
    return 0 if clear else None


def _window(rule: AlertRule, st: EvalState, ts_ms: int, v: float) -> None:
    assert rule.window_s is not None
    st.samples.append((ts_ms, v))
    horizon = ts_ms - int(rule.window_s * 1000)
    while st.samples and st.samples[0][0] < horizon:
        st.samples.popleft()
    while len(st.samples) > MAX_SAMPLES:
        st.samples.popleft()


def _sum_level(rule: AlertRule, total: float) -> int:
    assert rule.levels is not None
    best = 0
    for name, level in rule.levels.items():
        if total >= level:
            best = max(best, int(Severity[name.upper()]))
    return best


def evaluate(rule: AlertRule, st: EvalState, value: float | None, quality: Quality, ts_ms: int) -> Transition | None:
    """Apply one reading of the rule's metric (value already a float or ``None``)."""
    st.last_seen_ms = max(st.last_seen_ms or ts_ms, ts_ms)
    good = quality == Quality.GOOD and value is not None
    kind = rule.kind
    if kind is RuleKind.SENSOR_FAULT:
        if good:
            st.bad_since_ms = None
            return _debounce(rule, st, 0, ts_ms, value)
        if st.bad_since_ms is None:
            st.bad_since_ms = ts_ms
        return _debounce(rule, st, int(rule.sev), ts_ms, None)
    if kind is RuleKind.NO_DATA:
        return _debounce(rule, st, 0, ts_ms, value)
    if not good:
        return None  # bad quality never raises or clears a value rule
    assert value is not None
    st.last_value = value
    if kind is RuleKind.THRESHOLD:
        return _debounce(rule, st, _threshold_target(rule, st, value), ts_ms, value)
    if kind is RuleKind.RATE:
        assert rule.rise is not None
        _window(rule, st, ts_ms, value)
        change = value - min(v for _, v in st.samples) if rule.rise >= 0 else value - max(v for _, v in st.samples)
        hit = change >= rule.rise if rule.rise >= 0 else change <= rule.rise
        return _debounce(rule, st, int(rule.sev) if hit else 0, ts_ms, change)
    if kind is RuleKind.WINDOW_SUM:
        inc = value
        if rule.counter:
            # A counter (rain since midnight) grows; a drop means it was reset, so the new value is the increment.
            prev, st.prev_counter = st.prev_counter, value
            inc = 0.0 if prev is None else (value - prev if value >= prev else value)
        _window(rule, st, ts_ms, inc)
        total = sum(v for _, v in st.samples)
        return _debounce(rule, st, _sum_level(rule, total), ts_ms, total)
    return None


def evaluate_node(rule: AlertRule, st: EvalState, online: bool, ts_ms: int) -> Transition | None:
    """Apply a node's online/offline state to a ``node_offline`` rule."""
    return _debounce(rule, st, 0 if online else int(rule.sev), ts_ms, None)


def silence_from(st: EvalState, since_ms: int) -> int:
    """When a ``no_data`` rule's silence counts from after a restart or a take-over at ``since_ms``.

    Not before ``since_ms`` (nobody listened meanwhile), unless its alarm is
    active: that one stays active until the device is heard again.
    """
    if st.active:
        return st.last_seen_ms or st.created_ms
    return max(st.last_seen_ms or 0, since_ms)


def tick(rule: AlertRule, st: EvalState, now_ms: int, expected_interval_s: float) -> Transition | None:
    """Advance timers without a new sample: pending ``for``/``clear_for`` and silence."""
    if rule.kind is RuleKind.NO_DATA:
        since = st.last_seen_ms if st.last_seen_ms is not None else st.created_ms
        silent = now_ms - since > expected_interval_s * rule.tolerance * 1000
        return _debounce(rule, st, int(rule.sev) if silent else 0, now_ms, None)
    if rule.kind is RuleKind.WINDOW_SUM and st.samples and rule.window_s is not None:
        horizon = now_ms - int(rule.window_s * 1000)
        while st.samples and st.samples[0][0] < horizon:
            st.samples.popleft()
        return _debounce(rule, st, _sum_level(rule, sum(v for _, v in st.samples)), now_ms, None)
    if st.last_target is None:
        return None
    if (st.pending_since_ms is None or st.active) and st.clearing_since_ms is None:
        return None
    return _debounce(rule, st, st.last_target, now_ms, st.last_value)
