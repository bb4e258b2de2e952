"""The outbox table, on the registry's declarative base (one database with the alarms)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.registry.models import Base


class OutboxRow(Base):
    """One decided notification to one recipient on one channel, kept until delivered or given up."""

    __tablename__ = "notify_outbox"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # idempotency key / webhook-id
    alarm_ids: Mapped[str] = mapped_column(String(512), default="")
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(128), default="")
    message_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending|sent|delivered|failed|given_up|skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    sent_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    provider_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    receipt: Mapped[str] = mapped_column(String(64), default="")
    day: Mapped[str] = mapped_column(String(10), default="")  # local date, for the daily SMS budget
