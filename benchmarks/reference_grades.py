"""Reference grade time per challenge, against the judged-grading budget.

Grades each library challenge's reference solution N times in the Docker sandbox, one grade at
a time, challenges interleaved round by round so that a burst of load on the machine touches
all of them alike. Prints the median wall time of a grade per challenge and its ratio to the
in-process median recorded before judged grading (issue 9's budget: at most 1.5x).

    python benchmarks/reference_grades.py [--runs 3] [--only ID ...] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from markdown_sections import replace_section  # noqa: E402

from grader.grading import grade  # noqa: E402
from grader.sandbox import DockerSandbox  # noqa: E402
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
    parser.add_argument("--write", type=Path, help="write the figures into this Markdown file")
    args = parser.parse_args()

    sandbox = DockerSandbox()
    problem = sandbox.unavailable_reason()
    if problem:
        print(f"cannot benchmark: {problem}", file=sys.stderr)
        return 1
    ids = args.only or sorted(IN_PROCESS_MEDIANS)
    challenges = [load_challenge(REPO / "challenges" / cid) for cid in ids]
    seconds: dict[str, list[float]] = {cid: [] for cid in ids}
    for _ in range(args.runs):
        for challenge in challenges:
            started = time.perf_counter()
            report = grade(challenge, challenge.solution, sandbox)
            seconds[challenge.id].append(time.perf_counter() - started)
            if report["score"] != report["max_score"]:
                print(f"{challenge.id}: the reference scored {report['score']}", file=sys.stderr)
                return 1

    lines, over = [], []
    for cid in ids:
        median = statistics.median(seconds[cid])
        before = IN_PROCESS_MEDIANS.get(cid)
        ratio = f"{median / before:4.2f}x of {before:5.2f} s" if before else "no in-process figure"
        if before and median > BUDGET_RATIO * before:
            over.append(cid)
            ratio += "  over budget"
        lines.append(
            f"{cid:32} median {median:6.2f} s  (min {min(seconds[cid]):5.2f}, "
            f"max {max(seconds[cid]):5.2f})  {ratio}"
        )
    lines.append(f"within {BUDGET_RATIO}x: {len(ids) - len(over)} of {len(ids)}")
    print("\n".join(lines))
    if args.write:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        section = (
            f"{HEADING}\n\n"
            "`python benchmarks/reference_grades.py --runs N --write docs/benchmarks.md` grades "
            "each challenge's reference solution N times in the Docker sandbox, one grade at a "
            "time, and compares the median with the in-process median measured on 2026-12-05 "
            f"before judged grading (the budget: at most {BUDGET_RATIO}x).\n\n"
            f"Measured {when} on {platform.machine()}, 2 cores, {args.runs} grades each:\n\n"
            "```\n" + "\n".join(lines) + "\n```\n"
        )
        replace_section(args.write, HEADING, section)
    return 0 if not over else 1


if __name__ == "__main__":
    sys.exit(main())
