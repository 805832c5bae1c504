"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from app import create_app
from app.extensions import db


def test_migrations_match_the_models(database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
        db.engine.dispose()
    assert differences == []


def test_upgrade_publishes_the_current_version_and_retires_older_ones(database_url):
    """Versions stored before statuses existed keep their meaning: the current one of each
    challenge is published, the others retired."""
    from sqlalchemy import text

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade(revision="8cba273de9a3")
        insert = text(
            "INSERT INTO challenge_versions (slug, version, content_hash, title, summary, "
            "difficulty, time_limit_minutes, payload, is_current, synced_at) VALUES "
            "(:slug, :version, :hash, 't', 's', 'easy', 5, '{}', :current, '2026-01-01')"
        )
        with db.engine.begin() as connection:
            connection.execute(insert, {"slug": "a", "version": 1, "hash": "h1", "current": False})
            connection.execute(insert, {"slug": "a", "version": 2, "hash": "h2", "current": True})
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT version, status, source FROM challenge_versions ORDER BY version")
            ).all()
        db.engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "retired", "folder"), (2, "published", "folder")]
