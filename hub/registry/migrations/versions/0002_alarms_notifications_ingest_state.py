"""alarms, notifications and ingest state

These tables were created by ``create_all`` at hub start until this revision;
a database from that time already has them, so each is created only when
missing (the models have not changed since).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:07:58.960931
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "alarm_events" not in existing:
        op.create_table(
            "alarm_events",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("alarm_id", sa.Integer(), nullable=False),
            sa.Column("ts_ms", sa.Integer(), nullable=False),
            sa.Column("actor", sa.String(length=128), nullable=False),
            sa.Column("action", sa.String(length=32), nullable=False),
            sa.Column("detail", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("alarm_events", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_alarm_events_alarm_id"), ["alarm_id"], unique=False)

    if "alarms" not in existing:
        op.create_table(
            "alarms",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("device", sa.String(length=129), nullable=False),
            sa.Column("node", sa.String(length=64), nullable=False),
            sa.Column("rule_id", sa.String(length=64), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("metric", sa.String(length=64), nullable=False),
            sa.Column("region_code", sa.String(length=32), nullable=False),
            sa.Column("department_id", sa.String(length=64), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("is_open", sa.Boolean(), nullable=False),
            sa.Column("severity", sa.Integer(), nullable=False),
            sa.Column("peak_severity", sa.Integer(), nullable=False),
            sa.Column("value", sa.Float(), nullable=True),
            sa.Column("raised_ms", sa.Integer(), nullable=False),
            sa.Column("acked_ms", sa.Integer(), nullable=True),
            sa.Column("acked_by", sa.String(length=128), nullable=False),
            sa.Column("cleared_ms", sa.Integer(), nullable=True),
            sa.Column("assignee", sa.String(length=128), nullable=False),
            sa.Column("notify_due_ms", sa.Integer(), nullable=True),
            sa.Column("notify_reason", sa.String(length=16), nullable=False),
            sa.Column("next_repeat_ms", sa.Integer(), nullable=True),
            sa.Column("escalation_step", sa.Integer(), nullable=False),
            sa.Column("notify_count", sa.Integer(), nullable=False),
            sa.Column("last_notified_ms", sa.Integer(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("alarms", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_alarms_device"), ["device"], unique=False)
            batch_op.create_index(batch_op.f("ix_alarms_is_open"), ["is_open"], unique=False)
            batch_op.create_index(batch_op.f("ix_alarms_node"), ["node"], unique=False)
            batch_op.create_index(batch_op.f("ix_alarms_notify_due_ms"), ["notify_due_ms"], unique=False)
            batch_op.create_index("ix_alarms_open_pair", ["device", "rule_id", "is_open"], unique=False)
            batch_op.create_index(batch_op.f("ix_alarms_state"), ["state"], unique=False)

    if "alert_eval_states" not in existing:
        op.create_table(
            "alert_eval_states",
            sa.Column("device", sa.String(length=129), nullable=False),
            sa.Column("rule_id", sa.String(length=64), nullable=False),
            sa.Column("state_json", sa.Text(), nullable=False),
            sa.Column("updated_ms", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("device", "rule_id"),
        )

    if "alert_silences" not in existing:
        op.create_table(
            "alert_silences",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("match_json", sa.Text(), nullable=False),
            sa.Column("starts_ms", sa.Integer(), nullable=False),
            sa.Column("ends_ms", sa.Integer(), nullable=False),
            sa.Column("created_by", sa.String(length=128), nullable=False),
            sa.Column("comment", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )

    if "ingest_stored_batches" not in existing:
        op.create_table(
            "ingest_stored_batches",
            sa.Column("node", sa.String(length=64), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("stored_ms", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("node", "seq"),
        )

    if "notify_outbox" not in existing:
        op.create_table(
            "notify_outbox",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("alarm_ids", sa.String(length=512), nullable=False),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("recipient", sa.String(length=128), nullable=False),
            sa.Column("message_json", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("next_attempt_ms", sa.Integer(), nullable=False),
            sa.Column("last_error", sa.Text(), nullable=False),
            sa.Column("created_ms", sa.Integer(), nullable=False),
            sa.Column("sent_ms", sa.Integer(), nullable=True),
            sa.Column("provider_id", sa.String(length=128), nullable=False),
            sa.Column("receipt", sa.String(length=64), nullable=False),
            sa.Column("day", sa.String(length=10), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_notify_outbox_next_attempt_ms"), ["next_attempt_ms"], unique=False)
            batch_op.create_index(batch_op.f("ix_notify_outbox_provider_id"), ["provider_id"], unique=False)
            batch_op.create_index(batch_op.f("ix_notify_outbox_status"), ["status"], unique=False)


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_notify_outbox_provider_id"))
        batch_op.drop_index(batch_op.f("ix_notify_outbox_next_attempt_ms"))

    op.drop_table("notify_outbox")
    op.drop_table("ingest_stored_batches")
    op.drop_table("alert_silences")
    op.drop_table("alert_eval_states")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarms_state"))
        batch_op.drop_index("ix_alarms_open_pair")
        batch_op.drop_index(batch_op.f("ix_alarms_notify_due_ms"))
        batch_op.drop_index(batch_op.f("ix_alarms_node"))
        batch_op.drop_index(batch_op.f("ix_alarms_is_open"))
        batch_op.drop_index(batch_op.f("ix_alarms_device"))

    op.drop_table("alarms")
    with op.batch_alter_table("alarm_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_events_alarm_id"))

    op.drop_table("alarm_events")
