"""dial-in stations and the reports they sent

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (tables a test's ``create_all`` made already are left as they are)."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "stations" not in existing:
        _stations()
    if "station_reports" not in existing:
        _reports()


def _stations() -> None:
    op.create_table(
        "stations",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id"),
        sa.UniqueConstraint("protocol", "address", name="uq_stations_protocol_address"),
    )


def _reports() -> None:
    op.create_table(
        "station_reports",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("report_key", sa.String(length=128), nullable=False),
        sa.Column("stored_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node", "report_key"),
    )
    op.create_index("ix_station_reports_stored_ms", "station_reports", ["stored_ms"], unique=False)


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index("ix_station_reports_stored_ms", table_name="station_reports")
    op.drop_table("station_reports")
    op.drop_table("stations")
