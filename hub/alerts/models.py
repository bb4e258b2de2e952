"""Tables of the alert engine, on the registry's declarative base (one database).

``create_all`` at hub start creates them beside the registry tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.registry.models import Base


class EvalStateRow(Base):
    """The evaluation state of one (device, rule): pending since, counters, window samples."""

    __tablename__ = "alert_eval_states"
    device: Mapped[str] = mapped_column(String(129), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state_json: Mapped[str] = mapped_column(Text)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class Alarm(Base):
    """One alarm of one (device, rule); at most one is open (not cleared) per pair."""

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(129), index=True)
    node: Mapped[str] = mapped_column(String(64), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(64), default="")
    region_code: Mapped[str] = mapped_column(String(32), default="")
    department_id: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)  # active | acknowledged | cleared
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    severity: Mapped[int] = mapped_column(Integer)
    peak_severity: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float, default=None)
    raised_ms: Mapped[int] = mapped_column(BigInteger)
    acked_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    acked_by: Mapped[str] = mapped_column(String(128), default="")
    cleared_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    assignee: Mapped[str] = mapped_column(String(128), default="")
    # Notification bookkeeping, persisted so a restart keeps repeats and escalations on time.
    notify_due_ms: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)
    notify_reason: Mapped[str] = mapped_column(String(16), default="")
    next_repeat_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    notify_count: Mapped[int] = mapped_column(Integer, default=0)
    last_notified_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    __table_args__ = (Index("ix_alarms_open_pair", "device", "rule_id", "is_open"),)


class AlarmEvent(Base):
    """The audit trail: every change of every alarm, with who made it."""

    __tablename__ = "alarm_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int] = mapped_column(Integer, index=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(128))  # "engine" or a person
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class SilenceRow(Base):
    """A silence created through the API (file silences live in the config)."""

    __tablename__ = "alert_silences"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    match_json: Mapped[str] = mapped_column(Text)
    starts_ms: Mapped[int] = mapped_column(BigInteger)
    ends_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text, default="")


class AlertFence(Base):
    """The fencing token of the worker holding one partition of the province tier (hub/alerts/fences.py)."""

    __tablename__ = "alert_fences"
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)
    worker: Mapped[str] = mapped_column(String(64))
    sealed_ms: Mapped[int] = mapped_column(BigInteger)
