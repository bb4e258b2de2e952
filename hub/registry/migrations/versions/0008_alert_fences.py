"""alert partition fences; 64-bit millisecond columns of the alarm and outbox tables

``alert_fences`` holds, per partition of the province tier, the fencing
token of the worker that holds it: alert state and transitions of a
partition's nodes are written only under the current token
(hub/alerts/fences.py). The millisecond timestamps of the alarm, evaluation
state, silence and outbox tables were 32-bit ``INTEGER`` columns: fine on
SQLite (whose integers are 64-bit), out of range on PostgreSQL for any date
after 1970-01-25. They become ``BIGINT``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = {
    "alarms": [
        ("raised_ms", False),
        ("acked_ms", True),
        ("cleared_ms", True),
        ("notify_due_ms", True),
        ("next_repeat_ms", True),
        ("last_notified_ms", True),
    ],
    "alarm_events": [("ts_ms", False)],
    "alert_eval_states": [("updated_ms", False)],
    "alert_silences": [("starts_ms", False), ("ends_ms", False)],
    "notify_outbox": [("next_attempt_ms", False), ("created_ms", False), ("sent_ms", True)],
}


def _retype(old: type[sa.types.TypeEngine[int]], new: type[sa.types.TypeEngine[int]]) -> None:
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, nullable in columns:
                batch_op.alter_column(name, existing_type=old(), type_=new(), existing_nullable=nullable)


def upgrade() -> None:
    """Apply this revision (a table a test's ``create_all`` made already is left as it is)."""
    _retype(sa.Integer, sa.BigInteger)
    if "alert_fences" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "alert_fences",
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("sealed_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partition"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("alert_fences")
    _retype(sa.BigInteger, sa.Integer)
