"""time-outs and draft versions: invites closed by the clock, submissions made at time-out,
a save counter on drafts

Revision ID: c7e19b4f2d60
Revises: a41c9e2d7b13
Create Date: 2026-12-06 21:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "c7e19b4f2d60"
down_revision = "a41c9e2d7b13"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timed_out", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("at_timeout", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade():
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("at_timeout")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("timed_out")
