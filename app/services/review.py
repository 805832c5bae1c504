"""What interviewers see of an assessment: candidate statuses, best submissions, the report with
reference values, diffs against the starter, timelines, comparisons, notes and exports.

Only the candidate's own work counts here: regrades (``regrade_of_id`` set) are never a
candidate's submission; they appear only beside their original in a timeline.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import quote

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.formatting import format_duration, format_when, score_text
from app.models import (
    UNFINISHED,
    Assessment,
    AssessmentItem,
    ChallengeVersion,
    Draft,
    Invite,
    InviteState,
    Note,
    Submission,
    SubmissionMode,
    User,
    utcnow,
)
from app.services import replay
from app.services.numbering import numbers_of
from grader.report import quantity_text, with_reference

MAX_TIME_LIMIT_MINUTES = 600
NOTE_MAX_CHARS = 5000


class CandidateStatus(StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    SUBMITTED = "submitted"
    GRADED = "graded"
    TIME_EXPIRED = "time expired"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def css(self) -> str:
        return self.value.replace(" ", "-")


def candidate_status(
    invite: Invite, *, grading: bool, now: datetime | None = None
) -> CandidateStatus:
    """Where a candidate stands. ``grading``: a submission (submit mode) is queued or running.

    not started: the link is unused; expired: unused past its expiry; in progress: started and
    the time is not up; submitted: finished or out of time, with a submission still grading;
    graded: finished by the candidate, nothing left to grade; time expired: the time ran out
    before the candidate finished, nothing left to grade (what they left unsubmitted was
    submitted for them, marked "at time-out").
    """
    now = now or utcnow()
    if invite.state == InviteState.PENDING:
        return CandidateStatus.EXPIRED if invite.is_expired(now) else CandidateStatus.NOT_STARTED
    if invite.state == InviteState.STARTED and invite.is_open(now):
        return CandidateStatus.IN_PROGRESS
    if grading:
        return CandidateStatus.SUBMITTED
    ran_out = invite.timed_out or invite.state == InviteState.STARTED
    return CandidateStatus.TIME_EXPIRED if ran_out else CandidateStatus.GRADED


def invites_grading(invite_ids: Iterable[int]) -> set[int]:
    """The invites (of ``invite_ids``) with a candidate submission still queued or running."""
    ids = list(invite_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(Submission.invite_id)
            .where(
                Submission.invite_id.in_(ids),
                Submission.mode == SubmissionMode.SUBMIT,
                Submission.regrade_of_id.is_(None),
                Submission.status.in_(list(UNFINISHED)),
            )
            .distinct()
        )
    )


def statuses_of(invites: list[Invite], now: datetime | None = None) -> dict[int, CandidateStatus]:
    grading = invites_grading(invite.id for invite in invites)
    return {
        invite.id: candidate_status(invite, grading=invite.id in grading, now=now)
        for invite in invites
    }


@dataclass
class DashboardRow:
    assessment: Assessment
    counts: dict[CandidateStatus, int]
    invites: int


def dashboard_rows(
    assessments: list[Assessment], now: datetime | None = None
) -> list[DashboardRow]:
    """Each assessment with the number of its invites in each candidate status."""
    ids = [assessment.id for assessment in assessments]
    invites = (
        list(db.session.scalars(select(Invite).where(Invite.assessment_id.in_(ids)))) if ids else []
    )
    statuses = statuses_of(invites, now)
    counts: dict[int, Counter[CandidateStatus]] = defaultdict(Counter)
    for invite in invites:
        counts[invite.assessment_id][statuses[invite.id]] += 1
    return [
        DashboardRow(
            assessment=assessment,
            counts={status: counts[assessment.id][status] for status in CandidateStatus},
            invites=sum(counts[assessment.id].values()),
        )
        for assessment in assessments
    ]


# ---- creating ---------------------------------------------------------------------------------


def create_assessment(
    title: str, time_limit_minutes: int, versions: list[ChallengeVersion], owner: User
) -> Assessment:
    """A new assessment of ``versions`` in that order (each pinned to that exact version)."""
    assessment = Assessment(title=title, time_limit_minutes=time_limit_minutes, owner=owner)
    for position, version in enumerate(versions):
        assessment.items.append(AssessmentItem(challenge=version, position=position))
    db.session.add(assessment)
    db.session.commit()
    return assessment


def create_invite(assessment: Assessment, name: str, email: str | None) -> Invite:
    days = current_app.config["INVITE_VALID_DAYS"]
    invite = Invite(
        assessment=assessment,
        candidate_name=name,
        candidate_email=email or None,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(invite)
    db.session.commit()
    return invite


class InviteNotRevocable(ValueError):
    pass


def revoke_invite(invite: Invite) -> None:
    """End an unused invite link at once (it was sent to the wrong person, say): it expires
    now. A candidate who has started keeps their work and their time."""
    if invite.state != InviteState.PENDING:
        raise InviteNotRevocable(
            f"{invite.candidate_name} has already started: the link can no longer be revoked."
        )
    if invite.is_expired():
        raise InviteNotRevocable(f"The link for {invite.candidate_name} has already expired.")
    invite.expires_at = utcnow()
    db.session.commit()


# ---- results per invite and challenge ---------------------------------------------------------


@dataclass
class ChallengeResult:
    """One candidate's work on one challenge: every run and submit, oldest first."""

    version: ChallengeVersion
    submissions: list[Submission] = field(default_factory=list)

    @property
    def submits(self) -> list[Submission]:
        return [s for s in self.submissions if s.mode == SubmissionMode.SUBMIT]

    @property
    def runs(self) -> list[Submission]:
        return [s for s in self.submissions if s.mode == SubmissionMode.RUN]

    @cached_property
    def best(self) -> Submission | None:
        """The graded submit with the highest score; the latest of equals."""
        scored = [s for s in self.submits if s.score is not None and s.is_finished]
        return max(scored, key=lambda s: (s.score, s.created_at, s.id), default=None)

    @property
    def last(self) -> Submission | None:
        return self.submits[-1] if self.submits else None

    @property
    def max_score(self) -> int:
        best = self.best
        if best is not None and best.max_score is not None:
            return best.max_score
        return self.version.max_score

    @cached_property
    def numbers(self) -> dict[int, int]:
        """Submission id -> the number the candidate saw ("Submission #2"; test runs apart)."""
        return numbers_of(self.submissions)

    @property
    def first_activity(self) -> datetime | None:
        return self.submissions[0].created_at if self.submissions else None

    @property
    def time_to_best(self) -> timedelta | None:
        """From the first run or submit of this challenge to the best submission."""
        best, first = self.best, self.first_activity
        return best.created_at - first if best is not None and first is not None else None


