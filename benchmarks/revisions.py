"""Grading with the code of another revision, for benchmarks that compare against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

GRADE_AT_REVISION = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from grader.grading import grade
from grader.sandbox import DockerSandbox
from grader.spec import load_challenge
sandbox = DockerSandbox()
seconds = {}
for folder in sys.argv[2:]:
    challenge = load_challenge(Path(sys.argv[1]) / folder)
    started = time.perf_counter()
    report = grade(challenge, challenge.solution, sandbox)
    full = report["score"] == report["max_score"]
    seconds[folder] = time.perf_counter() - started if full else None
print(json.dumps(seconds))
"""


@contextmanager
def revision_tree(revision: str) -> Iterator[Path]:
    """A worktree of ``revision`` with its runner image built; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="faultline-rev-"))
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), revision],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "grader.images", "build"],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(folder)},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)],
            check=False,
            capture_output=True,
        )


def grade_at(tree: Path, folders: list[str]) -> dict[str, float | None]:
    """Seconds to grade each challenge's reference (folders relative to ``tree``) once with
    the code of ``tree``, in a process of its own; None where it did not get full marks."""
    done = subprocess.run(
        [sys.executable, "-c", GRADE_AT_REVISION, str(tree), *folders],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
