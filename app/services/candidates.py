"""What a candidate can do with an invite: start, save drafts, run tests, submit."""

from __future__ import annotations

import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    UNFINISHED,
    ChallengeVersion,
    Draft,
    Invite,
    InviteState,
    Submission,
    SubmissionMode,
    utcnow,
)
from app.queue import enqueue_submission
from app.services.timeouts import close_timed_out_attempt
from grader.spec import challenge_from_payload
from grader.workspace import SubmissionRejected, validate_submission

MODES = tuple(SubmissionMode)


RATE_WINDOW = timedelta(minutes=1)


class Refused(Exception):
    """A candidate action that cannot be done; ``status`` is the HTTP status to answer, and
    ``retry_after`` the seconds after which the same action can succeed, where that is known."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class StaleDraft(Refused):
    """A save based on an older draft than the server's: another tab or window saved since."""

    def __init__(self, current: Draft) -> None:
        super().__init__(
            409,
            "This challenge was saved from another tab or window since this page loaded it, so "
            "this save was refused to keep that work. Reload to continue from the newer text, "
            "or overwrite it with this page's text.",
        )
        self.current_version = current.version
        self.saved_at = current.updated_at


INVITE_EXPIRED = "This invite has expired. Ask your interviewer for a new link."


def invite_by_token(token: str) -> Invite:
    """The invite of ``token``. An unused link that has expired (or was revoked, which expires
    it) answers 410 and shows nothing of the candidate or the assessment: it may have been sent
    to the wrong person."""
    invite = db.session.scalar(select(Invite).where(Invite.token == token)) if token else None
    if invite is None:
        raise Refused(404, "This invite link is not valid. Check the link in your invitation.")
    if invite.is_expired():
        raise Refused(410, INVITE_EXPIRED)
    return invite


def start(invite: Invite) -> Invite:
    if invite.state == InviteState.PENDING:
        invite.state = InviteState.STARTED
        invite.started_at = utcnow()
        db.session.commit()
    return invite


TIME_UP = (
    "Time is up for this assessment: new work is not accepted. Work you saved but did not "
    "submit is submitted for you; a challenge you submitted keeps its last submission."
)


def require_open(invite: Invite) -> None:
    if invite.state == InviteState.PENDING:
        raise Refused(409, "Start the assessment first.")
    if invite.timed_out or (invite.state == InviteState.STARTED and not invite.is_open()):
        raise Refused(403, TIME_UP)
    if invite.state == InviteState.FINISHED:
        raise Refused(403, "You have finished this assessment; your last submission stands.")


def finish(invite: Invite) -> None:
    """The candidate ends the attempt. Past the deadline the clock has already ended it: it is
    closed as a time-out, so the work left unsubmitted is still submitted."""
    if invite.state == InviteState.STARTED and not invite.is_open():
        close_timed_out_attempt(invite)
    elif invite.state == InviteState.STARTED:
        invite.state = InviteState.FINISHED
        invite.finished_at = utcnow()
        db.session.commit()


def challenge_of(invite: Invite, slug: str) -> ChallengeVersion:
    for item in invite.assessment.items:
        if item.challenge.slug == slug:
            return item.challenge
    raise Refused(404, f"This assessment has no challenge {slug!r}.")


def draft_files(invite: Invite, version: ChallengeVersion) -> dict[str, str]:
    """The candidate's latest files: the draft where there is one, else the starter."""
    starter = dict(version.payload["starter"])
    draft = _draft(invite, version)
    if draft is not None:
        starter.update({k: v for k, v in draft.files.items() if k in starter})
    return starter


def draft_version(invite: Invite, version: ChallengeVersion) -> int:
    """The version of the saved draft, 0 when nothing is saved yet."""
    draft = _draft(invite, version)
    return draft.version if draft is not None else 0


