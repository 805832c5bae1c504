from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.sandbox import DockerSandbox, LocalSandbox
from grader.spec import Challenge, load_challenge

REPO = Path(__file__).resolve().parent.parent
FIXTURE_CHALLENGES = Path(__file__).resolve().parent / "fixtures" / "challenges"


# The fixture's reference, written so that its mutants include every kind of result: killed by
# one check or the other, equivalent (a length is never negative), and one true survivor (no
# hidden test sums a one-item list, so `len(items) == 1` gets full marks).
GUARDED_TOTAL = """\
def total(items):
    if len(items) == 0:
        return 0
    result = 0
    for item in items:
        result += item
    return result
"""


def guarded_sum(root: Path, equivalent: dict[str, str] | None = None) -> Challenge:
    """trivial-sum with GUARDED_TOTAL as its reference, in a folder of its own under ``root``."""
    folder = root / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    (folder / "solution/calc.py").write_text(GUARDED_TOTAL)
    if equivalent:
        spec = yaml.safe_load((folder / "challenge.yaml").read_text())
        spec["equivalent_mutants"] = [{"id": i, "reason": r} for i, r in equivalent.items()]
        (folder / "challenge.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_challenge(folder)


@pytest.fixture(scope="session")
def trivial_challenge() -> Challenge:
    return load_challenge(FIXTURE_CHALLENGES / "trivial-sum")


IN_PROCESS_TRIVIAL_TESTS = """\
from calc import total


def test_total_adds_every_item(evidence, starter):
    items = list(range(10))
    evidence.metric("sum", total(items), limit=45, starter=starter.load("calc").total(items),
                    better="higher", label="sum of 0..9")
    assert total(items) == 45


def test_total_of_nothing_is_zero():
    assert total([]) == 0
"""


@pytest.fixture(scope="session")
def in_process_trivial_challenge(trivial_challenge: Challenge) -> Challenge:
    """trivial-sum graded the old way (``grading: in-process``: the tests import calc), for the
    sandbox's own defences, which still guard the challenges not yet ported to judged grading."""
    import dataclasses

    spec = trivial_challenge.spec.model_copy(update={"grading": "in-process"})
    return dataclasses.replace(
        trivial_challenge, spec=spec, hidden_tests={"test_calc.py": IN_PROCESS_TRIVIAL_TESTS}
    )


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


def spawn_worker(
    *,
    database_url: str,
    redis_url: str,
    queues: list[str],
    challenges_dir: Path,
    output=subprocess.DEVNULL,
    extra_env: dict[str, str] | None = None,
    scheduler: bool = False,
) -> subprocess.Popen:
    """A real `rq worker` process, as the Procfile starts it, in a session of its own (so the
    whole process group can be signalled)."""
    command = [str(Path(sys.executable).parent / "rq"), "worker"]
    command += ["--worker-class", "app.worker.GradingWorker", "--url", redis_url]
    if scheduler:
        command.append("--with-scheduler")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FAULTLINE_QUEUE": queues[0],
        "FAULTLINE_CHALLENGES_DIR": str(challenges_dir),
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [*command, *queues],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def stop_worker(worker: subprocess.Popen, grace_seconds: float = 15) -> None:
    if worker.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
