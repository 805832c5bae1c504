"""The numbers a candidate and an interviewer see for a submission: "Submission #2", "Test run
#5". Database ids are global (the third submission anyone made might be #4817), so pages never
show them; URLs still carry the id.

Numbering is per challenge: one candidate's (one invite's) submissions of one challenge are
#1, #2, #3... in the order they were made, and their test runs are #1, #2, #3... of their own.
Counted apart, the candidate's "Your submissions" list reads 1, 2, 3 with no gaps where test
runs went in between, and "Submission #2" means the same thing on the candidate's page and in
the interviewer's review. An admin's regrade is not the candidate's work: it has no number of
its own and is named after its original ("regrade of submission #2").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from app.extensions import db
from app.models import Submission, SubmissionMode


class _Numbered(Protocol):
    id: int
    mode: str
    created_at: datetime


def numbers_of(submissions: Iterable[_Numbered]) -> dict[int, int]:
    """id -> number, for every run and submit of one candidate's challenge (regrades left out
    by the caller), whatever order they come in: oldest first, runs and submits counted apart."""
    counts: Counter[str] = Counter()
    numbers = {}
    for submission in sorted(submissions, key=lambda s: (s.created_at, s.id)):
        counts[submission.mode] += 1
        numbers[submission.id] = counts[submission.mode]
    return numbers


def challenge_numbers(invite_id: int, version_id: int) -> dict[int, int]:
    """id -> number for every run and submit the candidate of ``invite_id`` made of the
    challenge version ``version_id``."""
    query = select(Submission.id, Submission.mode, Submission.created_at).where(
        *Submission.of_candidate(invite_id, version_id),
    )
    return numbers_of(db.session.execute(query))


def submission_number(submission: Submission) -> int:
    """The number of one run or submit (a regrade: its original's)."""
    original = submission.regrade_of or submission
    return challenge_numbers(original.invite_id, original.challenge_version_id)[original.id]


def describe(submission: Submission, number: int) -> str:
    """'submission #2', 'test run #5', or for an admin's regrade of submission #2 (``number``
    being the original's) 'regrade of submission #2 against v3'."""
    if submission.regrade_of is not None:
        original = describe(submission.regrade_of, number)
        return f"regrade of {original} against v{submission.challenge.version}"
    kind = "submission" if submission.mode == SubmissionMode.SUBMIT else "test run"
    return f"{kind} #{number}"
