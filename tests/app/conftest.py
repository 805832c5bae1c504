from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from flask import g, request_started

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


POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """Each app test runs on SQLite (the default) and on PostgreSQL (production)."""
    return request.param


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A database of its own on the local PostgreSQL (a copy of ``template`` if given), dropped
    afterwards; yields its URL."""
    from sqlalchemy import create_engine, text

    name = f"faultline_test_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(backend, tmp_path) -> Iterator[str]:
    """An empty database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with _postgres_database() as url:
        yield url


class LibraryTemplates:
    """Per backend, a database with the schema and the fixture library, made once per test
    run when first wanted: each app test starts from a copy of it rather than creating the
    tables and syncing the library itself."""

    def __init__(self, folder: Path, stack: ExitStack) -> None:
        self.folder, self.stack = folder, stack
        self.made: dict[str, str] = {}

    def get(self, backend: str) -> str:
        if backend not in self.made:
            if backend == "sqlite":
                path = self.folder / "library.db"
                self._fill(f"sqlite:///{path}")
                self.made[backend] = str(path)
            else:
                url = self.stack.enter_context(_postgres_database())
                self._fill(url)
                self.made[backend] = url.rsplit("/", 1)[1]
        return self.made[backend]

    @staticmethod
    def _fill(url: str) -> None:
        from app.extensions import db
        from app.services.library import sync_library

        app = create_app(
            {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "CHALLENGES_DIR": FIXTURE_CHALLENGES}
        )
        with app.app_context():
            db.create_all()
            sync_library(FIXTURE_CHALLENGES)
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()  # a template must have no connection open when it is copied


@pytest.fixture(scope="session")
def library_templates(tmp_path_factory) -> Iterator[LibraryTemplates]:
    with ExitStack() as stack:
        yield LibraryTemplates(tmp_path_factory.mktemp("library-template"), stack)


@pytest.fixture
def library_database_url(backend, tmp_path, library_templates) -> Iterator[str]:
    """A database holding the schema and the fixture library."""
    template = library_templates.get(backend)
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    with _postgres_database(template) as url:
        yield url


@pytest.fixture
def web_app(library_database_url):
    """A full app on a fresh database holding the fixture library, the real Redis (database
    15), its own queue."""
    from app.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": library_database_url,
            "REDIS_URL": "redis://127.0.0.1:6379/15",
            "GRADING_QUEUE": f"test-grading-{uuid.uuid4().hex[:8]}",
            "CHALLENGES_DIR": FIXTURE_CHALLENGES,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    request_started.connect(_fresh_g, app)
    with app.app_context():
        yield app
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _fresh_g(sender, **extra) -> None:
    """The fixture keeps one app context open so tests can use the database directly; requests
    then share its ``g``. Production gives every request a fresh one: so do we, or the user
    Flask-Login caches in ``g`` would follow one client's requests into another's."""
    for name in list(vars(g)):
        delattr(g, name)


@pytest.fixture
def client(web_app):
    return web_app.test_client()


@pytest.fixture
def invite(web_app):
    from app.services.demo import ensure_demo

    return ensure_demo()


@pytest.fixture
def run_worker(web_app):
    """Drain the grading queue, then the background queue, with a real RQ worker in this
    process (burst mode), in the order the Procfile's worker serves them."""
    from rq import SimpleWorker

    from app.queue import background_queue, candidate_queues, redis_connection

    def drain() -> None:
        connection = redis_connection()
        queues = [*candidate_queues(connection), background_queue(connection)]
        SimpleWorker(queues, connection=connection).work(burst=True)

    return drain


STAFF_PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(web_app):
    """An admin and two interviewers (one owns nothing), all with STAFF_PASSWORD."""
    from types import SimpleNamespace

    from app.services.users import create_user

    return SimpleNamespace(
        admin=create_user("admin@example.com", "Ada Admin", "admin", STAFF_PASSWORD),
        interviewer=create_user(
            "ivy@example.com", "Ivy Interviewer", "interviewer", STAFF_PASSWORD
        ),
        other_interviewer=create_user(
            "oscar@example.com", "Oscar Other", "interviewer", STAFF_PASSWORD
        ),
    )


def log_in(client, user) -> None:
    """Log ``user`` in through the real login form."""
    response = client.post("/login", data={"email": user.email, "password": STAFF_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def owned_invite(web_app, staff):
    """The demo assessment (the fixture challenge) owned by ``staff.interviewer``, with one
    invite."""
    from app.extensions import db
    from app.services.demo import ensure_demo

    invite = ensure_demo()
    invite.assessment.owner_id = staff.interviewer.id
    db.session.commit()
    return invite


def remove_sandboxes_of(label: str) -> None:
    """Sandbox containers of ``label`` a test left behind on purpose (a killed worker's, a
    restarted engine's): the reconciler prunes leftovers only when they are old."""
    import docker

    client = docker.from_env(version="auto")
    for container in client.containers.list(
        all=True, filters={"label": ["faultline.sandbox", f"faultline.label={label}"]}
    ):
        container.remove(force=True, v=True)
