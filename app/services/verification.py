"""Verify a stored challenge version in the sandbox, on the worker, and keep the outcome.

Verification grades the starter (it must fail each ``detects_bug`` check and pass each
``guards_behaviour`` check), the reference solution and every sound fix (full marks) and every
wrong fix (fails exactly what it lists) - see grader/verify.py. An uploaded version can only be
published once it passed here.

The outcome lives on ``ChallengeVersion.verification``::

    {"state": "queued" | "running" | "passed" | "failed" | "error",
     "runs", "queued_at", "started_at", "finished_at", "progress": "3/8 graded",
     "table": the plain-text table, "problems": [...],
     "subjects": [{subject, check_id, expected, passes, runs, ok, median, metric, unit,
                   surprises, not_run: [why the check's test gave no verdict, per run]}],
     "reference_metrics": {check_id: {"name", "value", "unit"}},   # read by the report pages
     "starter_metrics": {check_id: {"name", "value", "unit"}}}

Jobs go on the background queue (app/queue.py), served by the Procfile's ``background`` process,
so candidates never wait behind a verification.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import ChallengeVersion, VersionSource
from app.queue import background_queue, job_alive, job_id_for_version, redis_connection
from grader.sandbox import SandboxUnavailable, choose_sandbox
from grader.spec import challenge_from_payload
from grader.verify import (
    Verification,
    median_metrics,
    render_table,
    subjects_of,
    verify_challenge,
)

logger = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "running")
GRADE_OVERHEAD_SECONDS = 30  # container start, harness, result parsing: per graded subject
JOB_TIMEOUT_MARGIN_SECONDS = 120
MAX_RUNS = 5
RESULT_TTL_SECONDS = 3600
FAILURE_TTL_SECONDS = 7 * 24 * 3600


class VerificationUnavailable(RuntimeError):
    """Redis does not answer: nothing was queued and the version's state is unchanged."""


class VerificationBusy(RuntimeError):
    """This version's verification is already queued or running."""


def job_timeout(version: ChallengeVersion, runs: int) -> int:
    """Enough for every subject's every run to use its whole wall-clock limit (the subjects:
    the starter, the reference and each fix)."""
    subjects = 2 + len(version.payload.get("fixes", []))
    wall = version.limits.wall_seconds
    return subjects * runs * (wall + GRADE_OVERHEAD_SECONDS) + JOB_TIMEOUT_MARGIN_SECONDS


def request_verification(version: ChallengeVersion, runs: int = 1) -> None:
    """Queue a verification of ``version`` (``runs`` grades per subject).

    Raises VerificationBusy if one is already queued or running, VerificationUnavailable if
    Redis does not answer (then the version keeps the state it had)."""
    runs = max(1, min(int(runs), MAX_RUNS))
    previous = version.verification
    job_id = job_id_for_version(version.id)
    try:
        connection = redis_connection()
        old_job = _fetch_job(job_id, connection)
        if old_job is not None:
            if job_alive(old_job, current_app.config["RECONCILE_STALE_SECONDS"]):
                raise VerificationBusy("Verification of this version is already queued or running.")
            old_job.delete()
        version.verification = {"state": "queued", "runs": runs, "queued_at": _now_iso()}
        db.session.commit()
        background_queue(connection).enqueue_call(
            "app.tasks.verify_version",
            args=(version.id, runs),
            job_id=job_id,
            timeout=job_timeout(version, runs),
            result_ttl=RESULT_TTL_SECONDS,
            failure_ttl=FAILURE_TTL_SECONDS,
            unique=True,
            description=f"verify {version.slug} v{version.version} (#{version.id})",
        )
    except RedisError as exc:
        version.verification = previous
        db.session.commit()
        raise VerificationUnavailable(
            "Redis does not answer, so verification could not be queued; try again once it is back."
        ) from exc
    except DuplicateJobError:  # another request queued it between our check and enqueue
        raise VerificationBusy(
            "Verification of this version is already queued or running."
        ) from None


def request_missing_verifications() -> tuple[int, str | None]:
    """Queue one run for each folder version never verified, so the reference's figures get
    measured on a new deployment. Best effort: returns (how many were queued, the reason it
    stopped early or None)."""
    versions = db.session.scalars(
        select(ChallengeVersion)
        .where(ChallengeVersion.source == VersionSource.FOLDER)
        .order_by(ChallengeVersion.slug, ChallengeVersion.id)
    ).all()
    queued = 0
    for version in versions:
        if version.verification:  # SQL NULL and a stored JSON null both read as None
            continue
        try:
            request_verification(version, runs=1)
        except VerificationUnavailable as exc:
            return queued, str(exc)
        except VerificationBusy:
            continue
        queued += 1
    return queued, None


