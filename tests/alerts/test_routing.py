"""Routing on a real SQLite database: escalation, repeats stop on ack, budgets, silences, retries with a stable id."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.alerts.config import AlertConfig, SilenceSpec
from hub.alerts.core import Transition
from hub.alerts.router import Router
from hub.alerts.silences import in_force
from hub.alerts.store import AlarmStore, Where
from hub.alerts.topology import NodePlace, Topology
from hub.notify.deliverer import Deliverer
from hub.notify.models import OutboxRow
from hub.notify.outbox import Outbox
from hub.notify.providers.webhook import WebhookProvider
from hub.registry.service import Registry
from tests.alerts.httpfake import Seen, fake_provider
from tests.alerts.stack import eventually

T0 = 1_764_300_000_000
WHERE = Where("N1.gauge", "N1", "level_warning", "threshold", "level", "v1", "water")
TOPO = Topology(
    {"N1": NodePlace("water", ("v1", "t1", "c1"))}, {"v1": ("v", "village", "t1"), "t1": ("t", "town", "c1")}
)


def config(**policy: Any) -> AlertConfig:
    return AlertConfig.model_validate(
        {
            "channels": {"sms": {"type": "http_sms", "url": "http://127.0.0.1:9/"}},
            "contacts": {
                "chen": {"name": "陈", "phone": "138", "sms_channel": "sms", "daily_sms_budget": 2},
                "lin": {"name": "林", "phone": "139", "sms_channel": "sms", "language": "en"},
            },
            "policies": [{"name": "p", "contacts": ["chen"], "group_wait_s": 0, **policy}],
        }
    )


def parts(tmp: Path, cfg: AlertConfig) -> tuple[AlarmStore, Outbox, Router]:
    registry = Registry(f"sqlite:///{tmp / 'r.db'}")
    registry.create_all()
    return AlarmStore(registry), Outbox(registry, cfg.retry_schedule_s), Router(cfg, TOPO)


def route(store: AlarmStore, outbox: Outbox, router: Router, now: int, **kw: Any) -> list[OutboxRow]:
    d = router.decide(
        store.due(now),
        now,
        offline_nodes=kw.get("offline", set()),
        silences=kw.get("silences", []),
        sms_spent=outbox.sms_count,
    )
    outbox.enqueue(d.rows)
    store.mark_notified(d.updates, now)
    return d.rows


def test_escalation_then_acknowledge_stops_repeats(tmp_path: Path) -> None:
    store, outbox, router = parts(
        tmp_path, cfg := config(repeat_interval_s=600, escalation=[{"after_s": 60, "contacts": ["lin"]}])
    )
    (alarm,) = store.record([(WHERE, Transition("raised", 2, 3.6, T0))], 0)
    assert [r.recipient for r in route(store, outbox, router, T0)] == ["138"]
    assert route(store, outbox, router, T0 + 30_000) == []
    esc = route(store, outbox, router, T0 + 61_000)
    assert [r.recipient for r in esc] == ["139"]
    assert "not acknowledged" in json.loads(esc[0].message_json)["subject"]
    assert [r.recipient for r in route(store, outbox, router, T0 + 661_000)] == ["138"]  # repeat
    store.change(alarm.id, "chen", T0 + 700_000, "ack")
    assert route(store, outbox, router, T0 + 5_000_000) == []
    assert cfg.contacts["chen"].language == "zh"


def test_daily_sms_budget(tmp_path: Path) -> None:
    store, outbox, router = parts(tmp_path, config())
    for i in range(3):
        where = Where(f"N1.d{i}", "N1", "r", "threshold", "level", "v1", "water")
        store.record([(where, Transition("raised", 2, 1.0, T0 + i * 1000))], 0)
        route(store, outbox, router, T0 + i * 1000)
    statuses = [r.status for r in sorted(outbox.log(None, None, 10), key=lambda r: r.created_ms)]
    assert statuses == ["pending", "pending", "skipped"]


def test_grouping_waits_and_sends_one_message(tmp_path: Path) -> None:
    store, outbox, router = parts(tmp_path, config(group_wait_s=10))
    store.record([(WHERE, Transition("raised", 2, 3.6, T0))], 10_000)
    other = Where("N1.rain", "N1", "rain_1h", "window_sum", "rain", "v1", "water")
    store.record([(other, Transition("raised", 3, 40, T0 + 4_000))], 10_000)
    assert route(store, outbox, router, T0 + 5_000) == []
    (msg,) = route(store, outbox, router, T0 + 10_000)
    assert {a["device"] for a in json.loads(msg.message_json)["event"]["alarms"]} == {"N1.gauge", "N1.rain"}


def test_silence_and_inhibition_suppress_but_record(tmp_path: Path) -> None:
    store, outbox, router = parts(tmp_path, config())
    (alarm,) = store.record([(WHERE, Transition("raised", 2, 3.6, T0))], 0)
    assert route(store, outbox, router, T0, offline={"N1"}) == []
    _, events = store.get(alarm.id)
    assert events[-1].action == "suppressed" and "node offline" in events[-1].detail


def test_weekly_maintenance_window_crosses_midnight() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    spec = SilenceSpec.model_validate({"name": "m", "every": {"weekdays": [0], "start": "23:00", "duration_s": 7200}})

    def at(day: int, hour: int) -> int:  # 2026-11-30 is a Monday
        when = dt.datetime(2026, 11, 30, hour, 30, tzinfo=tz) + dt.timedelta(days=day)
        return int(when.timestamp() * 1000)

    assert [
        in_force(spec, at(0, 22), tz),
        in_force(spec, at(0, 23), tz),
        in_force(spec, at(1, 0), tz),
        in_force(spec, at(1, 1), tz),
    ] == [False, True, True, False]


async def test_retry_keeps_the_webhook_id(tmp_path: Path) -> None:
    replies = iter([(503, "text/plain", b"busy"), (204, "text/plain", b"")])

    def reply(_req: Seen) -> tuple[int, str, bytes]:
        return next(replies)

    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    registry.create_all()
    outbox = Outbox(registry, [0, 0.1, 0.1])
    with fake_provider(reply) as srv:
        row = OutboxRow(
            id="abc123",
            alarm_ids=",1,",
            channel="ops",
            kind="webhook",
            recipient="",
            message_json=json.dumps(
                {
                    "id": "abc123",
                    "recipient": "",
                    "subject": "s",
                    "text": "t",
                    "params": {},
                    "event": {"type": "alarm.raised"},
                }
            ),
            status="pending",
            attempts=0,
            next_attempt_ms=0,
            created_ms=0,
        )
        outbox.enqueue([row])
        deliverer = Deliverer(outbox, {"ops": WebhookProvider(srv.url, "secret")})
        task = asyncio.create_task(deliverer.run(), name="test:deliver")
        try:
            await eventually(
                lambda: len(srv.seen) >= 2 and outbox.log(None, None, 1)[0].status == "sent", 10, "retry delivered"
            )
        finally:
            await cancel_and_wait([task], grace_s=STOP_GRACE_S)
            await asyncio.gather(task, return_exceptions=True)
    assert [s.headers["webhook-id"] for s in srv.seen] == ["abc123", "abc123"]
    (logged,) = outbox.log(None, None, 5)
    assert logged.attempts == 2 and logged.status == "sent" and logged.last_error == ""
