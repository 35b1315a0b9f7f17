"""inbound requests accepted before they are acknowledged, run from the record, done once

Each request keeps what is needed to run it (kind, payload) until its effect commits
(done_at), and when another process may run it (resume_at) if its receiver died after the
acknowledgement. Rows recorded before this version were recorded by their effect: done.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 16:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resume_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(
            batch_op.f("ix_inbound_request_resume_at"), ["resume_at"], unique=False
        )
    op.execute("UPDATE inbound_request SET done_at = received_at")
    with op.batch_alter_table("inbound_request", schema=None) as batch_op:
        # The default only filled the existing rows; the model sets the value from now on.
        batch_op.alter_column("attempts", server_default=None)


def downgrade() -> None:
    # Requests accepted but not yet run are lost: only their keys stay (as handled).
    with op.batch_alter_table("inbound_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_request_resume_at"))
        batch_op.drop_column("attempts")
        batch_op.drop_column("resume_at")
        batch_op.drop_column("done_at")
        batch_op.drop_column("payload")
        batch_op.drop_column("kind")
