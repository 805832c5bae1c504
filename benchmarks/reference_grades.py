"""Reference grade time per challenge, against the judged-grading budget.

Grades each library challenge's reference solution N times in the Docker sandbox, one grade at
a time, challenges interleaved round by round so that a burst of load on the machine touches
all of them alike. Prints the median wall time of a grade per challenge and its ratio to the
in-process grade time (issue 9's budget: at most 1.5x).

The in-process figures are either the medians recorded on 2026-12-05, before judged grading, or,
with ``--in-process-from REV``, measured in this same run: REV (the last in-process commit is
b25abfc) is checked out into a temporary worktree, its own runner image is built, and its
references are graded in the same rounds, so both sides see the same machine.

    python benchmarks/reference_grades.py [--runs 3] [--only ID ...]
        [--in-process-from b25abfc] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from markdown_sections import replace_section  # noqa: E402
from revisions import grade_at, revision_tree  # noqa: E402
from sandboxes import docker_sandbox  # noqa: E402

from grader.grading import grade  # noqa: E402
from grader.spec import load_challenge  # noqa: E402

BUDGET_RATIO = 1.5
HEADING = "## Reference grade time per challenge"

IN_PROCESS_MEDIANS = {
    "api-rate-limiter": 2.27,
    "circular-import-startup": 1.38,
    "csv-import-throughput": 2.78,
    "large-json-oom": 2.63,
    "order-counts-n-plus-one": 0.93,
    "payment-retry-backoff": 2.36,
    "registration-race": 2.12,
    "thread-unsafe-cache": 1.73,
    "thumbnail-event-loop-blocking": 4.06,
    "webhook-dedup-leak": 2.69,
}
"""Seconds, median of 3 Docker grades of each reference with in-process grading, measured
2026-12-05 on an idle 2-core machine before any challenge was ported."""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="challenge ids (default: the whole library)")
    parser.add_argument(
        "--in-process-from", metavar="REV", help="measure the in-process side at REV, now"
    )
    parser.add_argument("--write", type=Path, help="write the figures into this Markdown file")
    args = parser.parse_args()

    sandbox = docker_sandbox()
    if sandbox is None:
        return 1
    ids = args.only or sorted(IN_PROCESS_MEDIANS)
    challenges = [load_challenge(REPO / "challenges" / cid) for cid in ids]
    judged: dict[str, list[float]] = {cid: [] for cid in ids}
    measured: dict[str, list[float]] = {cid: [] for cid in ids}
    with _maybe_tree(args.in_process_from) as tree:
        for _ in range(args.runs):
            for challenge in challenges:
                started = time.perf_counter()
                report = grade(challenge, challenge.solution, sandbox)
                judged[challenge.id].append(time.perf_counter() - started)
                if report["score"] != report["max_score"]:
                    print(f"{challenge.id}: reference scored {report['score']}", file=sys.stderr)
                    return 1
            if tree is not None:
                for folder, seconds in grade_at(tree, [f"challenges/{cid}" for cid in ids]).items():
                    cid = folder.removeprefix("challenges/")
                    if seconds is None:
                        print(f"{cid} at {args.in_process_from}: not full marks", file=sys.stderr)
                        return 1
                    measured[cid].append(seconds)

    lines, over = [], []
    for cid in ids:
        median = statistics.median(judged[cid])
        before = statistics.median(measured[cid]) if measured[cid] else IN_PROCESS_MEDIANS.get(cid)
        ratio = f"{median / before:4.2f}x of {before:5.2f} s" if before else "no in-process figure"
        if before and median > BUDGET_RATIO * before:
            over.append(cid)
            ratio += "  over budget"
        lines.append(
            f"{cid:32} median {median:6.2f} s  (min {min(judged[cid]):5.2f}, "
            f"max {max(judged[cid]):5.2f})  {ratio}"
        )
    lines.append(f"within {BUDGET_RATIO}x: {len(ids) - len(over)} of {len(ids)}")
    print("\n".join(lines))
    if args.write:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        baseline = (
            f"in-process grades of the same references at {args.in_process_from}, measured in "
            "the same rounds"
            if args.in_process_from
            else "the in-process medians recorded on 2026-12-05 before judged grading"
        )
        section = (
            f"{HEADING}\n\n"
            "`python benchmarks/reference_grades.py --runs N [--in-process-from REV] --write "
            "docs/benchmarks.md` grades each challenge's reference solution N times in the "
            "Docker sandbox, one grade at a time, and compares the median with in-process "
            f"grading (the budget: at most {BUDGET_RATIO}x).\n\n"
            f"Measured {when} on {platform.machine()}, 2 cores, {args.runs} grades each, "
            f"against {baseline}:\n\n"
            "```\n" + "\n".join(lines) + "\n```\n\n"
            "Compare in the same rounds: grade times on this machine drift by a third from one "
            "hour to the next (order-counts-n-plus-one's in-process grade took 0.93 s on "
            "2026-12-05 and 1.1 to 1.5 s on 2026-12-06), more than the budget's margin.\n"
        )
        replace_section(args.write, HEADING, section)
    return 0 if not over else 1


@contextmanager
def _maybe_tree(revision: str | None):
    if revision is None:
        yield None
        return
    with revision_tree(revision) as tree:
        yield tree


if __name__ == "__main__":
    sys.exit(main())
