"""replay events: the candidate's editor session, append-only, per attempt and challenge

Revision ID: e3a8d52f9b41
Revises: c7e19b4f2d60
Create Date: 2026-12-06 21:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "e3a8d52f9b41"
down_revision = "c7e19b4f2d60"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "replay_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("challenge_version_id", sa.Integer(), nullable=False),
        sa.Column("session", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("t", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file", sa.String(length=255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_version_id"],
            ["challenge_versions.id"],
            name=op.f("fk_replay_events_challenge_version_id_challenge_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name=op.f("fk_replay_events_invite_id_invites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_events")),
        sa.UniqueConstraint(
            "invite_id",
            "challenge_version_id",
            "session",
            "seq",
            name=op.f("uq_replay_events_invite_id"),
        ),
    )
    with op.batch_alter_table("replay_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_replay_events_attempt", ["invite_id", "challenge_version_id", "id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("replay_events", schema=None) as batch_op:
        batch_op.drop_index("ix_replay_events_attempt")
    op.drop_table("replay_events")
