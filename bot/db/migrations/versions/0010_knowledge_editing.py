"""knowledge editing with review: drafts, versions, approvals (issue 13 item 4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 06:00:00.000000

Reserved in the chain so the features built in parallel each own one revision; filled in by the change
that needs it (a revision that stays empty is a no-op).
"""


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