def candidate_submissions(invite_ids: Iterable[int]) -> dict[tuple[int, int], list[Submission]]:
    """(invite id, challenge version id) -> the candidate's runs and submits, oldest first."""
    ids = list(invite_ids)
    grouped: dict[tuple[int, int], list[Submission]] = defaultdict(list)
    if not ids:
        return grouped
    query = (
        select(Submission)
        .where(Submission.invite_id.in_(ids), Submission.regrade_of_id.is_(None))
        .order_by(Submission.created_at, Submission.id)
    )
    for submission in db.session.scalars(query):
        grouped[(submission.invite_id, submission.challenge_version_id)].append(submission)
    return grouped


def results_of(
    invite: Invite, grouped: dict[tuple[int, int], list[Submission]]
) -> list[ChallengeResult]:
    return [
        ChallengeResult(item.challenge, grouped.get((invite.id, item.challenge.id), []))
        for item in invite.assessment.items
    ]


class TimeState(StrEnum):
    NOT_STARTED = "not started"
    SO_FAR = "so far"  # still working: the time used until now
    OUT_OF_TIME = "out of time"  # the whole time limit went by
    FINISHED = "finished"  # finished within the limit: the real duration


@dataclass(frozen=True)
class TimeUsed:
    span: timedelta | None
    state: TimeState

    @property
    def text(self) -> str:
        """'12 min 03 s so far', '30 min 00 s, out of time', '8 min 00 s', '—'."""
        if self.span is None:
            return "—"
        spent = format_duration(self.span)
        if self.state == TimeState.SO_FAR:
            return f"{spent} so far"
        if self.state == TimeState.OUT_OF_TIME:
            return f"{spent}, out of time"
        return spent


