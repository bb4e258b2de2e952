"""ingest epochs: the dedupe ledger keys on (node, epoch, seq) and keeps a digest; nodes record their epoch

Rows of the old ledger (keyed on node and seq) belong to the legacy epoch
"0", which agents from before epochs keep sending; they have no digest.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
_OLD = "ingest_stored_batches_0002"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.String(length=32), nullable=True))
    op.rename_table("ingest_stored_batches", _OLD)
    op.create_table(
        "ingest_stored_batches",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.BigInteger(), nullable=True),
        sa.Column("stored_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node", "epoch", "seq"),
    )
    op.execute(
        f"INSERT INTO ingest_stored_batches (node, epoch, seq, digest, stored_ms)"  # noqa: S608 - constant names
        f" SELECT node, '0', seq, NULL, stored_ms FROM {_OLD}"
    )
    op.drop_table(_OLD)


def downgrade() -> None:
    """Undo this revision (batches of other epochs than the legacy one are forgotten)."""
    op.rename_table("ingest_stored_batches", _OLD)
    op.create_table(
        "ingest_stored_batches",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("stored_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node", "seq"),
    )
    op.execute(
        f"INSERT INTO ingest_stored_batches (node, seq, stored_ms) SELECT node, seq, stored_ms FROM {_OLD}"  # noqa: S608 - constant names
        " WHERE epoch = '0'"
    )
    op.drop_table(_OLD)
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("epoch")
