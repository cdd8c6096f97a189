"""chat identities verified as contacts of their enterprise; one-time codes; what an unverified user stated

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 03:00:00.000000

Issue 16: typing a company name no longer gives access to the enterprise's tickets. A contact is
verified by staff or by a one-time code sent to a mobile on file (contacts.verified_at / verified_by,
verification_codes); an unverified user's enterprise details are kept on the ticket (tickets.stated)
instead of changing the enterprise's record. Existing contacts start unverified.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("mobile", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_codes_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_verification_codes_mobile"), ["mobile"], unique=False)
        batch_op.create_index(batch_op.f("ix_verification_codes_sender_id"), ["sender_id"], unique=False)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verified_by", sa.String(length=128), nullable=True))
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stated", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("stated")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("verified_by")
        batch_op.drop_column("verified_at")
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_codes_sender_id"))
        batch_op.drop_index(batch_op.f("ix_verification_codes_mobile"))
        batch_op.drop_index(batch_op.f("ix_verification_codes_created_at"))
    op.drop_table("verification_codes")
