"""一企一档 and 入企服务: enterprise profile fields, visit participants (issue 13 items 2, 3)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 06:00:00.000000

The enterprise file (bot/enterprises) keeps what staff know about an enterprise beyond its name and place:
industry, address, founding date, size figures (employees, tech staff, last year's revenue and R&D in yuan),
certifications (",hightech,tech_sme,", codes in bot/enterprises/profile.py), notes, and when staff last
changed it. A visit recorded in the console names everyone who went (visit_participants; visits.staff_id
stays the first of them, so older readers keep working), who entered it and the enterprise's people met.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("industry", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("registered_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("employees", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tech_staff", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("revenue", sa.Numeric(precision=16, scale=2), nullable=True))
        batch_op.add_column(sa.Column("rd_expense", sa.Numeric(precision=16, scale=2), nullable=True))
        batch_op.add_column(sa.Column("certifications", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hosts", sa.String(length=128), nullable=True))
        batch_op.create_foreign_key("fk_visits_recorded_by_staff", "staff", ["recorded_by"], ["id"])
    op.create_table(
        "visit_participants",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("visit_id", "staff_id"),
    )
    with op.batch_alter_table("visit_participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_participants_staff_id"), ["staff_id"], unique=False)
    # Visits recorded before: the one member of staff on the row went.
    op.execute(
        "INSERT INTO visit_participants (visit_id, staff_id) SELECT id, staff_id FROM visits WHERE staff_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("visit_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_participants_staff_id"))
    op.drop_table("visit_participants")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_constraint("fk_visits_recorded_by_staff", type_="foreignkey")
        batch_op.drop_column("hosts")
        batch_op.drop_column("recorded_by")
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("notes")
        batch_op.drop_column("certifications")
        batch_op.drop_column("rd_expense")
        batch_op.drop_column("revenue")
        batch_op.drop_column("tech_staff")
        batch_op.drop_column("employees")
        batch_op.drop_column("registered_on")
        batch_op.drop_column("address")
        batch_op.drop_column("industry")
