"""Grade a candidate's files against a challenge: the one code path the worker and CLI share."""

from __future__ import annotations

from typing import Any

from grader.report import build_report, rejected_report
from grader.sandbox.base import Sandbox
from grader.spec import Challenge
from grader.workspace import Mode, SubmissionRejected, build_workspace, validate_submission


def grade(
    challenge: Challenge,
    files: dict[str, bytes | str],
    sandbox: Sandbox,
    mode: Mode = "hidden",
) -> dict[str, Any]:
    """Validate ``files``, run the ``mode`` tests in ``sandbox`` and return the score report.

    A submission that cannot be graded gets a ``rejected`` report naming the reason; an
    infrastructure failure gets ``infra_error``. Nothing the candidate's code does raises here.
    """
    try:
        accepted = validate_submission(challenge, files)
    except SubmissionRejected as exc:
        return rejected_report(challenge, mode, str(exc))
    workspace = build_workspace(challenge, accepted, mode)
    outcome = sandbox.run(workspace, challenge.spec.limits, label=f"{challenge.id}:{mode}")
    return build_report(challenge, mode, outcome)
