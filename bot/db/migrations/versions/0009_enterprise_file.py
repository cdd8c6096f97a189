"""一企一档 and 入企服务: enterprise profile fields, visit participants and needs (issue 13 items 2, 3)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 06:00:00.000000

Reserved in the chain so the features built in parallel each own one revision; filled in by the change
that needs it (a revision that stays empty is a no-op).
"""


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
