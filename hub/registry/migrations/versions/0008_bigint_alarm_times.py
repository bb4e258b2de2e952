"""64-bit millisecond times in the alarm and notification tables

Revision 0002 typed these columns INTEGER. SQLite stores any integer in it,
but on PostgreSQL INTEGER is 32 bits: the first alarm or notification a hub
wrote there (milliseconds since 1970 are about 1.8e12) failed with "integer
out of range" and stopped the alert engine. BIGINT holds them.

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

COLUMNS: dict[str, list[tuple[str, bool]]] = {  # table -> (column, nullable)
    "alert_eval_states": [("updated_ms", False)],
    "alarms": [
        ("raised_ms", False),
        ("acked_ms", True),
        ("cleared_ms", True),
        ("notify_due_ms", True),
        ("next_repeat_ms", True),
        ("last_notified_ms", True),
    ],
    "alarm_events": [("ts_ms", False)],
    "alert_silences": [("starts_ms", False), ("ends_ms", False)],
    "notify_outbox": [("next_attempt_ms", False), ("created_ms", False), ("sent_ms", True)],
}


def _retype(old: type[sa.types.TypeEngine[int]], new: type[sa.types.TypeEngine[int]]) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:  # SQLite: the table is copied; PostgreSQL: ALTER COLUMN TYPE
            for name, nullable in columns:
                batch.alter_column(name, existing_type=old(), type_=new(), existing_nullable=nullable)


def upgrade() -> None:
    """Apply this revision."""
    _retype(sa.Integer, sa.BigInteger)


def downgrade() -> None:
    """Revert this revision (fails on PostgreSQL once a time beyond 2^31 is stored, as it would)."""
    _retype(sa.BigInteger, sa.Integer)
