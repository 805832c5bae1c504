"""Grading overhead: Faultline's hardened run against a bare `docker run ... pytest`.

Grades the small fixture challenge N times through `grader.grading.grade` (workspace, hardened
container, harness, record read-back, report) and, interleaved in the same run, times a bare
`docker run --rm --network none <image> python -m pytest` on the same files. Prints both medians
and the ratio (ours / bare); the target is a ratio of at most 1.5.

    python benchmarks/grading_overhead.py [--runs 15] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from markdown_sections import replace_section  # noqa: E402
from revisions import grade_at, revision_tree  # noqa: E402
from sandboxes import docker_sandbox  # noqa: E402

from grader.grading import grade  # noqa: E402
from grader.spec import load_challenge  # noqa: E402
from grader.workspace import build_workspace  # noqa: E402

TARGET_RATIO = 1.5
TRIVIAL_SUM = "tests/fixtures/challenges/trivial-sum"


def bare_run(image: str, folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{folder}:/w:ro",
            "-w",
            "/w/src",
            "-e",
            "PYTHONPATH=/w/src",
            "-e",
            "PYTHONDONTWRITEBYTECODE=1",
            image,
            "python",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "/w/tests/test_calc.py",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--also-at",
        metavar="REV",
        help="grade trivial-sum with REV's code too, in the same rounds (b25abfc: in-process)",
    )
    parser.add_argument("--write", type=Path, help="write the figures into this Markdown file")
    args = parser.parse_args()

    challenge = load_challenge(REPO / TRIVIAL_SUM)
    sandbox = docker_sandbox()
    if sandbox is None:
        return 1
    ours, bare, theirs = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        build_workspace(challenge, challenge.solution, "hidden").write_to(folder)
        # The bare run has no plugin and no hosts: plain stand-ins for the fixtures, with the
        # candidate's and the starter's modules imported into the test process itself.
        (folder / "tests/conftest.py").write_text(
            "import importlib.util, pytest\n"
            "class _E:\n    def metric(self, *a, **k): pass\n"
            "class _Host:\n    def __init__(self, root):\n        self.root = root\n"
            "    def module(self, name):\n"
            "        spec = importlib.util.spec_from_file_location(self.root + name, "
            "f'/w/{self.root}/{name}.py')\n"
            "        m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "        return m\n"
            "@pytest.fixture\ndef evidence():\n    return _E()\n"
            "@pytest.fixture\ndef candidate():\n    return _Host('src')\n"
            "@pytest.fixture\ndef starter():\n    return _Host('starter')\n"
        )
        grade(challenge, challenge.solution, sandbox)
        bare_run(sandbox.image, folder)
        with ExitStack() as stack:
            tree = stack.enter_context(revision_tree(args.also_at)) if args.also_at else None
            for run in range(args.runs):
                started = time.perf_counter()
                report = grade(challenge, challenge.solution, sandbox)
                ours.append(time.perf_counter() - started)
                if report["score"] != report["max_score"]:
                    print(f"run {run}: unexpected report {report['status']}", file=sys.stderr)
                    return 1
                bare.append(bare_run(sandbox.image, folder))
                if tree is not None:
                    seconds = grade_at(tree, [TRIVIAL_SUM])[TRIVIAL_SUM]
                    if seconds is None:
                        print(f"run {run}: {args.also_at} did not give full marks", file=sys.stderr)
                        return 1
                    theirs.append(seconds)
    ours_median, bare_median = statistics.median(ours), statistics.median(bare)
    ratio = ours_median / bare_median
    lines = [
        f"runs: {args.runs} each, interleaved",
        f"faultline grade (hardened container, harness, report): median {ours_median:.3f} s "
        f"(min {min(ours):.3f}, max {max(ours):.3f})",
        f"bare docker run --rm --network none ... pytest:         median {bare_median:.3f} s "
        f"(min {min(bare):.3f}, max {max(bare):.3f})",
        f"ratio ours / bare: {ratio:.2f} (target <= {TARGET_RATIO})",
    ]
    if theirs:
        theirs_median = statistics.median(theirs)
        lines[2:2] = [
            f"the same grade with {args.also_at}'s code:{' ' * max(1, 15 - len(args.also_at))}"
            f"median {theirs_median:.3f} s (min {min(theirs):.3f}, max {max(theirs):.3f})"
        ]
        lines.append(
            f"ratio ours / {args.also_at}: {ours_median / theirs_median:.2f}; "
            f"{args.also_at} / bare: {theirs_median / bare_median:.2f}"
        )
    print("\n".join(lines))
    if args.write:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        section = (
            "## Grading overhead\n\n"
            "`python benchmarks/grading_overhead.py --runs N --write docs/benchmarks.md` "
            "(or `make benchmark`) grades the fixture challenge `trivial-sum` through the full "
            "path and, interleaved in the same run, times a bare `docker run --rm --network none "
            "<runner image> python -m pytest` on the same files; with `--also-at REV` it "
            "also grades it with REV's code in the same rounds (b25abfc is the last commit "
            "that graded in-process).\n\n"
            f"Measured {when} on {platform.machine()}, {platform.python_version()}, "
            "2 cores, Docker (Debian's docker.io):\n\n"
            "```\n" + "\n".join(lines) + "\n```\n\n"
            "Faultline's run does more than the bare one: it creates the container with the "
            "hardening options and two anonymous volumes, copies the job in, starts the harness "
            "(one Python process), which hands the hidden tests to the judge's uid and starts "
            "the judge (pytest, a second one) and a fork server (a third); the judge asks for a "
            "candidate host per check and a starter host for the baseline (each forked, each a "
            "fresh uid), drives them over the wire, and the harness reads the result record "
            "back through the Docker API, "
            "removes container and volumes, and builds and validates the report. The bare run "
            "imports the code into the test process. The figures vary with load on the 2-core "
            "machine; run it on an idle machine.\n"
        )
        replace_section(args.write, "## Grading overhead", section)
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
