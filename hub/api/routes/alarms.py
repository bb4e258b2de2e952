"""``/api/v1/alarms`` and ``/api/v1/alert-rules``; :data:`routers` adds silences and the delivery log.

Duty officers list and acknowledge alarms here (or through the signed link in
a message) and read effective rules; silences and the delivery log are in
:mod:`hub.api.routes.deliveries`. The hub mounts :data:`routers` when
``alerts_file`` is set. Every route is scoped to the caller's regions and
departments by its rule (:mod:`hub.api.policy`); acknowledging needs a token
(the signed link carries its own proof).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from hub.alerts.acklink import check_link, page
from hub.alerts.engine import AlertEngine
from hub.alerts.errors import AlarmNotFound, AlarmStateError, BadAckLink
from hub.alerts.lifecycle import sev_label
from hub.alerts.models import Alarm
from hub.api.deps import ensure_sees
from hub.api.policy import EVERYONE, WRITERS, ReadList, allow
from hub.api.routes import deliveries
from hub.api.routes.alarm_engine import Engine, Limit, now_ms
from hub.api.schemas import INT64_MAX
from hub.registry.access import Principal

AlarmId = Annotated[int, Path(ge=1, le=INT64_MAX)]
ReadAlarm = Annotated[Principal, Depends(allow("read an alarm", EVERYONE, "alarm", "alarm_id", anonymous_read=True))]
HandleAlarm = Annotated[Principal, Depends(allow("handle an alarm", EVERYONE, "alarm", "alarm_id"))]
AssignAlarm = Annotated[Principal, Depends(allow("assign an alarm", WRITERS, "alarm", "alarm_id"))]
ReadRules = Annotated[
    Principal, Depends(allow("read a device's rules", EVERYONE, "device", "device_uid", anonymous_read=True))
]
alarms = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])
rules = APIRouter(prefix="/api/v1/alert-rules", tags=["alarms"])


class AlarmPublic(BaseModel):
    """An alarm as the API shows it."""

    id: int
    device: str
    node: str
    rule: str
    kind: str
    metric: str
    state: str
    severity: str
    peak_severity: str
    value: float | None
    raised_ms: int
    acked_ms: int | None
    acked_by: str
    cleared_ms: int | None
    assignee: str
    region: str
    department: str


class EventPublic(BaseModel):
    """One audit-trail entry."""

    ts_ms: int
    actor: str
    action: str
    detail: str


class AlarmDetail(AlarmPublic):
    """An alarm with its audit trail."""

    events: list[EventPublic]


class Ack(BaseModel):
    """An optional comment with the acknowledgement (the actor is the token's user)."""

    comment: Annotated[str, Field(max_length=4000)] = ""


class Note(BaseModel):
    """A comment, or the assignee's name."""

    text: str = Field(min_length=1, max_length=4000)


def alarm_public(a: Alarm) -> dict[str, Any]:
    return {
        "id": a.id,
        "device": a.device,
        "node": a.node,
        "rule": a.rule_id,
        "kind": a.kind,
        "metric": a.metric,
        "state": a.state,
        "severity": sev_label(a.severity),
        "peak_severity": sev_label(a.peak_severity),
        "value": a.value,
        "raised_ms": a.raised_ms,
        "acked_ms": a.acked_ms,
        "acked_by": a.acked_by,
        "cleared_ms": a.cleared_ms,
        "assignee": a.assignee,
        "region": a.region_code,
        "department": a.department_id,
    }


@alarms.get("", operation_id="listAlarms")
async def list_alarms(
    engine: Engine,
    who: ReadList,
    state: Annotated[str | None, Query(max_length=16)] = "open",
    device: Annotated[str | None, Query(max_length=129)] = None,
    limit: Limit = 200,
) -> list[AlarmPublic]:
    """List alarms in the caller's scope, newest first (``state``: open, active, acknowledged, cleared, or empty)."""
    found = await asyncio.to_thread(engine.store.query, state or None, device, limit)
    return [AlarmPublic(**alarm_public(a)) for a in found if who.sees(a.region_code, a.department_id)]


@alarms.get("/summary", operation_id="alarmSummary")
async def summary(engine: Engine, who: ReadList) -> dict[str, dict[str, int]]:
    """Open alarms counted per region, rolled up village → town → city, and per severity."""
    found = await asyncio.to_thread(engine.store.query, "open", None, 100_000)
    found = [a for a in found if who.sees(a.region_code, a.department_id)]
    by_sev: dict[str, int] = {}
    for a in found:
        by_sev[sev_label(a.severity)] = by_sev.get(sev_label(a.severity), 0) + 1
    return {"by_region": engine.topology.rollup(a.region_code for a in found if a.region_code), "by_severity": by_sev}


@alarms.get("/{alarm_id}", operation_id="getAlarm")
async def get_alarm(engine: Engine, who: ReadAlarm, alarm_id: AlarmId) -> AlarmDetail:
    """One alarm with its audit trail."""
    try:
        alarm, events = await asyncio.to_thread(engine.store.get, alarm_id)
    except AlarmNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    ensure_sees(who, alarm.region_code, alarm.department_id, "alarm")
    trail = [EventPublic(ts_ms=e.ts_ms, actor=e.actor, action=e.action, detail=e.detail) for e in events]
    return AlarmDetail(**alarm_public(alarm), events=trail)


async def _change(engine: AlertEngine, alarm_id: int, who: Principal, what: str, arg: str) -> AlarmPublic:
    try:
        found, _ = await asyncio.to_thread(engine.store.get, alarm_id)
        ensure_sees(who, found.region_code, found.department_id, "alarm")
        alarm = await asyncio.to_thread(engine.store.change, alarm_id, who.user_id, now_ms(), what, arg)
    except AlarmNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    return AlarmPublic(**alarm_public(alarm))


@alarms.post("/{alarm_id}/ack", operation_id="acknowledgeAlarm")
async def acknowledge(engine: Engine, who: HandleAlarm, alarm_id: AlarmId, body: Ack) -> AlarmPublic:
    """Say "I have it": repeats and escalation stop; 409 if already acknowledged or cleared."""
    return await _change(engine, alarm_id, who, "ack", body.comment)


@alarms.get("/{alarm_id}/ack-link", operation_id="acknowledgeByLink", response_class=HTMLResponse)
async def acknowledge_by_link(
    engine: Engine,
    alarm_id: AlarmId,
    exp: Annotated[int, Query(ge=0, le=2**62)],
    by: Annotated[str, Query(min_length=1, max_length=128)],
    sig: Annotated[str, Query(max_length=64)],
) -> HTMLResponse:
    """Acknowledge from the signed link in an SMS or chat message (the page escapes everything it echoes)."""
    try:
        check_link(engine.cfg.ack_secret.get_secret_value(), alarm_id, exp, by, sig, time.time())
    except BadAckLink as exc:
        return page(403, str(exc))
    try:
        await asyncio.to_thread(engine.store.change, alarm_id, by, now_ms(), "ack", "via link")
    except AlarmNotFound:
        return page(404, "告警不存在 / no such alarm")
    except AlarmStateError as exc:
        return page(200, f"已处理 / already handled: {exc}")
    return page(200, f"已确认告警 {alarm_id} / alarm {alarm_id} acknowledged by {by}")


@alarms.post("/{alarm_id}/comments", operation_id="commentAlarm")
async def comment(engine: Engine, who: HandleAlarm, alarm_id: AlarmId, body: Note) -> AlarmPublic:
    """Add a comment to the audit trail."""
    return await _change(engine, alarm_id, who, "comment", body.text)


@alarms.post("/{alarm_id}/assign", operation_id="assignAlarm")
async def assign(engine: Engine, who: AssignAlarm, alarm_id: AlarmId, body: Note) -> AlarmPublic:
    """Hand the alarm to someone (``text`` is the assignee)."""
    return await _change(engine, alarm_id, who, "assign", body.text)


@rules.get("/{device_uid}", operation_id="effectiveRules")
async def effective(
    engine: Engine, who: ReadRules, device_uid: Annotated[str, Path(max_length=129)]
) -> list[dict[str, Any]]:
    """The rules that apply to one device after region and device overrides."""
    dev = engine.snapshot.device(device_uid)
    if dev is None or dev.profile not in engine.profiles:
        raise HTTPException(404, f"no device '{device_uid}'")
    place = engine.topology.place(dev.node)
    ensure_sees(who, place.chain[0] if place.chain else "", place.department, "device")
    found = engine.rules_for(dev.node, device_uid, dev.profile)
    return [r.model_dump(mode="json", exclude_defaults=True) for r in found]


routers = [alarms, rules, deliveries.silences, deliveries.notifications]
