"""SLA durations as written: business days ("2bd") and hours ("4bh") kept as configured; the
review rules (how often a requester may nudge); which direct messages each person gets

A business day has no length until it is counted on the reviewing org's calendar, and a
duration is shown in the unit it was written in, so each policy keeps its texts. Policies
written before this version have none: their seconds stand, as before. Snoozes and nudges are
review events, so they need no table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("written", sa.JSON(), nullable=True))
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify", sa.String(length=10), nullable=False, server_default="all")
        )
        batch_op.add_column(
            sa.Column("notify_set_in_chat", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("person", schema=None) as batch_op:
        # The defaults only filled the existing rows; the model sets the values from now on.
        batch_op.alter_column("notify", server_default=None)
        batch_op.alter_column("notify_set_in_chat", server_default=None)
    op.create_table(
        "review_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nudge_every", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_rules")),
    )


def downgrade() -> None:
    op.drop_table("review_rules")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("notify_set_in_chat")
        batch_op.drop_column("notify")
    # The texts go; the seconds stay (a business day in them counted as 8h).
    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.drop_column("written")
