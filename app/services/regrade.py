"""Regrade candidates' submissions against another version of their challenge.

A batch never touches the submissions it regrades: each regrade is a new Submission with
``regrade_of_id`` pointing at its original and ``regrade_batch_id`` at the batch, graded by the
same worker as any submission. Candidates never see regrades (the candidate API filters them).

An original whose files the target version does not accept (its editable files differ) is not
graded: its regrade is stored at once as ``rejected``, with the reason in its report, and the
batch page lists it as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    UNFINISHED,
    ChallengeVersion,
    RegradeBatch,
    Submission,
    SubmissionMode,
    SubmissionStatus,
    User,
)
from app.queue import enqueue_submission
from grader.report import describe_metric, rejected_report
from grader.spec import challenge_from_payload
from grader.workspace import SubmissionRejected, validate_submission

SCOPE_LATEST = "latest"
SCOPE_ALL = "all"
SCOPES = {
    SCOPE_LATEST: "Latest submit per candidate",
    SCOPE_ALL: "All submits",
}
# Outcomes that say something about the code; infrastructure errors and skipped (rejected)
# regrades are left out of the mean scores.
VERDICT_STATUSES = (
    SubmissionStatus.GRADED,
    SubmissionStatus.TIMEOUT,
    SubmissionStatus.OOM,
    SubmissionStatus.ERROR,
)


class RegradeRefused(ValueError):
    """A batch that cannot be made; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str = "source") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class BatchCreated:
    batch: RegradeBatch
    queued: int
    skipped: int
    redis_down: bool


def candidate_submissions(source: ChallengeVersion, scope: str) -> list[Submission]:
    """Finished candidate submits of ``source`` (never runs, never regrades), oldest first;
    with SCOPE_LATEST only each invite's latest one."""
    if scope not in SCOPES:
        raise RegradeRefused(f"choose which submissions: {', '.join(SCOPES)}", "scope")
    chosen = (
        select(Submission)
        .where(
            Submission.challenge_version_id == source.id,
            Submission.regrade_of_id.is_(None),
            Submission.mode == SubmissionMode.SUBMIT,
            Submission.status.not_in(list(UNFINISHED)),
        )
        .order_by(Submission.id)
    )
    submissions = list(db.session.scalars(chosen))
    if scope == SCOPE_ALL:
        return submissions
    latest: dict[int, Submission] = {}
    for submission in submissions:
        latest[submission.invite_id] = submission
    return sorted(latest.values(), key=lambda s: s.id)


def create_batch(
    source: ChallengeVersion, target: ChallengeVersion, scope: str, created_by: User | None
) -> BatchCreated:
    """Create the batch and its regrades, then enqueue them. If Redis is down they stay
    queued in the database and the reconciler enqueues them later."""
    if source.slug != target.slug:
        raise RegradeRefused(
            f"the target must be a version of {source.slug}, not of {target.slug}", "target"
        )
    if source.id == target.id:
        raise RegradeRefused("the target version must differ from the source version", "target")
    originals = candidate_submissions(source, scope)
    if not originals:
        raise RegradeRefused(
            f"{version_label(source)} has no finished candidate submissions to regrade"
        )
    target_challenge = challenge_from_payload(target.payload)
    rejections = {}
    for original in originals:
        try:
            validate_submission(target_challenge, original.files)
        except SubmissionRejected as exc:
            rejections[original.id] = str(exc)
    if len(rejections) == len(originals):
        raise RegradeRefused(
            f"{version_label(target)} accepts the files of none of the {len(originals)} "
            f"submissions ({next(iter(rejections.values()))})",
            "target",
        )

    batch = RegradeBatch(from_version=source, to_version=target, created_by=created_by)
    db.session.add(batch)
    db.session.flush()
    to_grade = []
    for original in originals:
        regrade = Submission(
            invite_id=original.invite_id,
            challenge_version_id=target.id,
            mode=SubmissionMode.SUBMIT,
            files=dict(original.files),
            regrade_of_id=original.id,
            regrade_batch_id=batch.id,
        )
        reason = rejections.get(original.id)
        if reason is None:
            to_grade.append(regrade)
        else:
            _store_skipped(regrade, target_challenge, reason)
        db.session.add(regrade)
    db.session.commit()

    queued, redis_down = 0, False
    for regrade in to_grade:
        if not enqueue_submission(regrade):
            redis_down = True
            break
        queued += 1
    return BatchCreated(batch=batch, queued=queued, skipped=len(rejections), redis_down=redis_down)


def _store_skipped(regrade: Submission, target_challenge, reason: str) -> None:
    report = rejected_report(
        target_challenge, "hidden", f"skipped: this version does not accept the files: {reason}"
    )
    regrade.finish(report)


def version_label(version: ChallengeVersion) -> str:
    return f"{version.slug} v{version.version}"


