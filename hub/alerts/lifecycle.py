"""The alarm state machine: active → acknowledged → cleared, with severity changes while open.

Pure functions over an :class:`~hub.alerts.models.Alarm` row; each returns the
audit event to record. A clear closes the alarm for good: the next raise of the
same (device, rule) opens a new alarm, so history stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from citysense.profiles.alertrules import Severity
from hub.alerts.core import Transition
from hub.alerts.errors import AlarmStateError
from hub.alerts.models import Alarm

ACTIVE, ACKED, CLEARED = "active", "acknowledged", "cleared"


@dataclass(frozen=True, slots=True)
class Change:
    """One audit-trail entry."""

    action: str
    detail: str


def sev_label(level: int) -> str:
    """``2`` → ``warning``; 0 is ``ok``."""
    return Severity(level).label if level else "ok"


def apply(alarm: Alarm, tr: Transition, group_wait_ms: int) -> Change:
    """Apply an engine transition to an open alarm (a ``raised`` one is already created)."""
    if not alarm.is_open:
        raise AlarmStateError(f"alarm {alarm.id} is closed")
    alarm.value = tr.value if tr.value is not None else alarm.value
    if tr.kind == "severity":
        old = alarm.severity
        alarm.severity = tr.severity
        alarm.peak_severity = max(alarm.peak_severity, tr.severity)
        if tr.severity > old:  # escalation is news even when acknowledged; a fall is not worth waking anyone
            alarm.notify_due_ms, alarm.notify_reason = tr.ts_ms + group_wait_ms, "escalated"
        return Change("severity", f"{sev_label(old)} -> {sev_label(tr.severity)} (value {tr.value})")
    if tr.kind == "cleared":
        alarm.state, alarm.is_open, alarm.cleared_ms = CLEARED, False, tr.ts_ms
        alarm.notify_due_ms, alarm.notify_reason, alarm.next_repeat_ms = tr.ts_ms, "cleared", None
        return Change("cleared", f"value {tr.value}")
    raise AlarmStateError(f"alarm {alarm.id} is already open; cannot raise it again")


def new_alarm(tr: Transition, group_wait_ms: int, **where: str) -> tuple[Alarm, Change]:
    """Open an alarm for a ``raised`` transition."""
    alarm = Alarm(
        state=ACTIVE,
        is_open=True,
        severity=tr.severity,
        peak_severity=tr.severity,
        value=tr.value,
        raised_ms=tr.ts_ms,
        notify_due_ms=tr.ts_ms + group_wait_ms,
        notify_reason="raised",
        escalation_step=0,
        notify_count=0,
        acked_by="",
        assignee="",
        **where,
    )
    return alarm, Change("raised", f"{sev_label(tr.severity)} (value {tr.value})")


def acknowledge(alarm: Alarm, by: str, now_ms: int) -> Change:
    """Mark an active alarm as handled by ``by``; repeats and escalation stop."""
    if alarm.state == CLEARED:
        raise AlarmStateError(f"alarm {alarm.id} is already cleared")
    if alarm.state == ACKED:
        raise AlarmStateError(f"alarm {alarm.id} was already acknowledged by {alarm.acked_by}")
    alarm.state, alarm.acked_ms, alarm.acked_by = ACKED, now_ms, by
    alarm.next_repeat_ms = None
    if not alarm.assignee:
        alarm.assignee = by
    return Change("acknowledged", by)


def assign(alarm: Alarm, assignee: str) -> Change:
    """Hand an open alarm to someone."""
    if not alarm.is_open:
        raise AlarmStateError(f"alarm {alarm.id} is cleared")
    old, alarm.assignee = alarm.assignee, assignee
    return Change("assigned", f"{old or '-'} -> {assignee}")
