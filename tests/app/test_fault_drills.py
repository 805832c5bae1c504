"""Fault drills: the platform's own parts fail while a candidate's work is in flight.

Each drill runs real processes (a PostgreSQL and a Redis of its own, the machine's Docker engine,
real `rq worker` processes as the Procfile starts them) and ends with every submission graded or
clearly failed: none lost, none graded twice, none charged to the candidate for the platform's
fault. The disk-full drill is in tests/grader/test_sandbox_faults.py: it is the sandbox's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from rq.job import Job

from app import create_app
from app.config import REPO_ROOT
from app.extensions import db
from app.models import Invite, Submission
from app.queue import job_id_for, redis_connection

from ..conftest import FIXTURE_CHALLENGES, spawn_worker, stop_worker
from .conftest import remove_sandboxes_of

pytestmark = pytest.mark.docker

SOLUTION = "def total(items):\n    return sum(items)\n"
# Each of the fixture's hidden checks calls total() once: the grade takes a few seconds, long
# enough to fail something under it.
SLOW_SOLUTION = "import time\n\n\ndef total(items):\n    time.sleep(3)\n    return sum(items)\n"
SLOWER_SOLUTION = SLOW_SOLUTION.replace("sleep(3)", "sleep(6)")
PG_BIN = next(Path("/usr/lib/postgresql").glob("*/bin"), Path("/usr/lib/postgresql/bin"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


class PrivatePostgres:
    """A PostgreSQL server of the drill's own, which it can stop and start at will."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faultline-drill-pg-"))
        self.port = _free_port()
        self.data = self.root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        else:
            self._as = []
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(PG_BIN / program), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A Redis server of the drill's own that keeps nothing on disk, like the machine's."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for(self._answers, 20, "the drill's Redis to answer")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _drill_app(database_url: str, redis_url: str):
    from app.services.library import sync_library

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "GRADING_QUEUE": f"drill-{uuid.uuid4().hex[:8]}",
            "CHALLENGES_DIR": FIXTURE_CHALLENGES,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
        sync_library(app.config["CHALLENGES_DIR"])
    return app


def _submit(client, invite: Invite, source: str, mode: str = "submit") -> int:
    client.post(f"/api/v1/invites/{invite.token}/start")
    response = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": source}, "mode": mode},
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def _worker(app, **env: str) -> subprocess.Popen:
    return spawn_worker(
        database_url=app.config["SQLALCHEMY_DATABASE_URI"],
        redis_url=app.config["REDIS_URL"],
        queues=[app.config["GRADING_QUEUE"]],
        challenges_dir=app.config["CHALLENGES_DIR"],
        scheduler=True,  # RQ's retries wait in its scheduler, as in the Procfile
        extra_env={"FAULTLINE_JOB_HEARTBEAT_SECONDS": "1", **env},
    )


def _status(submission_id: int) -> str:
    db.session.rollback()  # a fresh read, whatever the last one saw
    submission = db.session.get(Submission, submission_id)
    return submission.status if submission is not None else "gone"


def _finished(submission_id: int) -> bool:
    return _status(submission_id) not in ("queued", "running")


def test_postgres_restarted_mid_grade_ends_graded_once(private_postgres, docker_sandbox):
    """The database goes away while the sandbox runs, so the report cannot be stored; the job
    fails, RQ retries it once the database is back, and the submission ends graded."""
    app = _drill_app(private_postgres.url, "redis://127.0.0.1:6379/15")
    with app.app_context():
        from app.services.demo import ensure_demo

        submission_id = _submit(app.test_client(), ensure_demo(), SLOW_SOLUTION)
        worker = _worker(app)
        try:
            _wait_for(lambda: _status(submission_id) == "running", 60, "the grade to start")
            job = Job.fetch(
                job_id_for(db.session.get(Submission, submission_id)),
                connection=redis_connection(),
            )
            db.session.close()
            db.engine.dispose()  # the test's own connections go with the server
            private_postgres.stop()
            _wait_for(lambda: job.get_status(refresh=True) in ("scheduled", "failed"), 90,
                      "the grade to end while the database was down")  # fmt: skip
            private_postgres.start()
            _wait_for(lambda: _finished(submission_id), 120, "the retried grade to finish")
        finally:
            stop_worker(worker)
        submission = db.session.get(Submission, submission_id)
        assert submission.status == "graded" and submission.score == 4, submission.report
        assert submission.attempts == 2  # the first grade's report was lost with the database
        assert submission.report["status"] == "graded"
        db.session.remove()
        db.engine.dispose()


