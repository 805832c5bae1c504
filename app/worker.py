"""`rq worker -w app.worker.GradingWorker`: an RQ worker that also runs the reconciler."""

from __future__ import annotations

import os
import threading

from rq import Worker

RECONCILE_EVERY_SECONDS = 30


class GradingWorker(Worker):
    """Beats every few seconds while grading, so the reconciler spots a killed worker fast."""

    def __init__(self, *args, **kwargs):
        kwargs["job_monitoring_interval"] = int(
            os.environ.get("FAULTLINE_JOB_HEARTBEAT_SECONDS", "10")
        )
        super().__init__(*args, **kwargs)

    def work(self, *args, **kwargs):
        from app.tasks import _app

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
    from app.reconcile import reconcile

    with app.app_context():
        try:
            reconcile()
        except Exception:  # the reconciler must never take the worker down
            app.logger.exception("reconciler failed")


def _reconcile_forever(app, stop: threading.Event) -> None:
    while not stop.wait(RECONCILE_EVERY_SECONDS):
        _reconcile_once(app)
