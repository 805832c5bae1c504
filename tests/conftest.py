from __future__ import annotations

from pathlib import Path

import pytest

from grader.sandbox import DockerSandbox, LocalSandbox
from grader.spec import Challenge, load_challenge

REPO = Path(__file__).resolve().parent.parent
FIXTURE_CHALLENGES = Path(__file__).resolve().parent / "fixtures" / "challenges"


@pytest.fixture(scope="session")
def trivial_challenge() -> Challenge:
    return load_challenge(FIXTURE_CHALLENGES / "trivial-sum")


@pytest.fixture(scope="session")
def docker_sandbox() -> DockerSandbox:
    """The real Docker sandbox. Never skipped: `make test` starts the engine and builds the image,
    so a missing engine is a failure to report, not a reason to pass quietly."""
    sandbox = DockerSandbox()
    problem = sandbox.unavailable_reason()
    if problem:
        pytest.fail(f"Docker sandbox unavailable: {problem}")
    return sandbox


@pytest.fixture(scope="session")
def local_sandbox() -> LocalSandbox:
    return LocalSandbox()
