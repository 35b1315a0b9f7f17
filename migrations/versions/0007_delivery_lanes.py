"""delivery lanes: deliveries carry their destination, whether their outcome is unknown, and
each destination's pace lives in the database where every replica sees it

Existing deliveries get their lane from their outbox row (a channel, or a person).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_lane",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("lane", sa.String(length=120), nullable=False),
        sa.Column("paced_until", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_lane")),
        sa.UniqueConstraint("platform", "lane", name=op.f("uq_delivery_lane_platform_lane")),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column("unsure", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        sa.text(
            "UPDATE delivery SET lane = (SELECT CASE WHEN outbox.channel IS NOT NULL "
            "THEN 'channel:' || outbox.channel "
            "ELSE 'person:' || CAST(outbox.person_id AS VARCHAR(20)) END "
            "FROM outbox WHERE outbox.id = delivery.outbox_id)"
        )
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("lane", existing_type=sa.String(length=120), nullable=False)
        batch_op.alter_column("unsure", server_default=None)
        batch_op.create_index("ix_delivery_lane", ["platform", "status", "lane"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_lane")
        batch_op.drop_column("unsure")
        batch_op.drop_column("lane")
    op.drop_table("delivery_lane")
