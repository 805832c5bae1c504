from __future__ import annotations

import pytest

from app import create_app

from ..conftest import FIXTURE_CHALLENGES


@pytest.fixture
def fixture_app():
    return create_app({"TESTING": True, "CHALLENGES_DIR": FIXTURE_CHALLENGES})


@pytest.fixture
def cli(fixture_app):
    runner = fixture_app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args))

    return invoke


@pytest.fixture
def web_app(tmp_path):
    """A full app on a fresh SQLite database, the real Redis (database 15), its own queue."""
    import uuid

    from app.extensions import db
    from app.services.library import sync_library

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
            "REDIS_URL": "redis://127.0.0.1:6379/15",
            "GRADING_QUEUE": f"test-grading-{uuid.uuid4().hex[:8]}",
            "CHALLENGES_DIR": FIXTURE_CHALLENGES,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
        sync_library(app.config["CHALLENGES_DIR"])
        yield app
        db.session.remove()
        db.drop_all()


@pytest.fixture
def client(web_app):
    return web_app.test_client()


@pytest.fixture
def invite(web_app):
    from app.services.demo import ensure_demo

    return ensure_demo()


@pytest.fixture
def run_worker(web_app):
    """Drain the grading queue with a real RQ worker in this process (burst mode)."""
    from rq import SimpleWorker

    from app.queue import grading_queue, redis_connection

    def drain() -> None:
        connection = redis_connection()
        SimpleWorker([grading_queue(connection)], connection=connection).work(burst=True)

    return drain
