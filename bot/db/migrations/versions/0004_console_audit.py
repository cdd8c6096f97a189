"""console audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("handover_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["handover_id"],
            ["handovers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("console_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_audit_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_audit_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_audit_conversation_id"), ["conversation_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("console_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_audit_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_console_audit_at"))
        batch_op.drop_index(batch_op.f("ix_console_audit_actor"))

    op.drop_table("console_audit")
