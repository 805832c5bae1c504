"""The platform fails under a run: the sandbox reports it as an infra_error, never as the
candidate's error. The real Docker sandbox; each fault is made real (a full disk, a kill)."""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from docker.types import Mount

from grader.grading import grade
from grader.sandbox import DockerSandbox
from grader.sandbox.docker import LABEL
from grader.spec import Challenge

from .conftest import FIXTURE_LABEL

pytestmark = pytest.mark.docker

SLOW_SOLUTION = "import time\n\n\ndef total(items):\n    time.sleep(3)\n    return sum(items)\n"


class FullResultsDisk(DockerSandbox):
    """The sandbox with its results volume on a disk that is already full."""

    def __init__(self, results_dir: Path) -> None:
        super().__init__()
        self.results_dir = results_dir

    def _volumes(self) -> list[Mount]:
        job, _ = super()._volumes()
        return [job, Mount(target="/results", source=str(self.results_dir), type="bind")]


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs, filled to the last byte."""
    if os.geteuid() != 0:
        pytest.fail("mounting a small disk needs root, as CI has")
    mountpoint = tmp_path / "full"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)], check=True)
    try:
        try:
            with (mountpoint / "filler").open("wb", buffering=0) as handle:
                while True:
                    handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_a_full_results_disk_is_an_infra_error_not_the_candidates(
    in_process_trivial_challenge: Challenge, full_disk, docker_sandbox
):
    challenge = in_process_trivial_challenge
    report = grade(challenge, dict(challenge.solution), FullResultsDisk(full_disk))
    assert report["status"] == "infra_error", report["status_detail"]
    assert "could not write its result record" in report["status_detail"]
    assert "No space left on device" in report["status_detail"]
    assert report["score"] is None or report["score"] == 0


def test_a_sandbox_killed_from_outside_is_an_infra_error_not_the_candidates(
    in_process_trivial_challenge: Challenge, docker_sandbox
):
    """Docker kills a container when the engine stops (and an operator may): the run ends
    without a record, through no fault of the code in it."""
    challenge = in_process_trivial_challenge
    reports = []
    grading = threading.Thread(
        target=lambda: reports.append(grade(challenge, {"calc.py": SLOW_SOLUTION}, docker_sandbox))
    )
    grading.start()
    client = docker_sandbox.client
    deadline = time.monotonic() + 60
    running = []
    while not running and time.monotonic() < deadline:
        running = client.containers.list(filters={"label": [LABEL, FIXTURE_LABEL]})
        time.sleep(0.1)
    assert running, "the sandbox never started"
    time.sleep(1)
    running[0].kill()
    grading.join(timeout=120)
    (report,) = reports
    assert report["status"] == "infra_error", report["status_detail"]
    assert "stopped from outside" in report["status_detail"]