def save_draft(
    invite: Invite,
    version: ChallengeVersion,
    files: object,
    base_version: object = None,
    overwrite: bool = False,
) -> Draft:
    """Save the editable files sent (the others keep their saved text) as the draft's next
    version. ``base_version`` is the version the sender's text was based on (0: no draft yet);
    when another save came in between, StaleDraft is raised and nothing changes, unless
    ``overwrite`` (the candidate chose to keep this copy). Without ``base_version`` (an API
    client that does not track versions) the save is unconditional."""
    require_open(invite)
    accepted = _validated(version, files)
    if base_version is not None and (
        isinstance(base_version, bool) or not isinstance(base_version, int) or base_version < 0
    ):
        raise Refused(400, "base_version must be a whole number of 0 or more")
    draft = _draft(invite, version)
    current = draft.version if draft is not None else 0
    unconditional = base_version is None or overwrite
    if draft is not None and not unconditional and base_version != current:
        raise StaleDraft(draft)  # with no draft yet there is nothing a save could overwrite
    if draft is None:
        draft = Draft(invite_id=invite.id, challenge_version_id=version.id, files=accepted)
        db.session.add(draft)
        try:
            db.session.commit()
        except IntegrityError:  # another save created it a moment ago
            db.session.rollback()
            if unconditional:
                return save_draft(invite, version, files, overwrite=True)
            raise StaleDraft(_draft(invite, version)) from None
        return draft
    saved = db.session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.version == current)
        .values(files={**draft.files, **accepted}, version=current + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    db.session.refresh(draft)
    if saved != 1:  # another save landed between the read and the write
        if unconditional:
            return save_draft(invite, version, files, overwrite=True)
        raise StaleDraft(draft)
    return draft


def create_submission(
    invite: Invite, version: ChallengeVersion, files: object, mode: str
) -> Submission:
    """Store the submission, then enqueue it. If Redis is down it stays queued and the
    reconciler enqueues it later: nothing is lost."""
    require_open(invite)
    if mode not in MODES:
        raise Refused(400, f"mode must be one of {', '.join(MODES)}")
    accepted = _validated(version, files)
    # One candidate's submits one at a time (PostgreSQL), so two at once cannot both pass the caps.
    db.session.execute(select(Invite.id).where(Invite.id == invite.id).with_for_update())
    in_flight = list(
        db.session.scalars(
            select(Submission).where(
                *Submission.of_candidate(invite.id), Submission.status.in_(list(UNFINISHED))
            )
        )
    )
    if any(s.challenge_version_id == version.id and s.mode == mode for s in in_flight):
        action = "run" if mode == SubmissionMode.RUN else "submission"
        raise Refused(409, f"Your previous {action} is still being graded; wait for its result.")
    _refuse_unfair(invite, version, len(in_flight))
    submission = Submission(
        invite_id=invite.id, challenge_version_id=version.id, mode=mode, files=accepted
    )
    db.session.add(submission)
    db.session.commit()
    enqueue_submission(submission)
    return submission


def _refuse_unfair(invite: Invite, version: ChallengeVersion, in_flight: int) -> None:
    """One candidate must not make the others wait: a cap on their jobs being graded at once,
    on their runs and submits per minute, and on what is kept per challenge."""
    config = current_app.config
    if in_flight >= config["MAX_JOBS_IN_FLIGHT"]:
        raise Refused(
            429,
            f"You already have {in_flight} "
            f"{'run or submission' if in_flight == 1 else 'runs or submissions'} being graded; "
            "wait for a result, then try again.",
            retry_after=5,
        )
    since = utcnow() - RATE_WINDOW
    recent = sorted(
        db.session.scalars(
            select(Submission.created_at).where(
                *Submission.of_candidate(invite.id), Submission.created_at > since
            )
        )
    )
    limit = config["GRADES_PER_MINUTE"]
    if len(recent) >= limit:
        frees_at = recent[len(recent) - limit] + RATE_WINDOW
        wait = max(1, math.ceil((frees_at - utcnow()).total_seconds()))
        raise Refused(
            429,
            f"You have made {len(recent)} runs and submissions in the last minute, the most "
            f"allowed; try again in {wait} s.",
            retry_after=wait,
        )
    kept = db.session.scalar(
        select(func.count(Submission.id)).where(*Submission.of_candidate(invite.id, version.id))
    )
    most = config["MAX_SUBMISSIONS_PER_CHALLENGE"]
    if kept >= most:
        raise Refused(
            409,
            f"You have made {kept} runs and submissions on this challenge, the most kept for one "
            "challenge; your last submission stands.",
        )


def submission_of(invite: Invite, submission_id: int) -> Submission:
    submission = db.session.get(Submission, submission_id)
    if (
        submission is None
        or submission.invite_id != invite.id
        or submission.regrade_of_id is not None
    ):
        raise Refused(404, "No such submission.")
    return submission


def _validated(version: ChallengeVersion, files: object) -> dict[str, str]:
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise Refused(400, "files must be an object mapping file names to their text")
    try:
        return validate_submission(challenge_from_payload(version.payload), files)
    except SubmissionRejected as exc:
        raise Refused(422, str(exc)) from None


def _draft(invite: Invite, version: ChallengeVersion) -> Draft | None:
    return db.session.scalar(
        select(Draft).where(Draft.invite_id == invite.id, Draft.challenge_version_id == version.id)
    )
