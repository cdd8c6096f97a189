"""staff work safely: read marks for unread counts, close results (issue 13 item 8)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:00:00.000000

Reserved in the chain so the features built in parallel each own one revision; filled in by the change
that needs it (a revision that stays empty is a no-op).
"""


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
