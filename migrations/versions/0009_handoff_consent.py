"""hand-off consent and checklists: who proposed a hand-off, what it becomes once accepted, the
receiving DRI; the checklist templates (from the config) and each hand-off's checklist

A hand-off proposed by a lead of one org is planned only once a lead of the other org accepts,
and completes only once the receiving DRI has said "I own this now". The new state value
`proposed` needs no schema change (states are stored as plain strings).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = ("owned", "proposed", "planned-near", "planned-long", "in-transition", "handed-off")


def upgrade() -> None:
    op.create_table(
        "checklist_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checklist_template")),
    )
    op.create_table(
        "handoff_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stall_after_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_rules")),
    )
    op.create_table(
        "handoff_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_handoff_check_area_id_area"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["done_by_id"], ["person.id"], name=op.f("fk_handoff_check_done_by_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_check")),
        sa.UniqueConstraint("area_id", "position", name=op.f("uq_handoff_check_area_id_position")),
    )
    with op.batch_alter_table("area", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposed_by_org_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "proposed_state",
                sa.Enum(*_STATES, name="handoffstate", native_enum=False, length=20),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("receiving_dri_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "receiver_accepted_at", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_area_proposed_by_org_id_org"), "org", ["proposed_by_org_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_area_receiving_dri_id_person"), "person", ["receiving_dri_id"], ["id"]
        )


def downgrade() -> None:
    op.drop_table("handoff_check")
    op.drop_table("checklist_template")
    op.drop_table("handoff_rules")
    # A proposal nobody accepted yet is no hand-off at all in the older schema.
    op.execute(
        "UPDATE area SET state = 'owned', handoff_from_id = NULL, handoff_to_id = NULL, "
        "target_quarter = NULL WHERE state = 'proposed'"
    )
    with op.batch_alter_table("area", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_area_receiving_dri_id_person"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_area_proposed_by_org_id_org"), type_="foreignkey")
        batch_op.drop_column("receiver_accepted_at")
        batch_op.drop_column("receiving_dri_id")
        batch_op.drop_column("proposed_state")
        batch_op.drop_column("proposed_by_org_id")
