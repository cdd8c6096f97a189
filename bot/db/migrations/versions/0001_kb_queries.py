"""Knowledge-base question log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_queries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("category", sa.String(64)),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("faq_id", sa.String(128)),
        sa.Column("entry_id", sa.String(128)),
        sa.Column("score", sa.Float),
        sa.Column("helpful", sa.Boolean),
        sa.Column("feedback_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_kb_queries_asked_at", "kb_queries", ["asked_at"])
    op.create_index("ix_kb_queries_conversation_id", "kb_queries", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("kb_queries")