def time_used(invite: Invite, now: datetime | None = None) -> TimeUsed:
    """How long the candidate has worked. In progress: from the start until ``now``; out of
    time: the whole time limit; finished: started to finished, and never more than the limit
    (a candidate who presses Finish after the time ran out used the limit, not the hours
    since)."""
    started, deadline = invite.started_at, invite.deadline
    if started is None or deadline is None:
        return TimeUsed(None, TimeState.NOT_STARTED)
    now = now or utcnow()
    if invite.finished_at is not None and invite.finished_at <= deadline:
        return TimeUsed(max(timedelta(0), invite.finished_at - started), TimeState.FINISHED)
    if invite.finished_at is None and now < deadline:
        return TimeUsed(max(timedelta(0), now - started), TimeState.SO_FAR)
    return TimeUsed(deadline - started, TimeState.OUT_OF_TIME)


def time_taken(invite: Invite, now: datetime | None = None) -> timedelta | None:
    """Started to finished; while working, so far; out of time, the whole time limit."""
    return time_used(invite, now).span


@dataclass
class InviteSummary:
    invite: Invite
    status: CandidateStatus
    results: list[ChallengeResult]
    time_used: TimeUsed

    @property
    def time_taken(self) -> timedelta | None:
        return self.time_used.span

    @property
    def score(self) -> int | None:
        """The sum of the best submission's score per challenge; None before any is graded."""
        bests = [r.best for r in self.results if r.best is not None]
        return sum(b.score or 0 for b in bests) if bests else None

    @property
    def max_score(self) -> int:
        return sum(r.max_score for r in self.results)

    @property
    def rating(self) -> int | None:
        return current_rating(self.invite)

    def result_for(self, version_id: int) -> ChallengeResult | None:
        return next((r for r in self.results if r.version.id == version_id), None)


def summaries_of(invites: list[Invite], now: datetime | None = None) -> list[InviteSummary]:
    now = now or utcnow()
    statuses = statuses_of(invites, now)
    grouped = candidate_submissions(invite.id for invite in invites)
    return [
        InviteSummary(
            invite=invite,
            status=statuses[invite.id],
            results=results_of(invite, grouped),
            time_used=time_used(invite, now),
        )
        for invite in invites
    ]


def status_json(summary: InviteSummary) -> dict[str, Any]:
    """What the assessment page's live refresh needs for one invite."""
    status = summary.status
    return {
        "status": status.value,
        "label": status.label,
        "css": status.css,
        "score": summary.score,
        "max": summary.max_score,
        "score_text": score_text(summary.score, summary.max_score),
        "time_taken": summary.time_used.text,
        "started": format_when(summary.invite.started_at),
    }


# ---- one submission in detail -----------------------------------------------------------------


def interviewer_report(submission: Submission) -> dict[str, Any] | None:
    """The full report (raw output and messages included) with the reference's measurements."""
    if not submission.report:
        return None
    return with_reference(submission.report, submission.challenge.reference_metrics)


@dataclass
class FileDiff:
    path: str
    lines: list[tuple[str, str]]  # (css class, text)
    added: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.lines)


def file_diffs(version: ChallengeVersion, files: dict[str, str]) -> list[FileDiff]:
    """A unified diff of each editable file against the starter (empty when unchanged)."""
    diffs = []
    for path in version.editable_paths:
        starter = version.payload["starter"].get(path, "")
        mine = files.get(path, starter)
        raw = difflib.unified_diff(
            starter.splitlines(),
            mine.splitlines(),
            fromfile=f"starter/{path}",
            tofile=f"candidate/{path}",
            lineterm="",
        )
        diff = FileDiff(path=path, lines=[])
        for line in raw:
            if line.startswith(("---", "+++")):
                css = "diff-file"
            elif line.startswith("@@"):
                css = "diff-hunk"
            elif line.startswith("+"):
                css, diff.added = "diff-add", diff.added + 1
            elif line.startswith("-"):
                css, diff.removed = "diff-del", diff.removed + 1
            else:
                css = "diff-context"
            diff.lines.append((css, line))
        diffs.append(diff)
    return diffs


@dataclass
class TimelineEntry:
    submission: Submission
    regrades: list[Submission]
    number: int  # "Submission #2", "Test run #5": see app/services/numbering.py

    @property
    def duration(self) -> timedelta | None:
        s = self.submission
        if s.finished_at is None or s.started_at is None:
            return None
        return s.finished_at - s.started_at