def run_verification(version_id: int, runs: int) -> str:
    """The worker's side: verify the version and store the outcome; returns its state."""
    version = db.session.get(ChallengeVersion, version_id)
    if version is None:
        return "gone"
    base = {
        "state": "running",
        "runs": runs,
        "queued_at": (version.verification or {}).get("queued_at"),
        "started_at": _now_iso(),
    }
    try:
        challenge = challenge_from_payload(version.payload)
        total = len(subjects_of(challenge)) * runs
        base["progress"] = f"0/{total} graded"
        version.verification = dict(base)
        db.session.commit()
        report_progress = progress_writer(db.engine, version_id, base, total)
        sandbox = choose_sandbox(current_app.config["SANDBOX"])
        result = verify_challenge(
            challenge, sandbox=sandbox, runs=runs, jobs=1, progress=report_progress
        )
    except SandboxUnavailable as exc:
        outcome: dict[str, Any] = {"state": "error", "problems": [f"sandbox unavailable: {exc}"]}
    except Exception as exc:  # recorded for the admin, then re-raised so RQ marks it failed
        db.session.rollback()
        _store(version_id, {**base, "state": "error", "problems": [f"verification crashed: {exc}"]})
        raise
    else:
        outcome = outcome_of(result)
    _store(version_id, {**base, **outcome})
    return outcome["state"]


def outcome_of(result: Verification) -> dict[str, Any]:
    """The stored fields of a finished verification."""
    infra = any(": status infra_error:" in problem for problem in result.problems)
    state = "passed" if result.ok else ("error" if infra else "failed")
    graded = len({tally.subject for tally in result.tallies}) * result.runs
    return {
        "state": state,
        "progress": f"{graded}/{graded} graded",
        "table": render_table(result),
        "problems": list(result.problems),
        "subjects": [
            {
                "subject": tally.subject,
                "check_id": tally.check_id,
                "expected": tally.expected,
                "passes": tally.passes,
                "runs": tally.runs,
                "ok": tally.ok,
                "median": tally.median,
                "metric": tally.metric,
                "unit": tally.unit,
                "surprises": list(tally.surprises),
                "not_run": [why for _, why in tally.not_run],  # its test gave no verdict
            }
            for tally in result.tallies
        ],
        "reference_metrics": median_metrics(result, "reference"),
        "starter_metrics": median_metrics(result, "starter"),
    }


def summary(verification: dict[str, Any] | None) -> str:
    """What the state badge does not say: progress, runs, what went wrong."""
    if not verification:
        return ""
    state = verification.get("state")
    runs = verification.get("runs", 1)
    if state == "queued":
        return "waiting for a worker"
    if state == "running":
        return verification.get("progress") or "starting"
    if state == "passed":
        return f"{runs} run{'s' if runs != 1 else ''} per subject, every verdict right"
    if state == "failed":
        subjects = verification.get("subjects", [])
        not_run = len({s.get("check_id") for s in subjects if s.get("not_run")})
        wrong = sum(1 for s in subjects if not s.get("ok") and not s.get("not_run"))
        problems = len(verification.get("problems", []))
        parts = [f"{wrong} wrong verdict{'s' if wrong != 1 else ''}"] if wrong else []
        if not_run:
            parts.insert(0, f"{not_run} check{'s' if not_run != 1 else ''} whose test did not run")
        if problems:
            parts.append(f"{problems} problem{'s' if problems != 1 else ''}")
        return ", ".join(parts) or "see the table"
    if state == "error":
        return (verification.get("problems") or ["unknown"])[0][:160]
    return ""


def reconcile_verifications() -> int:
    """Mark verifications whose job is gone (worker killed, Redis flushed, job failed without
    storing its outcome) as ``error`` so the admin can re-run them; returns how many."""
    stale_seconds = current_app.config["RECONCILE_STALE_SECONDS"]
    rows = db.session.execute(select(ChallengeVersion.id, ChallengeVersion.verification)).all()
    unfinished = [
        db.session.get(ChallengeVersion, version_id)
        for version_id, verification in rows
        if (verification or {}).get("state") in ACTIVE_STATES
    ]
    if not unfinished:
        return 0
    try:
        connection = redis_connection()
        lost = []
        for version in unfinished:
            job = _fetch_job(job_id_for_version(version.id), connection)
            if job is not None and job_alive(job, stale_seconds):
                continue
            if job is None and _age_seconds(version.verification.get("queued_at")) < stale_seconds:
                continue  # just requested: its job is being enqueued right now
            lost.append(version)
    except RedisError:
        return 0
    for version in lost:
        version.verification = {
            **version.verification,
            "state": "error",
            "finished_at": _now_iso(),
            "problems": ["verification was interrupted (worker stopped or job lost): re-run it"],
        }
    db.session.commit()
    return len(lost)


def progress_writer(engine: Engine, version_id: int, base: dict[str, Any], total: int):
    """A callback for verify_challenge, which calls it from a pool thread: it writes through
    its own connection, so the page shows "3/8 graded" while the job runs. Best effort: a
    failed write never stops the verification."""
    done = 0
    table = ChallengeVersion.__table__

    def report(_text: str) -> None:
        nonlocal done
        done += 1
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(table)
                    .where(table.c.id == version_id)
                    .values(verification={**base, "progress": f"{done}/{total} graded"})
                )
        except SQLAlchemyError as exc:
            logger.warning("verification progress of version %s not saved: %s", version_id, exc)

    return report


def _store(version_id: int, verification: dict[str, Any]) -> None:
    version = db.session.get(ChallengeVersion, version_id)
    if version is None:
        return
    version.verification = {**verification, "finished_at": _now_iso()}
    db.session.commit()


def _fetch_job(job_id: str, connection: Redis) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _age_seconds(iso: str | None) -> float:
    if not iso:
        return float("inf")
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return float("inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()
