"""政策体检 proactive push: subscriptions, 退订, push records (issue 12 item 4)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 06:00:00.000000

When an application window opens or a new policy takes effect, enterprises that qualify get one reminder on
their chat channel (bot/policy/push.py): policy_pushes records every push (unique per enterprise and trigger),
policy_push_throttle holds each enterprise's last push (at most one a week), policy_push_optouts the chat
identities that replied 退订.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_name", sa.String(length=128), nullable=False),
        sa.Column("trigger_key", sa.String(length=96), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_by", sa.String(length=128), nullable=False),
        sa.Column("job_period", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enterprise_id", "trigger_key", name="uq_policy_pushes_enterprise_trigger"),
    )
    with op.batch_alter_table("policy_pushes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_pushes_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_pushes_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_pushes_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_pushes_node_id"), ["node_id"], unique=False)
    op.create_table(
        "policy_push_throttle",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("last_push_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
        ),
        sa.PrimaryKeyConstraint("enterprise_id"),
    )
    op.create_table(
        "policy_push_optouts",
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender_id"),
    )


def downgrade() -> None:
    op.drop_table("policy_push_optouts")
    op.drop_table("policy_push_throttle")
    with op.batch_alter_table("policy_pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_pushes_node_id"))
        batch_op.drop_index(batch_op.f("ix_policy_pushes_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_policy_pushes_created_at"))
        batch_op.drop_index(batch_op.f("ix_policy_pushes_conversation_id"))
    op.drop_table("policy_pushes")
