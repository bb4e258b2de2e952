"""Synchronous database access of the alert engine (call through ``asyncio.to_thread``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from hub.alerts import fences, lifecycle
from hub.alerts.core import Transition
from hub.alerts.errors import AlarmNotFound
from hub.alerts.models import Alarm, AlarmEvent, EvalStateRow, SilenceRow
from hub.registry.service import Registry

ROUTING_LOCK = 0x43535F52  # "CS_R": the advisory lock key of the routing pass


@dataclass(frozen=True, slots=True)
class Where:
    """Where an alarm belongs: what the router and the roll-up need."""

    device: str
    node: str
    rule_id: str
    kind: str
    metric: str
    region_code: str
    department_id: str


class AlarmStore:
    """Evaluation states, alarms with their audit trail, and API silences."""

    def __init__(self, registry: Registry) -> None:
        self._engine = registry.engine
        self._session: sessionmaker[Session] = sessionmaker(registry.engine, expire_on_commit=False)
        self._lock = threading.Lock()

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory (for :mod:`hub.alerts.fences`)."""
        return self._session

    @contextlib.contextmanager
    def routing_turn(self) -> Iterator[bool]:
        """Whether this process may route now: one routing pass at a time across the workers of one database.

        On PostgreSQL a transaction-scoped advisory lock, held on its own
        connection for the pass and released when that transaction ends (or
        the connection drops with a dead worker). A pass that finds it taken
        is skipped: the holder routes the same alarms. SQLite has one hub.
        """
        if self._engine.dialect.name != "postgresql":
            yield True
            return
        with self._engine.connect() as conn:
            got = conn.execute(select(func.pg_try_advisory_xact_lock(ROUTING_LOCK))).scalar()
            try:
                yield bool(got)
            finally:
                conn.rollback()

    # -- evaluation state ----------------------------------------------------
    def load_states(self) -> dict[tuple[str, str], str]:
        """Every persisted evaluation state, by (device, rule)."""
        with self._session() as s:
            return {(r.device, r.rule_id): r.state_json for r in s.scalars(select(EvalStateRow))}

    def load_states_of(self, devices: Sequence[str]) -> dict[tuple[str, str], str]:
        """The persisted evaluation states of these devices (and nodes: a node's rules are keyed by its id)."""
        out: dict[tuple[str, str], str] = {}
        with self._session() as s:
            for i in range(0, len(devices), 500):
                q = select(EvalStateRow).where(EvalStateRow.device.in_(devices[i : i + 500]))
                out.update({(r.device, r.rule_id): r.state_json for r in s.scalars(q)})
        return out

    def save_states(
        self, items: Sequence[tuple[str, str, str]], now_ms: int, fence: Mapping[int, int] | None = None
    ) -> None:
        """Upsert (device, rule, state json) rows in one transaction (refused if ``fence`` no longer holds)."""
        if not items:
            return
        with self._lock, self._session() as s, s.begin():
            if fence is not None:
                fences.check(s, fence)
            _upsert_states(s, items, now_ms)

    # -- alarms --------------------------------------------------------------
    def open_alarms(self) -> list[Alarm]:
        """Alarms not yet cleared."""
        with self._session() as s:
            return list(s.scalars(select(Alarm).where(Alarm.is_open)))

    def record(
        self,
        items: Sequence[tuple[Where, Transition]],
        group_wait_ms: int,
        *,
        states: Sequence[tuple[str, str, str]] = (),
        fence: Mapping[int, int] | None = None,
        actor: str = "engine",
    ) -> list[Alarm]:
        """Apply transitions (open, change or clear alarms), write the audit trail and the states behind them.

        One transaction: an alarm and the evaluation state that opened it are
        never found apart (a restart, or the next owner of a partition, resumes
        from both or neither). A raise of an alarm already open (a reading seen
        twice across a handover) changes nothing.
        """
        out: list[Alarm] = []
        with self._lock, self._session() as s, s.begin():
            if fence is not None:
                fences.check(s, fence)
            for where, tr in items:
                alarm = s.scalars(
                    select(Alarm).where(Alarm.device == where.device, Alarm.rule_id == where.rule_id, Alarm.is_open)
                ).first()
                if alarm is None:
                    if tr.kind != "raised":
                        continue  # a clear of an alarm that was closed by hand meanwhile
                    alarm, change = lifecycle.new_alarm(tr, group_wait_ms, **dataclasses.asdict(where))
                    s.add(alarm)
                    s.flush()
                elif tr.kind == "raised":
                    continue
                else:
                    change = lifecycle.apply(alarm, tr, group_wait_ms)
                s.add(AlarmEvent(alarm_id=alarm.id, ts_ms=tr.ts_ms, actor=actor, action=change.action,
                                 detail=change.detail))  # fmt: skip
                out.append(alarm)
            _upsert_states(s, states, max((tr.ts_ms for _, tr in items), default=0))
        return out

    def offline_nodes(self) -> set[str]:
        """Nodes with an open node-offline alarm, whichever worker opened it."""
        with self._session() as s:
            q = select(Alarm.node).where(Alarm.kind == "node_offline", Alarm.is_open)
            return set(s.scalars(q))

    def change(self, alarm_id: int, actor: str, now_ms: int, what: str, arg: str = "") -> Alarm:
        """Acknowledge, assign or comment by a person; raises AlarmNotFound / AlarmStateError."""
        with self._lock, self._session() as s, s.begin():
            alarm = s.get(Alarm, alarm_id)
            if alarm is None:
                raise AlarmNotFound(f"no alarm {alarm_id}")
            if what == "ack":
                change = lifecycle.acknowledge(alarm, actor, now_ms)
                if arg:
                    s.add(AlarmEvent(alarm_id=alarm_id, ts_ms=now_ms, actor=actor, action="comment", detail=arg))
            elif what == "assign":
                change = lifecycle.assign(alarm, arg)
            else:
                change = lifecycle.Change("comment", arg)
            s.add(AlarmEvent(alarm_id=alarm_id, ts_ms=now_ms, actor=actor, action=change.action, detail=change.detail))
            return alarm

    def get(self, alarm_id: int) -> tuple[Alarm, list[AlarmEvent]]:
        """One alarm and its audit trail."""
        with self._session() as s:
            alarm = s.get(Alarm, alarm_id)
            if alarm is None:
                raise AlarmNotFound(f"no alarm {alarm_id}")
            events = list(s.scalars(select(AlarmEvent).where(AlarmEvent.alarm_id == alarm_id).order_by(AlarmEvent.id)))
            return alarm, events

    def places(self, alarm_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """Alarm id -> (region code, department id), for scoping lists that name alarms."""
        ids = sorted(set(alarm_ids))
        with self._session() as s:
            q = select(Alarm.id, Alarm.region_code, Alarm.department_id).where(Alarm.id.in_(ids))
            return {row[0]: (row[1], row[2]) for row in s.execute(q)}

    def query(self, state: str | None, device: str | None, limit: int, *, node: str | None = None) -> list[Alarm]:
        """Alarms newest first; ``state`` may be ``open``; optionally one device's or one node's."""
        with self._session() as s:
            q = select(Alarm).order_by(Alarm.id.desc()).limit(limit)
            if state == "open":
                q = q.where(Alarm.is_open)
            elif state:
                q = q.where(Alarm.state == state)
            if device:
                q = q.where(Alarm.device == device)
            if node:
                q = q.where(Alarm.node == node)
            return list(s.scalars(q))

    def due(self, now_ms: int) -> list[Alarm]:
        """Alarms with a notification pending (due or waiting to be grouped), or a repeat/escalation due."""
        with self._session() as s:
            return list(
                s.scalars(
                    select(Alarm).where(
                        or_(
                            Alarm.notify_due_ms.is_not(None),
                            (Alarm.is_open) & (Alarm.state == lifecycle.ACTIVE) & (Alarm.next_repeat_ms <= now_ms),
                        )
                    )
                )
            )

    def mark_notified(self, updates: Iterable[tuple[int, int | None, int, str, str]], now_ms: int) -> None:
        """Store (alarm id, next repeat, escalation step, action, detail) after notifications were decided."""
        with self._lock, self._session() as s, s.begin():
            for alarm_id, next_repeat, step, action, detail in updates:
                alarm = s.get(Alarm, alarm_id)
                if alarm is None:
                    continue
                alarm.notify_due_ms, alarm.notify_reason = None, ""
                alarm.next_repeat_ms = next_repeat if alarm.state == lifecycle.ACTIVE else None
                alarm.escalation_step = step
                alarm.notify_count += 1
                alarm.last_notified_ms = now_ms
                s.add(AlarmEvent(alarm_id=alarm_id, ts_ms=now_ms, actor="engine", action=action, detail=detail))

    # -- silences ------------------------------------------------------------
    def add_silence(self, match: dict[str, object], starts_ms: int, ends_ms: int, by: str, comment: str) -> SilenceRow:
        """Create a silence."""
        with self._lock, self._session() as s, s.begin():
            row = SilenceRow(
                match_json=json.dumps(match), starts_ms=starts_ms, ends_ms=ends_ms, created_by=by, comment=comment
            )
            s.add(row)
            s.flush()
            return row

    def silences(self) -> list[SilenceRow]:
        """All API silences."""
        with self._session() as s:
            return list(s.scalars(select(SilenceRow).order_by(SilenceRow.id)))

    def delete_silence(self, silence_id: int) -> None:
        """Remove a silence; raises AlarmNotFound."""
        with self._lock, self._session() as s, s.begin():
            if s.execute(delete(SilenceRow).where(SilenceRow.id == silence_id)).rowcount == 0:  # type: ignore[attr-defined]
                raise AlarmNotFound(f"no silence {silence_id}")


def _upsert_states(s: Session, items: Sequence[tuple[str, str, str]], now_ms: int) -> None:
    if not items:
        return
    rows = [{"device": d, "rule_id": r, "state_json": t, "updated_ms": now_ms} for d, r, t in items]
    dialect = s.get_bind().dialect.name
    if dialect not in _UPSERT:
        for row in rows:
            s.merge(EvalStateRow(**row))
        return
    stmt = _UPSERT[dialect](EvalStateRow)  # one statement per batch instead of a SELECT per row
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=["device", "rule_id"],
            set_={"state_json": stmt.excluded.state_json, "updated_ms": stmt.excluded.updated_ms},
        ),
        rows,
    )


_UPSERT: dict[str, Callable[[type[EvalStateRow]], Any]] = {"sqlite": sqlite_insert, "postgresql": pg_insert}