def timeline(submissions: list[Submission]) -> list[TimelineEntry]:
    """Runs and submits in time order, numbered as the candidate saw them (submissions and
    test runs apart), each with the admins' regrades of it."""
    ids = [s.id for s in submissions]
    regrades: dict[int | None, list[Submission]] = defaultdict(list)
    if ids:
        query = (
            select(Submission)
            .where(Submission.regrade_of_id.in_(ids))
            .order_by(Submission.created_at, Submission.id)
        )
        for regrade in db.session.scalars(query):
            regrades[regrade.regrade_of_id].append(regrade)
    ordered = sorted(submissions, key=lambda s: (s.created_at, s.id))
    numbers = numbers_of(submissions)
    return [TimelineEntry(s, regrades.get(s.id, []), numbers[s.id]) for s in ordered]


def has_draft(invite: Invite, version: ChallengeVersion) -> bool:
    """Whether the editor has autosaved anything of ``version`` for ``invite``."""
    query = select(Draft.id).where(
        Draft.invite_id == invite.id, Draft.challenge_version_id == version.id
    )
    return db.session.scalar(query) is not None


# ---- notes ------------------------------------------------------------------------------------


def add_note(invite: Invite, author: User, body: str, rating: int | None) -> Note:
    note = Note(invite=invite, author=author, body=body, rating=rating)
    db.session.add(note)
    db.session.commit()
    return note


def current_rating(invite: Invite) -> int | None:
    """The rating of the latest note that gave one."""
    rated = [note for note in invite.notes if note.rating is not None]
    latest = max(rated, key=lambda note: (note.created_at, note.id), default=None)
    return latest.rating if latest else None


# ---- comparing candidates ---------------------------------------------------------------------


@dataclass
class KeyMetric:
    check_id: str
    passed: bool
    text: str


def key_metrics(version: ChallengeVersion, submission: Submission | None) -> list[KeyMetric | None]:
    """Per check of ``version``: the first measured value (or just the verdict), pass or fail;
    None for a check the submission's report does not have."""
    report = submission.report if submission is not None and submission.report else None
    by_id = {check["id"]: check for check in (report or {}).get("checks", [])}
    metrics: list[KeyMetric | None] = []
    for spec_check in version.checks:
        check = by_id.get(spec_check["id"])
        if check is None:
            metrics.append(None)
            continue
        first = check["metrics"][0] if check.get("metrics") else None
        text = (
            quantity_text(first.get("value"), first.get("unit", ""))
            if first
            else ("passed" if check["passed"] else "failed")
        )
        metrics.append(KeyMetric(check["id"], bool(check["passed"]), text))
    return metrics


