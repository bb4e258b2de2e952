"""Does a policy or a silence match an alarm? Is a silence in force now (including weekly windows)?"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from citysense.profiles.alertrules import Severity
from hub.alerts.config import Match, SilenceSpec
from hub.alerts.models import Alarm
from hub.alerts.topology import NodePlace


def matches(m: Match, alarm: Alarm, place: NodePlace) -> bool:
    """True when every non-empty criterion of ``m`` holds for ``alarm``."""
    if m.departments and alarm.department_id not in m.departments:
        return False
    if m.regions and not set(m.regions) & set(place.chain):
        return False
    if m.nodes and alarm.node not in m.nodes:
        return False
    if m.devices and alarm.device not in m.devices:
        return False
    if m.rules and alarm.rule_id not in m.rules:
        return False
    return alarm.severity >= int(Severity[m.min_severity.upper()]) or not alarm.is_open


def in_force(spec: SilenceSpec, now_ms: int, tz: ZoneInfo) -> bool:
    """True while the silence (fixed or recurring weekly) covers ``now_ms``."""
    if spec.every is None:
        assert spec.starts_ms is not None and spec.ends_ms is not None
        return spec.starts_ms <= now_ms < spec.ends_ms
    now = dt.datetime.fromtimestamp(now_ms / 1000, tz)
    hh, mm = (int(x) for x in spec.every.start.split(":"))
    # A window may run past midnight, so look at windows that started today or on the previous days.
    for back in range(0, 8):
        day = (now - dt.timedelta(days=back)).date()
        if day.weekday() not in spec.every.weekdays:
            continue
        start = dt.datetime.combine(day, dt.time(hh, mm), tz)
        if start <= now < start + dt.timedelta(seconds=spec.every.duration_s):
            return True
    return False
