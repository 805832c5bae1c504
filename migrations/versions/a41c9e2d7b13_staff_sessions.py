"""staff sessions: a row per login, deleted at logout

Revision ID: a41c9e2d7b13
Revises: 5d2e8a41c7f0
Create Date: 2026-12-06 14:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "a41c9e2d7b13"
down_revision = "5d2e8a41c7f0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))
    op.drop_table("staff_sessions")
