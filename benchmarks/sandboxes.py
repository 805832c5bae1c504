"""The Docker sandbox a benchmark grades in, or the reason there is none."""

from __future__ import annotations

import sys

from grader.sandbox import DockerSandbox


def docker_sandbox() -> DockerSandbox | None:
    """A ready Docker sandbox; None (and the reason on stderr) when no engine answers."""
    sandbox = DockerSandbox()
    problem = sandbox.unavailable_reason()
    if problem:
        print(f"cannot benchmark: {problem}", file=sys.stderr)
        return None
    return sandbox
