"""When an attempt's time runs out, the work the candidate left unsubmitted is submitted for them.

Run by the workers' reconciler (app/worker.py), so it happens whether or not the candidate's
browser is still open: each attempt past its deadline is closed once, and every challenge the
candidate changed but never submitted gets a submission of its last saved text, marked
``at_timeout`` for the interviewer. A challenge the candidate did submit keeps its last
submission, as the page promised them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    ChallengeVersion,
    Draft,
    Invite,
    InviteState,
    Submission,
    SubmissionMode,
    utcnow,
)
from app.queue import enqueue_submission


def close_timed_out_attempts(now: datetime | None = None) -> list[Submission]:
    """Close every started attempt whose deadline has passed; return the submissions made."""
    now = now or utcnow()
    started = db.session.scalars(select(Invite).where(Invite.state == InviteState.STARTED)).all()
    made: list[Submission] = []
    for invite in started:
        deadline = invite.deadline
        if deadline is not None and deadline <= now:
            made += close_timed_out_attempt(invite)
    return made


def close_timed_out_attempt(invite: Invite) -> list[Submission]:
    """Close one attempt past its deadline (unless another process just did): the work left
    unsubmitted is submitted and queued. Returns the submissions made."""
    deadline = invite.deadline
    if deadline is None or not _claim(invite, deadline):
        return []
    made = _submit_unsubmitted_work(invite)
    db.session.commit()
    for submission in made:
        enqueue_submission(submission)  # if Redis is down, the reconciler enqueues it later
    return made


def _claim(invite: Invite, deadline: datetime) -> bool:
    """Finish the attempt, if it is still started: one conditional UPDATE, so that of two
    reconcilers (two workers) exactly one closes it, on SQLite and PostgreSQL alike."""
    claimed = db.session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.state == InviteState.STARTED)
        .values(state=InviteState.FINISHED, finished_at=deadline, timed_out=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return False
    db.session.refresh(invite)
    return True


def _submit_unsubmitted_work(invite: Invite) -> list[Submission]:
    made = []
    for item in invite.assessment.items:
        version = item.challenge
        if _was_submitted(invite, version):
            continue
        files = _last_saved_work(invite, version)
        if files is None:
            continue
        submission = Submission(
            invite_id=invite.id,
            challenge_version_id=version.id,
            mode=SubmissionMode.SUBMIT,
            files=files,
            at_timeout=True,
        )
        db.session.add(submission)
        made.append(submission)
    return made


def _was_submitted(invite: Invite, version: ChallengeVersion) -> bool:
    return (
        db.session.scalar(
            select(Submission.id)
            .where(
                *Submission.of_candidate(invite.id, version.id),
                Submission.mode == SubmissionMode.SUBMIT,
            )
            .limit(1)
        )
        is not None
    )


def _last_saved_work(invite: Invite, version: ChallengeVersion) -> dict[str, str] | None:
    """The editable files as the server last had them (the draft, else the newest run), or
    None when the candidate never changed them from the starter."""
    draft = db.session.scalar(
        select(Draft).where(Draft.invite_id == invite.id, Draft.challenge_version_id == version.id)
    )
    saved = draft.files if draft is not None else _newest_run_files(invite, version)
    if not saved:
        return None
    starter = version.payload["starter"]
    files = {path: saved.get(path, starter[path]) for path in version.editable_paths}
    if all(files[path] == starter[path] for path in files):
        return None
    return files


def _newest_run_files(invite: Invite, version: ChallengeVersion) -> dict[str, str] | None:
    return db.session.scalar(
        select(Submission.files)
        .where(*Submission.of_candidate(invite.id, version.id))
        .order_by(Submission.id.desc())
        .limit(1)
    )