def test_redis_restarted_mid_grade_with_jobs_queued_loses_none_and_grades_none_twice(
    private_redis, tmp_path, docker_sandbox
):
    """Redis keeps nothing on disk: a restart empties the queue while both workers grade. The
    grades in hand finish; the database still knows two submissions wait, and the workers'
    reconciler queues them again. The running ones lost their jobs and heartbeats too, but are
    not queued again while a worker may still be grading them: none is graded twice."""
    app = _drill_app(f"sqlite:///{tmp_path / 'drill.db'}", private_redis.url)
    with app.app_context():
        from app.services.demo import ensure_demo
        from app.services.review import create_invite

        first = ensure_demo()
        second = create_invite(first.assessment, "Second Candidate", None)
        client = app.test_client()
        workers = [_worker(app, FAULTLINE_RECONCILE_EVERY_SECONDS="2") for _ in range(2)]
        try:
            running = [_submit(client, first, SLOW_SOLUTION)]
            _wait_for(lambda: _status(running[0]) == "running", 60, "a grade to start")
            running.append(_submit(client, second, SLOWER_SOLUTION))  # ends last
            _wait_for(lambda: _status(running[1]) == "running", 60, "the second to start")
            waiting = [_submit(client, invite, SOLUTION, "run") for invite in (first, second)]
            assert _queued_jobs() == 2
            private_redis.stop()
            private_redis.start()
            for submission_id in (*running, *waiting):
                _wait_for(lambda s=submission_id: _finished(s), 120, "every submission graded")
        finally:
            for worker in workers:
                stop_worker(worker)
        graded = [db.session.get(Submission, s) for s in (*running, *waiting)]
        assert [s.status for s in graded] == ["graded"] * 4, [s.report for s in graded]
        assert [s.attempts for s in graded] == [1, 1, 1, 1], (  # each graded once
            [(s.id, s.mode, s.attempts, s.started_at, s.finished_at) for s in graded]
        )
        assert [s.score for s in graded[:2]] == [4, 4]
        assert [s.report["mode"] for s in graded[2:]] == ["visible", "visible"]


def _queued_jobs() -> int:
    from app.queue import candidate_queues

    return sum(queue.count for queue in candidate_queues())


def _docker_engine_running() -> bool:
    return subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode == 0


def _restart_docker_engine() -> None:
    """Stop dockerd as a host's shutdown or an engine upgrade would, then start it again."""
    subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=False)
    _wait_for(lambda: not _docker_engine_running(), 90, "the Docker engine to stop")
    subprocess.run([str(REPO_ROOT / "scripts" / "ensure-docker.sh")], check=True, timeout=300)


def _sandbox_running(label: str) -> bool:
    client = docker.from_env(version="auto")
    return bool(
        client.containers.list(filters={"label": ["faultline.sandbox", f"faultline.label={label}"]})
    )


def test_docker_engine_restarted_mid_grade_is_retried_and_never_charged(tmp_path, docker_sandbox):
    """The engine stops (killing the sandbox) while the candidate's code runs. That is the
    platform's failure: an infra_error retried by RQ once the engine is back, never a score."""
    app = _drill_app(f"sqlite:///{tmp_path / 'drill.db'}", "redis://127.0.0.1:6379/15")
    with app.app_context():
        from app.services.demo import ensure_demo

        submission_id = _submit(app.test_client(), ensure_demo(), SLOW_SOLUTION)
        worker = _worker(app)
        try:
            _wait_for(lambda: _sandbox_running("trivial-sum:hidden"), 60, "the sandbox to run")
            _restart_docker_engine()
            _wait_for(lambda: _finished(submission_id), 180, "the retried grade to finish")
        finally:
            stop_worker(worker)
            if not _docker_engine_running():
                subprocess.run([str(REPO_ROOT / "scripts" / "ensure-docker.sh")], check=False)
            remove_sandboxes_of("trivial-sum:hidden")
        submission = db.session.get(Submission, submission_id)
        assert submission.status == "graded" and submission.score == 4, submission.report
        assert submission.attempts >= 2
        assert submission.report["status"] == "graded"
