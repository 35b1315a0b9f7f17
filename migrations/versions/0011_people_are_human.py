"""people are human (time away, working hours): time away and who covers, each person's own
time zone and working hours, urgent SLA policies, and held direct pings

A direct ping outside its recipient's working hours is written with `delivery.not_before` and
sent when their hours start; a review routed past someone who is away remembers whom it
covers for (`review.covering_for_id`, `covering_until`) so its card can say so.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 19:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "away",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        _instant("starts_at", nullable=False),
        _instant("ends_at", nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        _instant("created_at", nullable=False),
        _instant("cancelled_at"),
        _instant("handed_at"),
        _instant("returned_at"),
        sa.Column("routed", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_away_person_id_person"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["backup_id"], ["person.id"], name=op.f("fk_away_backup_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_away")),
    )
    with op.batch_alter_table("away", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_away_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hours", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("hours_set_in_chat", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("covering_for_id", sa.Integer(), nullable=True))
        batch_op.add_column(_instant("covering_until"))
        batch_op.create_foreign_key(
            batch_op.f("fk_review_covering_for_id_person"), "person", ["covering_for_id"], ["id"]
        )

    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(_instant("not_before"))


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("not_before")

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_review_covering_for_id_person"), type_="foreignkey")
        batch_op.drop_column("covering_until")
        batch_op.drop_column("covering_for_id")

    with op.batch_alter_table("sla_policy", schema=None) as batch_op:
        batch_op.drop_column("urgent")

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("hours_set_in_chat")
        batch_op.drop_column("hours")
        batch_op.drop_column("timezone")

    with op.batch_alter_table("away", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_away_person_id"))
    op.drop_table("away")
