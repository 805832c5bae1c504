"""The database connection as the web server, the worker and its reconciler share it."""

from __future__ import annotations

import time

from app import create_app
from app.extensions import db


def test_a_writer_commits_at_once_while_another_process_holds_a_read_open(database_url):
    """On SQLite's default rollback journal, the reader's shared lock would keep the writer from
    committing until the busy timeout ran out ("database is locked")."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        engine = db.engine
        with engine.begin() as setup:
            setup.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
            setup.exec_driver_sql("INSERT INTO probe VALUES (1)")
        with engine.connect() as reader:
            reader.exec_driver_sql("BEGIN")
            assert reader.exec_driver_sql("SELECT count(*) FROM probe").scalar() == 1
            began = time.monotonic()
            with engine.begin() as writer:
                writer.exec_driver_sql("INSERT INTO probe VALUES (2)")
            waited = time.monotonic() - began
            reader.exec_driver_sql("ROLLBACK")
        with engine.connect() as after:
            assert after.exec_driver_sql("SELECT count(*) FROM probe").scalar() == 2
            after.exec_driver_sql("DROP TABLE probe")
            after.commit()
        engine.dispose()
    assert waited < 5, f"the writer waited {waited:.1f} s for the reader"
