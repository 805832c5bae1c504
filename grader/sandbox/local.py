"""The development backend: the same harness as a plain subprocess. NOT ISOLATED.

It shares the host's network, filesystem and user. It exists for fast tests and authoring on a
machine without Docker; the app refuses it in production configuration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import images
from grader.report import RunOutcome, parse_record
from grader.sandbox.base import RESULTS_LIMIT_BYTES, STARTUP_GRACE_SECONDS
from grader.spec import Limits
from grader.workspace import Workspace


class LocalSandbox:
    name = "local"
    isolated = False

    def __init__(self, python: str | None = None) -> None:
        self.python = python or os.environ.get("FAULTLINE_LOCAL_PYTHON") or sys.executable

    def run(self, workspace: Workspace, limits: Limits, label: str = "") -> RunOutcome:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="faultline-local-") as scratch:
            root = Path(scratch)
            job, results = root / "job", root / "results"
            job.mkdir()
            results.mkdir(mode=0o700)
            workspace.write_to(job)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": str(images.harness_dir()),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            command = [
                self.python,
                "-m",
                "faultline_harness",
                str(job),
                str(results / "results.json"),
                "--python",
                self.python,
            ]
            process = subprocess.Popen(
                command,
                env=env,
                cwd=root,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            timed_out = False
            try:
                _, stderr = process.communicate(timeout=limits.wall_seconds + STARTUP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                _, stderr = process.communicate()
            record, problem = None, None
            path = results / "results.json"
            try:
                descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(descriptor, "rb") as handle:
                    raw = handle.read(RESULTS_LIMIT_BYTES + 1)
                if len(raw) > RESULTS_LIMIT_BYTES:
                    problem = "the result record is larger than allowed"
                else:
                    record = parse_record(raw).model_dump()
            except FileNotFoundError:
                tail = stderr.decode("utf-8", "replace")[-300:] if stderr else ""
                problem = "the run left no result record" + (f": {tail}" if tail else "")
            except (OSError, ValueError) as exc:
                problem = str(exc)
        return RunOutcome(
            backend=self.name,
            image=None,
            record=record,
            timed_out=timed_out,
            record_problem=problem,
            seconds=time.monotonic() - started,
            isolated=False,
        )
