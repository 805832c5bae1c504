"""The grading job, run by `rq worker` processes. It only ever receives a submission id."""

from __future__ import annotations

from functools import cache

from flask import Flask, current_app, has_app_context

from app import create_app
from app.extensions import db
from app.models import Submission, SubmissionStatus, utcnow
from app.queue import INFRA_RETRIES
from app.services.verification import run_verification
from grader.grading import grade
from grader.report import infra_error_report
from grader.sandbox import SandboxUnavailable, choose_sandbox
from grader.spec import challenge_from_payload


class InfrastructureProblem(RuntimeError):
    """Raised so RQ's Retry runs the job again; never the candidate's fault."""


@cache
def _app() -> Flask:
    return create_app()


def grade_submission(submission_id: int) -> str:
    """Grade one submission and store the report on its row; returns the final status."""
    if has_app_context():
        return _grade(submission_id)
    with _app().app_context():
        return _grade(submission_id)


def _grade(submission_id: int) -> str:
    submission = db.session.get(Submission, submission_id)
    if submission is None or submission.is_finished:
        return "gone" if submission is None else submission.status
    submission.status = SubmissionStatus.RUNNING
    submission.started_at = utcnow()
    submission.attempts += 1
    db.session.commit()

    challenge = challenge_from_payload(submission.challenge.payload)
    try:
        sandbox = choose_sandbox(current_app.config["SANDBOX"])
        report = grade(challenge, submission.files, sandbox, mode=submission.tests)
    except SandboxUnavailable as exc:
        report = None
        problem = str(exc)
    else:
        problem = report["status_detail"] if report["status"] == "infra_error" else None

    if problem is not None:
        if submission.attempts <= INFRA_RETRIES:
            submission.status = SubmissionStatus.QUEUED
            db.session.commit()
            raise InfrastructureProblem(problem)
        if report is None:
            report = infra_error_report(challenge, submission.tests, problem)
    submission.finish(report)
    db.session.commit()
    return submission.status


def verify_version(version_id: int, runs: int = 1) -> str:
    """Verify one stored challenge version in the sandbox and keep the outcome on its row
    (app/services/verification.py); returns the verification state."""
    if has_app_context():
        return run_verification(version_id, runs)
    with _app().app_context():
        return run_verification(version_id, runs)
