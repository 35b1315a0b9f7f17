"""github pulls and rules: a review follows a pull request; [[github.rules]] say which

`github_rule` is the configuration's rules, copied in at start like the policies, so every
replica and the /github rules command read one list. `github_pull` links a review to its pull
request and keeps what reconciliation needs: the review ids already applied and the ETags of
the last reads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 16:15:10.134961
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "github_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("team", sa.String(length=200), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["org.id"], name=op.f("fk_github_rule_org_id_org")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_github_rule_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["sla_policy.id"], name=op.f("fk_github_rule_policy_id_sla_policy")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_rule")),
        sa.UniqueConstraint("position", name=op.f("uq_github_rule_position")),
    )
    op.create_table(
        "github_pull",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("html_url", sa.String(length=500), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=True),
        sa.Column("head_sha", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("seen_reviews", sa.JSON(), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("reviews_etag", sa.String(length=200), nullable=True),
        sa.Column("checked_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review.id"],
            name=op.f("fk_github_pull_review_id_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_pull")),
        sa.UniqueConstraint("repository", "number", name=op.f("uq_github_pull_repository_number")),
        sa.UniqueConstraint("review_id", name=op.f("uq_github_pull_review_id")),
    )


def downgrade() -> None:
    op.drop_table("github_pull")
    op.drop_table("github_rule")
