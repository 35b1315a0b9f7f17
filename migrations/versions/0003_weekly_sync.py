"""weekly sync: meeting series and meetings, agenda, decisions, actions, roadmaps, job runs

The sync tables of 0001 were placeholders that no code wrote, so they are empty: their new
NOT NULL columns need no value for existing rows (counters get a server default anyway).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:50:21.576155
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("job_id", sa.String(length=80), nullable=False),
        sa.Column("last_occurrence", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_run")),
    )
    op.create_table(
        "meeting_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("agenda_post_before_seconds", sa.Integer(), nullable=False),
        sa.Column("set_in_chat", sa.Boolean(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["person.id"], name=op.f("fk_meeting_series_updated_by_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_series")),
    )
    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("done_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("next_chase_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_chased_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("chases", sa.Integer(), nullable=False, server_default="0"))
        batch_op.alter_column("due", existing_type=sa.DATE(), nullable=False)
        batch_op.create_index(batch_op.f("ix_action_item_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_action_item_next_chase_at"), ["next_chase_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_action_item_owner_id"), ["owner_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_action_item_done_by_id_person"), "person", ["done_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_action_item_created_by_id_person"), "person", ["created_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_action_item_meeting_id_meeting"), "meeting", ["meeting_id"], ["id"]
        )

    with op.batch_alter_table("agenda_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("carried", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("deferred", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("added_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("closed_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("meeting_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.create_index(
            "ix_agenda_item_meeting_position", ["meeting_id", "position"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_agenda_item_added_by_id_person"), "person", ["added_by_id"], ["id"]
        )
        batch_op.drop_column("meeting_date")

    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_decision_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_decision_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_decision_meeting_id_meeting"), "meeting", ["meeting_id"], ["id"]
        )
        batch_op.drop_column("meeting_date")

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column("date", sa.Date(), nullable=False))
        batch_op.add_column(
            sa.Column("starts_at", storage.types.UTCDateTime(timezone=True), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "state",
                sa.Enum(
                    "scheduled",
                    "started",
                    "ended",
                    "skipped",
                    name="meetingstate",
                    native_enum=False,
                    length=20,
                ),
                nullable=False,
                server_default="scheduled",
            )
        )
        batch_op.add_column(
            sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("started_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("ended_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_meeting_starts_at"), ["starts_at"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_meeting_series_id_date"), ["series_id", "date"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_series_id_meeting_series"),
            "meeting_series",
            ["series_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_ended_by_id_person"), "person", ["ended_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_started_by_id_person"), "person", ["started_by_id"], ["id"]
        )
        batch_op.drop_column("time")
        batch_op.drop_column("weekday")
        batch_op.drop_column("channel")
        batch_op.drop_column("timezone")

    with op.batch_alter_table("roadmap_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roadmap_event_at"), ["at"], unique=False)
        batch_op.create_index("ix_roadmap_event_item_at", ["item_id", "at"], unique=False)

    with op.batch_alter_table("roadmap_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_roadmap_item_org_quarter", ["org_id", "quarter"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_roadmap_item_created_by_id_person"), "person", ["created_by_id"], ["id"]
        )


def downgrade() -> None:
    # The 0001 placeholders cannot hold meetings, agenda items, decisions or actions: they go.
    for table in ("agenda_item", "decision", "action_item", "meeting"):
        op.execute(sa.text(f"DELETE FROM {table}"))
    with op.batch_alter_table("roadmap_item", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_roadmap_item_created_by_id_person"), type_="foreignkey"
        )
        batch_op.drop_index("ix_roadmap_item_org_quarter")
        batch_op.drop_column("created_by_id")

    with op.batch_alter_table("roadmap_event", schema=None) as batch_op:
        batch_op.drop_index("ix_roadmap_event_item_at")
        batch_op.drop_index(batch_op.f("ix_roadmap_event_at"))

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.VARCHAR(length=64), nullable=False))
        batch_op.add_column(sa.Column("channel", sa.VARCHAR(length=80), nullable=False))
        batch_op.add_column(sa.Column("weekday", sa.INTEGER(), nullable=False))
        batch_op.add_column(sa.Column("time", sa.VARCHAR(length=5), nullable=False))
        batch_op.drop_constraint(batch_op.f("fk_meeting_started_by_id_person"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_meeting_ended_by_id_person"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_meeting_series_id_meeting_series"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_meeting_series_id_date"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_meeting_starts_at"))
        batch_op.drop_column("ended_by_id")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("started_by_id")
        batch_op.drop_column("started_at")
        batch_op.drop_column("state")
        batch_op.drop_column("starts_at")
        batch_op.drop_column("date")
        batch_op.drop_column("series_id")

    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meeting_date", sa.DATE(), nullable=True))
        batch_op.drop_constraint(batch_op.f("fk_decision_meeting_id_meeting"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_decision_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_decision_created_at"))
        batch_op.drop_column("meeting_id")

    with op.batch_alter_table("agenda_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meeting_date", sa.DATE(), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("fk_agenda_item_added_by_id_person"), type_="foreignkey"
        )
        batch_op.drop_index("ix_agenda_item_meeting_position")
        batch_op.alter_column("meeting_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.drop_column("closed_at")
        batch_op.drop_column("added_by_id")
        batch_op.drop_column("deferred")
        batch_op.drop_column("carried")
        batch_op.drop_column("minutes")

    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_action_item_meeting_id_meeting"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_action_item_created_by_id_person"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_action_item_done_by_id_person"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_action_item_owner_id"))
        batch_op.drop_index(batch_op.f("ix_action_item_next_chase_at"))
        batch_op.drop_index(batch_op.f("ix_action_item_meeting_id"))
        batch_op.alter_column("due", existing_type=sa.DATE(), nullable=True)
        batch_op.drop_column("chases")
        batch_op.drop_column("last_chased_at")
        batch_op.drop_column("next_chase_at")
        batch_op.drop_column("done_by_id")
        batch_op.drop_column("done_at")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("meeting_id")

    op.drop_table("meeting_series")
    op.drop_table("job_run")
