"""`rq worker -w app.worker.GradingWorker <queues>`: an RQ worker that also runs the reconciler.
The Procfile starts it twice: `worker` for the grading queue, `background` for the background
queue (challenge verifications and regrades, and grading when that queue is empty). Where it
is given the grading queue, it serves that queue's front queue first."""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask
from rq import Queue, Worker

from app.extensions import db
from app.queue import FRONT_QUEUE_SUFFIX
from app.reconcile import reconcile
from app.services.timeouts import close_timed_out_attempts
from app.services.verification import reconcile_verifications
from app.tasks import _app


def reconcile_every_seconds() -> float:
    """How often a worker reconciles (it also does at start-up): how long a job that Redis lost
    waits at most before it is queued again."""
    return float(os.environ.get("FAULTLINE_RECONCILE_EVERY_SECONDS", "30"))


class GradingWorker(Worker):
    """Beats every few seconds while grading, so the reconciler spots a killed worker fast;
    serves the grading queue's front queue (app/queue.py) just before the grading queue."""

    def __init__(self, queues, *args, **kwargs):
        kwargs["job_monitoring_interval"] = int(
            os.environ.get("FAULTLINE_JOB_HEARTBEAT_SECONDS", "10")
        )
        grading = _app().config["GRADING_QUEUE"]
        super().__init__(with_front_queue(queues, grading), *args, **kwargs)

    def main_work_horse(self, job, queue):
        try:
            forget_inherited_connections(_app())
        except BaseException:
            os._exit(1)  # a horse must never fall back into the worker's loop; the job is retried
        return super().main_work_horse(job, queue)

    def work(self, *args, **kwargs):
        app = _app()
        _reconcile_once(app)
        stop = threading.Event()
        thread = threading.Thread(target=_reconcile_forever, args=(app, stop), daemon=True)
        thread.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            stop.set()


def forget_inherited_connections(app: Flask) -> None:
    """RQ forks a work horse for each job while the reconciler thread goes on using the
    worker's pooled database connections, perhaps in the middle of a commit at that very
    moment. The horse must not share them (two processes on one connection corrupt it) nor
    wait on a pool lock held by a thread the fork left behind: it gets a pool of its own,
    leaving the parent's connections to the parent (SQLAlchemy's advice for fork)."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def with_front_queue(queues: Any, grading: str) -> list[Any]:
    """``queues`` (names or queues) with the grading queue's front queue just before it."""
    listed = [queues] if isinstance(queues, str | Queue) else list(queues)
    names = [queue if isinstance(queue, str) else queue.name for queue in listed]
    front = grading + FRONT_QUEUE_SUFFIX
    if grading not in names or front in names:
        return listed
    at = names.index(grading)
    queue = listed[at]
    return [*listed[:at], front if isinstance(queue, str) else _sibling(queue, front), *listed[at:]]


def _sibling(queue: Queue, name: str) -> Queue:
    return Queue(
        name, connection=queue.connection, job_class=queue.job_class, serializer=queue.serializer
    )


def _reconcile_once(app) -> None:
    with app.app_context():
        for step in (close_timed_out_attempts, reconcile, reconcile_verifications):
            try:
                step()
            except Exception:  # the reconciler must never take the worker down
                app.logger.exception("reconciler failed")


def _reconcile_forever(app, stop: threading.Event) -> None:
    every = reconcile_every_seconds()
    while not stop.wait(every):
        _reconcile_once(app)
