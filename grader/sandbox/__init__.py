"""Where candidate code runs: a hardened Docker container, or (development only) a subprocess."""

from grader.sandbox.base import Sandbox, SandboxUnavailable
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.local import LocalSandbox

__all__ = ["DockerSandbox", "LocalSandbox", "Sandbox", "SandboxUnavailable", "choose_sandbox"]


def choose_sandbox(name: str | None = None) -> Sandbox:
    """``docker`` (default when an engine answers) or ``local``; raises SandboxUnavailable."""
    if name == "local":
        return LocalSandbox()
    sandbox = DockerSandbox()
    problem = sandbox.unavailable_reason()
    if problem:
        hint = (
            "" if name == "docker" else " (use --sandbox local for an unisolated development run)"
        )
        raise SandboxUnavailable(problem + hint)
    return sandbox
