"""alert partition fences

``alert_fences`` holds, per partition of the province tier, the fencing
token of the worker that holds it: alert state and transitions of a
partition's nodes are written only under the current token
(hub/alerts/fences.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (a table a test's ``create_all`` made already is left as it is)."""
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
