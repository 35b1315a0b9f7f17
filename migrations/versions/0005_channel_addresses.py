"""channel addresses: a channel's id on each platform is a row, not a column per platform

Every non-empty slack_id / discord_id becomes a channel_address row, so a new platform needs
no schema change. Downgrading copies the Slack and Discord rows back into their columns; rows of
any other platform have nowhere to go and are lost.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:12:40.118204
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The platforms that had a column, by the name their rows carry.
_COLUMNS = {"slack": "slack_id", "discord": "discord_id"}


def upgrade() -> None:
    op.create_table(
        "channel_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_channel_address_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_address")),
        sa.UniqueConstraint(
            "channel_id", "platform", name=op.f("uq_channel_address_channel_id_platform")
        ),
    )
    for platform, column in _COLUMNS.items():
        # An empty id meant "not on this platform" (the Discord adapter read it so): no row.
        op.execute(
            sa.text(
                "INSERT INTO channel_address (channel_id, platform, address) "
                f"SELECT id, :platform, {column} FROM channel "
                f"WHERE {column} IS NOT NULL AND {column} <> ''"
            ).bindparams(platform=platform)
        )

    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.drop_column("discord_id")
        batch_op.drop_column("slack_id")


def downgrade() -> None:
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_id", sa.VARCHAR(length=64), nullable=True))
        batch_op.add_column(sa.Column("discord_id", sa.VARCHAR(length=64), nullable=True))

    for platform, column in _COLUMNS.items():
        op.execute(
            sa.text(
                f"UPDATE channel SET {column} = (SELECT a.address FROM channel_address a "
                "WHERE a.channel_id = channel.id AND a.platform = :platform)"
            ).bindparams(platform=platform)
        )

    op.drop_table("channel_address")
