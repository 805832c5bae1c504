"""The interface every sandbox backend implements."""

from __future__ import annotations

from typing import Protocol

from grader.report import RunOutcome
from grader.spec import Limits
from grader.workspace import Workspace

RESULTS_LIMIT_BYTES = 4 * 1024 * 1024
STARTUP_GRACE_SECONDS = 10.0
SCRATCH_MB = 64
SHM_MB = 16


class SandboxUnavailable(RuntimeError):
    """The backend cannot run anything (no engine, no image): an infrastructure problem."""


class Sandbox(Protocol):
    name: str
    isolated: bool

    def run(self, workspace: Workspace, limits: Limits, label: str = "") -> RunOutcome:
        """Run the harness on ``workspace`` and return what it recorded, never raising for
        anything the candidate's code did."""
        ...
