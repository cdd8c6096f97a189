"""staff work safely: the result of a closed ticket, read marks for unread counts (issue 13 item 8)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:00:00.000000

tickets.result keeps the 办理结果 staff wrote when closing (办结) a ticket — it is sent to the enterprise with the
rating request and shown on the ticket. console_reads holds, per member of staff and conversation, the last
message id they have seen in the console, so the queue and the browser tab can show unread counts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result", sa.Text(), nullable=True))
    op.create_table(
        "console_reads",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.PrimaryKeyConstraint("staff_id", "conversation_id"),
    )


def downgrade() -> None:
    op.drop_table("console_reads")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("result")
