"""knowledge editing with review: drafts, versions, approvals (issue 13 item 4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 06:00:00.000000

Knowledge entries are edited in the console as drafts (kb_drafts), approved by a second person
(kb_reviews) and published to knowledge/entries/<id>.yml; every published text is kept (kb_versions).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=False),
        sa.Column("is_new", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("base_sha", sa.String(length=64), nullable=False),
        sa.Column("base_content", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("editors", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kb_drafts_entry_id", "kb_drafts", ["entry_id"])
    op.create_index("ix_kb_drafts_status", "kb_drafts", ["status"])
    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["kb_drafts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "version", name="uq_kb_versions_entry_version"),
    )
    op.create_index("ix_kb_versions_entry_id", "kb_versions", ["entry_id"])
    op.create_table(
        "kb_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["kb_drafts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kb_reviews_draft_id", "kb_reviews", ["draft_id"])


def downgrade() -> None:
    op.drop_index("ix_kb_reviews_draft_id", table_name="kb_reviews")
    op.drop_table("kb_reviews")
    op.drop_index("ix_kb_versions_entry_id", table_name="kb_versions")
    op.drop_table("kb_versions")
    op.drop_index("ix_kb_drafts_status", table_name="kb_drafts")
    op.drop_index("ix_kb_drafts_entry_id", table_name="kb_drafts")
    op.drop_table("kb_drafts")
