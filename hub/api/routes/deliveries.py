"""``/api/v1/silences`` and ``/api/v1/notifications``: silences and the delivery log, within the caller's scope.

A scoped caller's silence must name its regions (and departments); the
delivery log lists the notifications of alarms in the caller's scope. Mounted
with the alarm routes when ``alerts_file`` is set.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from hub.alerts.config import Match
from hub.alerts.errors import AlarmNotFound
from hub.api.policy import EVERYONE, WRITERS, allow, match_within
from hub.api.routes.alarm_engine import Engine, Limit, now_ms
from hub.api.schemas import INT64_MAX
from hub.registry.access import Principal

Epoch = Annotated[int, Field(ge=0, le=2**62)]
ListSilences = Annotated[Principal, Depends(allow("list silences", EVERYONE, "list"))]
CreateSilence = Annotated[Principal, Depends(allow("silence alarms", WRITERS, "body"))]
EndSilence = Annotated[Principal, Depends(allow("end a silence", WRITERS, "silence", "silence_id"))]
ReadDeliveries = Annotated[Principal, Depends(allow("read the delivery log", WRITERS, "list"))]
silences = APIRouter(prefix="/api/v1/silences", tags=["alarms"])
notifications = APIRouter(prefix="/api/v1/notifications", tags=["alarms"])


class SilenceCreate(BaseModel):
    """A silence from now (or ``starts_ms``) to ``ends_ms``."""

    match: Match
    ends_ms: Epoch
    starts_ms: Epoch | None = None
    comment: Annotated[str, Field(max_length=4000)] = ""


@silences.get("", operation_id="listSilences")
async def list_silences(engine: Engine, who: ListSilences) -> list[dict[str, Any]]:
    """Silences from the config file and the API whose alarms all lie within the caller's scope."""
    rows = await asyncio.to_thread(engine.store.silences)
    rows = [r for r in rows if match_within(who, Match.model_validate(json.loads(r.match_json)))]
    out: list[dict[str, Any]] = [
        {"source": "file", **s.model_dump(mode="json")} for s in engine.cfg.silences if match_within(who, s.match)
    ]
    out += [
        {
            "source": "api",
            "id": r.id,
            "match_json": r.match_json,
            "starts_ms": r.starts_ms,
            "ends_ms": r.ends_ms,
            "created_by": r.created_by,
            "comment": r.comment,
        }
        for r in rows
    ]
    return out


@silences.post("", operation_id="createSilence", status_code=201)
async def create_silence(engine: Engine, who: CreateSilence, body: SilenceCreate) -> dict[str, int]:
    """Silence matching alarms' notifications (alarms are still recorded); a scoped caller names its regions."""
    if not match_within(who, body.match):
        raise HTTPException(403, "a silence must stay within your regions and departments: name them in match")
    starts = body.starts_ms if body.starts_ms is not None else now_ms()
    if body.ends_ms <= starts:
        raise HTTPException(400, "ends_ms must be after starts_ms")
    row = await asyncio.to_thread(
        engine.store.add_silence, body.match.model_dump(mode="json"), starts, body.ends_ms, who.user_id, body.comment
    )
    return {"id": row.id}


@silences.delete("/{silence_id}", operation_id="deleteSilence", status_code=204)
async def delete_silence(engine: Engine, who: EndSilence, silence_id: Annotated[int, Path(ge=1, le=INT64_MAX)]) -> None:
    """End a silence."""
    try:
        await asyncio.to_thread(engine.store.delete_silence, silence_id)
    except AlarmNotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@notifications.get("", operation_id="deliveryLog")
async def delivery_log(
    engine: Engine,
    who: ReadDeliveries,
    status: Annotated[str | None, Query(max_length=16)] = None,
    alarm: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    limit: Limit = 200,
) -> list[dict[str, Any]]:
    """The delivery log: every decided notification with its attempts and outcome, for alarms in the caller's scope."""
    rows = await asyncio.to_thread(engine.outbox.log, status, alarm, limit)
    alarm_ids = {r.id: [int(x) for x in r.alarm_ids.strip(",").split(",") if x] for r in rows}
    if not who.unscoped:
        places = await asyncio.to_thread(engine.store.places, (a for ids in alarm_ids.values() for a in ids))
        rows = [
            r for r in rows if alarm_ids[r.id] and all(a in places and who.sees(*places[a]) for a in alarm_ids[r.id])
        ]
    return [
        {
            "id": r.id,
            "alarms": alarm_ids[r.id],
            "channel": r.channel,
            "kind": r.kind,
            "recipient": r.recipient,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_ms": r.created_ms,
            "sent_ms": r.sent_ms,
            "provider_id": r.provider_id,
            "receipt": r.receipt,
        }
        for r in rows
    ]


@notifications.post("/receipts/{channel}", operation_id="deliveryReceipt", status_code=204)
async def receipt(
    engine: Engine,
    channel: Annotated[str, Path(max_length=64)],
    key: Annotated[str, Query(max_length=256)],
    request: Request,
) -> None:
    """Delivery receipts: Twilio's status callback (form), Tencent's callback (JSON list) or ``{id, status}``.

    Providers call this without a token; the URL carries ``?key=`` = the config's ``receipt_key``.
    """
    want = engine.cfg.receipt_key.get_secret_value() if engine.cfg.receipt_key else ""
    if channel not in engine.cfg.channels or not want or not hmac.compare_digest(key.encode(), want.encode()):
        raise HTTPException(404, f"no receipt endpoint for '{channel}'")
    pairs: list[tuple[str, str]] = []
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        pairs.append((str(form.get("MessageSid", "")), str(form.get("MessageStatus", ""))))
    else:
        try:
            data = await request.json()
        except ValueError as exc:
            raise HTTPException(400, f"receipt body is not JSON: {exc}") from exc
        items = data if isinstance(data, list) else [data]
        for it in items[:1000]:
            if isinstance(it, dict):
                pid = it.get("sid") or it.get("id") or ""
                status = it.get("report_status") or it.get("status") or ""
                pairs.append((str(pid), "delivered" if status == "SUCCESS" else str(status)))
    for pid, status in pairs:
        await asyncio.to_thread(engine.outbox.receipt, pid, status)