# ---- export -----------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "candidate_name",
    "candidate_email",
    "invite_status",
    "challenge",
    "version",
    "best_score",
    "max_score",
    "submitted_at",
    "time_taken_seconds",
    "assessment_seconds",
    "submits",
)
# Session replay signals per candidate and challenge (app/services/replay.py), after "rating".
REPLAY_COLUMNS = (
    "replay_integrity",
    "typed_share",
    "pasted_outside_share",
    "pasted_inside_share",
    "outside_pastes",
    "largest_outside_paste_chars",
    "away_seconds",
    "longest_away_seconds",
    "first_run_seconds",
    "first_passing_run_seconds",
    "runs",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def export_rows(assessment: Assessment, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per invite and challenge. ``time_taken_seconds``: first run or submit of the
    challenge to the best submission; ``assessment_seconds``: the time used (see time_used)."""
    rows = []
    for summary in summaries_of(list(assessment.invites), now):
        rating = summary.rating
        taken = summary.time_taken
        for result in summary.results:
            best = result.best
            checks = {c["id"]: None for c in result.version.checks}
            if best is not None and best.report:
                checks.update({c["id"]: bool(c["passed"]) for c in best.report["checks"]})
            rows.append(
                {
                    "candidate_name": summary.invite.candidate_name,
                    "candidate_email": summary.invite.candidate_email or "",
                    "invite_status": summary.status,
                    "challenge": result.version.slug,
                    "version": result.version.version,
                    "best_score": best.score if best is not None else None,
                    "max_score": result.max_score,
                    "submitted_at": best.created_at.isoformat() + "Z" if best is not None else None,
                    "time_taken_seconds": _seconds(result.time_to_best),
                    "assessment_seconds": _seconds(taken),
                    "submits": len(result.submits),
                    "checks": checks,
                    "rating": rating,
                    **replay_columns(summary.invite, result, now),
                }
            )
    return rows


def replay_columns(
    invite: Invite, result: ChallengeResult, now: datetime | None = None
) -> dict[str, Any]:
    """The replay's signals for the export (see REPLAY_COLUMNS and docs/interviewers.md).
    ``replay_integrity``: ``ok`` (the replay is the code that was graded), ``problems`` (see
    the review) or ``not recorded`` (no events: not started, or recorded before replay existed).
    Shares are fractions of the final code's characters; times are seconds."""
    empty: dict[str, Any] = dict.fromkeys(REPLAY_COLUMNS)
    if invite.started_at is None:
        return {**empty, "replay_integrity": "not recorded", "runs": 0}
    analysis = replay.analyse_attempt(invite, result.version, result.submissions, now)
    found = analysis.signals
    share = found["share"] or {}
    largest = found["largest_outside_pastes"]

    def seconds(ms: int | None) -> int | None:
        return round(ms / 1000) if ms is not None else None

    recorded = bool(analysis.replay.events)
    return {
        "replay_integrity": (
            ("ok" if analysis.integrity["ok"] else "problems") if recorded else "not recorded"
        ),
        "typed_share": share.get("typed"),
        "pasted_outside_share": share.get("pasted_outside"),
        "pasted_inside_share": share.get("pasted_inside"),
        "outside_pastes": found["outside_pastes"],
        "largest_outside_paste_chars": largest[0]["size"] if largest else 0,
        "away_seconds": seconds(found["away_ms"]),
        "longest_away_seconds": seconds(found["longest_away_ms"]),
        "first_run_seconds": seconds(found["first_run_ms"]),
        "first_passing_run_seconds": seconds(found["first_passing_run_ms"]),
        "runs": found["runs"],
    }


def _seconds(span: timedelta | None) -> int | None:
    return round(span.total_seconds()) if span is not None else None


def export_csv(assessment: Assessment, now: datetime | None = None) -> str:
    """The rows as CSV, one pass/fail column per check (``slug:check-id``). Text cells that a
    spreadsheet would run as a formula are prefixed with a single quote."""
    check_columns = [
        (item.challenge.slug, check["id"])
        for item in assessment.items
        for check in item.challenge.checks
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            *EXPORT_COLUMNS,
            *(f"{slug}:{check_id}" for slug, check_id in check_columns),
            "rating",
            *REPLAY_COLUMNS,
        ]
    )
    for row in export_rows(assessment, now):
        verdicts = [
            _verdict(row["checks"].get(check_id)) if slug == row["challenge"] else ""
            for slug, check_id in check_columns
        ]
        cells = [
            *(row[column] for column in EXPORT_COLUMNS),
            *verdicts,
            row["rating"],
            *(row[column] for column in REPLAY_COLUMNS),
        ]
        writer.writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()


def _verdict(passed: bool | None) -> str:
    return "" if passed is None else ("pass" if passed else "fail")


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as text, never runs (CSV formula injection)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_filename(assessment: Assessment, extension: str, *, ascii_only: bool = False) -> str:
    """``assessment-7-backend-hiring.csv``: the title's letters and digits, lowercased, dashes
    between. ``ascii_only``: accents dropped and other non-ASCII letters left out (``Über`` ->
    ``uber``, ``日本`` -> nothing), for clients that do not read ``filename*``."""
    title = unicodedata.normalize("NFKD" if ascii_only else "NFC", assessment.title.lower())
    if ascii_only:
        title = title.encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[\W_]+", "-", title).strip("-")[:60].strip("-")
    return f"assessment-{assessment.id}{'-' + words if words else ''}.{extension}"


def content_disposition(assessment: Assessment, extension: str) -> str:
    """An attachment header naming the export: an ASCII ``filename`` for old clients and the
    full name as ``filename*`` (RFC 6266, RFC 5987). Neither can carry a quote, slash or line
    break: the names hold letters, digits, dashes and the dot before the extension only."""
    fallback = export_filename(assessment, extension, ascii_only=True)
    full = quote(export_filename(assessment, extension), safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{full}"
