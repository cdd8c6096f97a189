"""一企一档: the latest policy-check figures of each enterprise, with when/where each came from

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 03:10:00.000000

Issue 12 item 3: the chat's 政策体检 saves the figures a verified contact gave to the enterprise and reads them
back to prefill the next check.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enterprise_figures",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
        ),
        sa.PrimaryKeyConstraint("enterprise_id"),
    )


def downgrade() -> None:
    op.drop_table("enterprise_figures")
