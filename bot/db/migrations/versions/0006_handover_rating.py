"""the staff-service rating on the handover; tickets keep the conversation's channel

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 03:00:00.000000

A rating of the staff service was only written on the linked ticket's trail (lost when the
conversation had no ticket) and counted nowhere; it is now kept on the handover itself.
Tickets opened through the desk were stored with Rasa's input channel ("rest", shown as 接口);
they get the channel of their conversation (web / wechat_mp / wecom).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_handovers_rated_at"), ["rated_at"], unique=False)
    op.execute(
        "UPDATE tickets SET source_channel = (SELECT c.channel FROM conversations c WHERE c.id = tickets.conversation_id) "
        "WHERE source_channel = 'rest' AND EXISTS "
        "(SELECT 1 FROM conversations c WHERE c.id = tickets.conversation_id AND c.channel <> 'rest')"
    )


def downgrade() -> None:
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handovers_rated_at"))
        batch_op.drop_column("rated_at")
        batch_op.drop_column("rating")
