"""The durable outbox: a notification, once decided, is a row until delivered or given up.

Rows are written in the same database as the alarms. The :class:`Deliverer`
takes due rows, makes one attempt each through the channel's adapter and
records the outcome; a retryable failure is tried again after the next step of
the retry schedule (Standard Webhooks suggests 0 s, 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 10 h); a permanent one, or the end of the schedule, gives up. The
message id never changes, so a receiver can drop a retry it already has.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.notify.models import OutboxRow
from hub.registry.service import Registry

PENDING, SENT, DELIVERED, FAILED, GIVEN_UP, SKIPPED = "pending", "sent", "delivered", "failed", "given_up", "skipped"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt."""

    id: str
    ok: bool
    retryable: bool
    provider_id: str
    error: str


class Outbox:
    """Outbox rows: enqueue, take due ones, record outcomes and receipts."""

    def __init__(self, registry: Registry, retry_schedule_s: Sequence[float]) -> None:
        self._session: sessionmaker[Session] = sessionmaker(registry.engine, expire_on_commit=False)
        self._lock = threading.Lock()
        self.schedule_ms = [int(s * 1000) for s in retry_schedule_s]

    def enqueue(self, rows: Sequence[OutboxRow]) -> None:
        """Persist decided notifications (ids are idempotency keys: a second insert is ignored)."""
        with self._lock, self._session() as s, s.begin():
            for row in rows:
                if s.get(OutboxRow, row.id) is None:
                    s.add(row)

    def sms_count(self, recipient: str, day: str) -> int:
        """SMS already spent on ``recipient`` that local day (for the daily budget)."""
        with self._session() as s:
            q = select(func.count()).where(
                OutboxRow.recipient == recipient,
                OutboxRow.day == day,
                OutboxRow.status != SKIPPED,
                OutboxRow.kind.in_(("aliyun_sms", "tencent_sms", "twilio", "http_sms")),
            )
            return int(s.scalar(q) or 0)

    def claim(self, now_ms: int, hold_ms: int, limit: int = 200) -> list[OutboxRow]:
        """Take the pending rows whose next attempt is due, oldest first, for one attempt each.

        Several hub workers share the outbox on PostgreSQL: ``FOR UPDATE SKIP
        LOCKED`` lets each take rows no other is taking, and the claim moves
        their next attempt ``hold_ms`` ahead in the same transaction, so no
        other worker finds them due while the attempt is under way. If the
        worker dies before it records the outcome, the row is due again after
        ``hold_ms`` and is sent again with the same id (receivers drop it by id).
        """
        with self._lock, self._session() as s, s.begin():
            q = (
                select(OutboxRow)
                .where(OutboxRow.status == PENDING, OutboxRow.next_attempt_ms <= now_ms)
                .order_by(OutboxRow.next_attempt_ms)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list(s.scalars(q))
            for row in rows:
                row.next_attempt_ms = now_ms + hold_ms
            return rows

    def next_due_ms(self) -> int | None:
        """When the earliest pending row is due."""
        with self._session() as s:
            return s.scalar(select(func.min(OutboxRow.next_attempt_ms)).where(OutboxRow.status == PENDING))

    def record(self, outcomes: Sequence[Outcome], now_ms: int) -> list[OutboxRow]:
        """Store the outcome of attempts; returns the rows given up on."""
        given_up: list[OutboxRow] = []
        with self._lock, self._session() as s, s.begin():
            for o in outcomes:
                row = s.get(OutboxRow, o.id)
                if row is None:
                    continue
                row.attempts += 1
                if o.ok:
                    row.status, row.sent_ms, row.provider_id, row.last_error = SENT, now_ms, o.provider_id, ""
                    continue
                row.last_error = o.error[:1000]
                if o.retryable and row.attempts < len(self.schedule_ms):
                    row.next_attempt_ms = now_ms + self.schedule_ms[row.attempts]
                else:
                    row.status = GIVEN_UP if o.retryable else FAILED
                    given_up.append(row)
        return given_up

    def receipt(self, provider_id: str, status: str) -> bool:
        """Record a provider's delivery receipt; False when no row has that provider id."""
        with self._lock, self._session() as s, s.begin():
            row = s.scalars(select(OutboxRow).where(OutboxRow.provider_id == provider_id)).first()
            if row is None:
                return False
            row.receipt = status[:64]
            if status.lower() in ("delivered", "success", "ok"):
                row.status = DELIVERED
            return True

    def log(self, status: str | None, alarm_id: int | None, limit: int) -> list[OutboxRow]:
        """The delivery log, newest first."""
        with self._session() as s:
            q = select(OutboxRow).order_by(OutboxRow.created_ms.desc()).limit(limit)
            if status:
                q = q.where(OutboxRow.status == status)
            if alarm_id is not None:
                q = q.where(OutboxRow.alarm_ids.contains(f",{alarm_id},"))
            return list(s.scalars(q))
