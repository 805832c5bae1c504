"""`rq worker -w app.worker.GradingWorker <queues>`: an RQ worker that also runs the reconciler.
The Procfile starts it twice: `worker` for the grading queue, `background` for the background
queue (challenge verifications and regrades, and grading when that queue is empty)."""

from __future__ import annotations

import os
import threading

from rq import Worker

from app.reconcile import reconcile
from app.services.verification import reconcile_verifications
from app.tasks import _app

RECONCILE_EVERY_SECONDS = 30


class GradingWorker(Worker):
    """Beats every few seconds while grading, so the reconciler spots a killed worker fast."""

    def __init__(self, *args, **kwargs):
        kwargs["job_monitoring_interval"] = int(
            os.environ.get("FAULTLINE_JOB_HEARTBEAT_SECONDS", "10")
        )
        super().__init__(*args, **kwargs)

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


def _reconcile_once(app) -> None:
    with app.app_context():
        for step in (reconcile, reconcile_verifications):
            try:
                step()
            except Exception:  # the reconciler must never take the worker down
                app.logger.exception("reconciler failed")


def _reconcile_forever(app, stop: threading.Event) -> None:
    while not stop.wait(RECONCILE_EVERY_SECONDS):
        _reconcile_once(app)
