"""ownership that stays true: an agreed plan kept while a new one is proposed, area categories,
DRI verification, retired areas, people who left the configuration, the end of a shadow period

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 19:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = ("owned", "proposed", "planned-near", "planned-long", "in-transition", "handed-off")


def upgrade() -> None:
    with op.batch_alter_table("area", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "previous_state",
                sa.Enum(*_STATES, name="handoffstate", native_enum=False, length=20),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("previous_to_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("previous_quarter", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("category", sa.String(length=80), nullable=True))
        for name in ("verified_at", "verify_asked_at", "retired_at", "shadow_until"):
            batch_op.add_column(
                sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=True)
            )
        batch_op.create_foreign_key(
            batch_op.f("fk_area_previous_to_id_org"), "org", ["previous_to_id"], ["id"]
        )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("left_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("handoff_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verify_every_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    # The older schema cannot hide a retired area: it comes back onto the map, history and all
    # (nothing is deleted), with its retirement still in that history.
    with op.batch_alter_table("handoff_rules", schema=None) as batch_op:
        batch_op.drop_column("verify_every_seconds")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("left_at")
    with op.batch_alter_table("area", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_area_previous_to_id_org"), type_="foreignkey")
        for name in (
            "shadow_until",
            "retired_at",
            "verify_asked_at",
            "verified_at",
            "category",
            "previous_quarter",
            "previous_to_id",
            "previous_state",
        ):
            batch_op.drop_column(name)
