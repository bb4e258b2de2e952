"""Alert writes of the province tier on PostgreSQL: fenced by the partition's token, routed and claimed once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from citysense.profiles import ProfileSet
from citysense.quality import Quality
from hub.alerts.config import AlertConfig
from hub.alerts.engine import AlertEngine
from hub.alerts.handover import AlertPartitions
from hub.alerts.models import Alarm, AlarmEvent
from hub.alerts.scope import PartitionScope
from hub.alerts.store import AlarmStore
from hub.notify.models import OutboxRow
from hub.notify.outbox import PENDING, Outbox
from hub.registry.service import Registry
from hub.store.base import StoredReading
from tests.cluster.conftest import PARTITIONS
from tests.cluster.test_alerts_failover import FOR_S, _registry
from tests.harness.postgres import PostgresServer

NODE = "N01"
KEY = (f"{NODE}.gauge", "level_high")


def _reading(level: float, ts_ms: int) -> StoredReading:
    return StoredReading(NODE, f"{NODE}.gauge", "test_gauge", "level", level, "m", ts_ms, Quality.GOOD)


async def _engine(url: str, worker: str, registry: Registry, profiles: ProfileSet) -> AlertEngine:
    """A worker's engine on its own connection pool, evaluating nothing until it gains a partition."""
    engine = AlertEngine(
        registry=Registry(url),
        snapshot=await asyncio.to_thread(registry.snapshot),
        profiles=profiles,
        cfg=AlertConfig.model_validate({"node_offline": {"enabled": False}}),
        scope=PartitionScope(PARTITIONS.partition_of, worker),
    )
    await engine.start()
    return engine


def test_a_worker_whose_partition_was_sealed_by_a_newer_owner_can_no_longer_write(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    registry, profiles = _registry(tmp_path, postgres.url)
    p = PARTITIONS.partition_of(NODE)
    t0 = int(time.time() * 1000)

    async def main() -> None:
        old = await _engine(postgres.url, "w-old", registry, profiles)
        new = await _engine(postgres.url, "w-new", registry, profiles)
        await AlertPartitions(old).gained(p, 5)
        await old.on_stored([_reading(4.0, t0)])  # above 3.5: the ``for`` starts at t0
        await old.flush()
        await AlertPartitions(new).gained(p, 7)  # w-old's lease ran out without it noticing
        assert new.states[KEY].pending_since_ms == t0  # the pending ``for`` came along
        later = t0 + int(FOR_S * 1000) + 1000
        await old.on_stored([_reading(4.0, later)])  # w-old would raise now: the database refuses it
        assert p not in old.scope.tokens  # type: ignore[union-attr]
        await old.flush()
        await new.on_stored([_reading(4.0, later)])  # the new owner raises, from w-old's t0
        for engine in (old, new):
            engine.registry.engine.dispose()

    asyncio.run(main())
    with registry.session() as s:
        alarms = list(s.scalars(select(Alarm)))
        actors = {e.actor for e in s.scalars(select(AlarmEvent))}
    assert [(a.device, a.rule_id, a.is_open) for a in alarms] == [(*KEY, True)]
    assert actors == {"engine@w-new"}
    assert alarms[0].raised_ms == t0 + int(FOR_S * 1000) + 1000
    registry.engine.dispose()


def _row(i: int) -> OutboxRow:
    return OutboxRow(
        id=f"msg-{i}", alarm_ids=",1,", channel="ops", kind="webhook", recipient="", message_json="{}",
        status=PENDING, attempts=0, next_attempt_ms=0, last_error="", created_ms=0, provider_id="", receipt="",
    )  # fmt: skip


def test_two_workers_never_take_the_same_notification_or_route_at_once(postgres: PostgresServer) -> None:
    a, b = Registry(postgres.url), Registry(postgres.url)
    a.migrate()
    outbox_a, outbox_b = Outbox(a, [0, 5]), Outbox(b, [0, 5])
    outbox_a.enqueue([_row(i) for i in range(3)])
    outbox_b.enqueue([_row(i) for i in range(3)])  # the same decision enqueued twice is one row each
    taken = outbox_a.claim(now_ms=1000, hold_ms=30_000)
    assert sorted(r.id for r in taken) == ["msg-0", "msg-1", "msg-2"]
    assert outbox_b.claim(now_ms=1000, hold_ms=30_000) == []  # taken by a: not due for anyone else
    # a died before recording: after the hold the rows are due again, and b takes them (same ids)
    assert len(outbox_b.claim(now_ms=1000 + 30_001, hold_ms=30_000)) == 3

    store_a, store_b = AlarmStore(a), AlarmStore(b)
    with store_a.routing_turn() as mine:
        assert mine
        with store_b.routing_turn() as theirs:
            assert not theirs  # a routes now: b skips this pass
    with store_b.routing_turn() as theirs:
        assert theirs  # released with a's pass
    a.engine.dispose()
    b.engine.dispose()


def test_a_transition_the_database_refused_is_recorded_when_it_answers_again(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    registry, profiles = _registry(tmp_path, postgres.url)
    t0 = int(time.time() * 1000)

    def audit_trail(available: bool) -> None:  # a real failure of the alarm transaction, then its repair
        with registry.engine.begin() as conn:
            old, new = ("alarm_events_away", "alarm_events") if available else ("alarm_events", "alarm_events_away")
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    async def main() -> None:
        engine = await _engine(postgres.url, "w-1", registry, profiles)
        await AlertPartitions(engine).gained(PARTITIONS.partition_of(NODE), 3)
        await engine.on_stored([_reading(4.0, t0)])
        audit_trail(available=False)
        with pytest.raises(ProgrammingError):  # what the ingest pipeline logs for its observer
            await engine.on_stored([_reading(4.0, t0 + int(FOR_S * 1000) + 1000)])  # raised in memory only
        audit_trail(available=True)
        await engine.tick()  # nothing new to raise: the refused transition goes first
        engine.registry.engine.dispose()

    asyncio.run(main())
    with registry.session() as s:
        alarms = list(s.scalars(select(Alarm)))
        events = [e.action for e in s.scalars(select(AlarmEvent))]
    assert [(a.device, a.rule_id, a.is_open) for a in alarms] == [(*KEY, True)]
    assert events == ["raised"]
    registry.engine.dispose()