def finished_submit_counts() -> dict[int, int]:
    """Challenge version id -> how many finished candidate submits it has."""
    rows = db.session.execute(
        select(Submission.challenge_version_id, func.count())
        .where(
            Submission.regrade_of_id.is_(None),
            Submission.mode == SubmissionMode.SUBMIT,
            Submission.status.not_in(list(UNFINISHED)),
        )
        .group_by(Submission.challenge_version_id)
    ).all()
    return dict(rows)


# ---- reading batches back -------------------------------------------------------------------


@dataclass
class CheckChange:
    id: str
    title: str
    before: bool | None  # None: the check is not in that version (or was never run)
    after: bool | None
    before_points: int | None
    after_points: int | None
    evidence: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Passed in one grading and failed in the other (both ran)."""
        return None not in (self.before, self.after) and self.before != self.after


@dataclass
class RegradeRow:
    original: Submission
    regrade: Submission
    checks: list[CheckChange]

    @property
    def skipped(self) -> bool:
        return self.regrade.status == SubmissionStatus.REJECTED

    @property
    def finished(self) -> bool:
        return self.regrade.is_finished

    @property
    def delta(self) -> int | None:
        if not self.finished or self.skipped:
            return None
        if self.original.score is None or self.regrade.score is None:
            return None
        return self.regrade.score - self.original.score


@dataclass
class BatchSummary:
    batch: RegradeBatch
    rows: list[RegradeRow]
    total: int  # regrades to grade (skipped ones excluded)
    done: int
    skipped: int
    mean_before: float | None
    mean_after: float | None
    max_before: int
    max_after: int

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.batch.id,
            "total": self.total,
            "done": self.done,
            "skipped": self.skipped,
            "complete": self.complete,
            "mean_before": self.mean_before,
            "mean_after": self.mean_after,
            "max_before": self.max_before,
            "max_after": self.max_after,
            "regrades": [
                {
                    "id": row.regrade.id,
                    "original_id": row.original.id,
                    "status": row.regrade.status,
                    "score": row.regrade.score,
                    "max_score": row.regrade.max_score,
                    "delta": row.delta,
                }
                for row in self.rows
            ],
        }


def batches() -> list[BatchSummary]:
    found = db.session.scalars(
        _with_rows(select(RegradeBatch)).order_by(RegradeBatch.created_at.desc(), RegradeBatch.id)
    ).all()
    return [summarise(batch, with_checks=False) for batch in found]


def batch_or_none(batch_id: int) -> RegradeBatch | None:
    return db.session.scalar(_with_rows(select(RegradeBatch)).where(RegradeBatch.id == batch_id))


def _with_rows(query):
    return query.options(
        selectinload(RegradeBatch.regrades).selectinload(Submission.regrade_of),
        selectinload(RegradeBatch.regrades).selectinload(Submission.invite),
        selectinload(RegradeBatch.from_version),
        selectinload(RegradeBatch.to_version),
        selectinload(RegradeBatch.created_by),
    )


def summarise(batch: RegradeBatch, *, with_checks: bool = True) -> BatchSummary:
    rows = [
        RegradeRow(
            original=regrade.regrade_of,
            regrade=regrade,
            checks=_check_changes(regrade.regrade_of, regrade) if with_checks else [],
        )
        for regrade in batch.regrades
        if regrade.regrade_of is not None
    ]
    graded = [row for row in rows if not row.skipped]
    before = [
        row.original.score
        for row in graded
        if row.original.status in VERDICT_STATUSES and row.original.score is not None
    ]
    after = [
        row.regrade.score
        for row in graded
        if row.regrade.status in VERDICT_STATUSES and row.regrade.score is not None
    ]
    return BatchSummary(
        batch=batch,
        rows=rows,
        total=len(graded),
        done=sum(1 for row in graded if row.finished),
        skipped=len(rows) - len(graded),
        mean_before=round(fmean(before), 2) if before else None,
        mean_after=round(fmean(after), 2) if after else None,
        max_before=batch.from_version.max_score,
        max_after=batch.to_version.max_score,
    )


def _check_changes(original: Submission, regrade: Submission) -> list[CheckChange]:
    """Per check id, in the target version's order, then checks only the source had."""
    before = {c["id"]: c for c in (original.report or {}).get("checks", [])}
    after = {c["id"]: c for c in (regrade.report or {}).get("checks", [])}
    ids = list(after) + [check_id for check_id in before if check_id not in after]
    changes = []
    for check_id in ids:
        old, new = before.get(check_id), after.get(check_id)
        changes.append(
            CheckChange(
                id=check_id,
                title=(new or old)["title"],
                before=_passed(original, old),
                after=_passed(regrade, new),
                before_points=old["points"] if old else None,
                after_points=new["points"] if new else None,
                evidence=[describe_metric(m) for m in (new or {}).get("metrics", [])],
            )
        )
    return changes


def _passed(submission: Submission, check: dict | None) -> bool | None:
    if check is None or submission.status in (SubmissionStatus.REJECTED, *UNFINISHED):
        return None
    return bool(check["passed"])
