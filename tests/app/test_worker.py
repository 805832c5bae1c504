"""The grading worker's process model: RQ forks a work horse per job beside the reconciler."""

from __future__ import annotations

import os
import threading
import time

from sqlalchemy import select

from app.extensions import db
from app.worker import forget_inherited_connections

HORSE_SECONDS = 20


def _fork_horse(web_app) -> int:
    """Fork a child that does what a work horse does first (read the database) and exits 0 if
    it could, 1 if it failed; returns its pid."""
    pid = os.fork()
    if pid == 0:  # the horse: nothing of pytest's may run here, hence os._exit
        try:
            forget_inherited_connections(web_app)
            with web_app.app_context():
                db.session.execute(select(1)).scalar_one()
                db.session.remove()
        except BaseException:
            os._exit(1)
        os._exit(0)
    return pid


def _wait(pid: int, seconds: float) -> int | None:
    """The child's exit code, or None (the child killed) if it had not exited in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def test_a_work_horse_forked_while_the_reconciler_holds_the_pool_still_reads_the_database(
    web_app,
):
    """The reconciler thread may be checking a connection in or out of the pool at the moment
    RQ forks: the horse inherits that pool's lock held by a thread it does not have, and would
    wait on it forever if it used the inherited pool."""
    pool_lock = db.engine.pool._pool.mutex  # what a checkout or check-in holds
    held, release = threading.Event(), threading.Event()

    def reconciler_mid_checkout() -> None:
        with pool_lock:
            held.set()
            release.wait(HORSE_SECONDS + 10)

    thread = threading.Thread(target=reconciler_mid_checkout, daemon=True)
    thread.start()
    assert held.wait(5)
    try:
        pid = _fork_horse(web_app)
    finally:
        release.set()
        thread.join()
    assert _wait(pid, HORSE_SECONDS) == 0, "the work horse could not read the database"
