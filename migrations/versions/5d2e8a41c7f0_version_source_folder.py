"""version source 'library' is now 'folder'

A version synced from a folder under challenges/ was recorded with the source "library", a
word that also names the whole set of versions in the database. It is now "folder".

Revision ID: 5d2e8a41c7f0
Revises: 036544f53759
Create Date: 2026-12-06 07:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "5d2e8a41c7f0"
down_revision = "036544f53759"
branch_labels = None
depends_on = None


def _rename_source(old: str, new: str) -> None:
    op.execute(
        sa.text("UPDATE challenge_versions SET source = :new WHERE source = :old").bindparams(
            old=old, new=new
        )
    )
    with op.batch_alter_table("challenge_versions", schema=None) as batch_op:
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            server_default=new,
        )


def upgrade():
    _rename_source("library", "folder")


def downgrade():
    _rename_source("folder", "library")
