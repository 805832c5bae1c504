"""Prove a challenge: every graded subject gets the verdicts its role promises, run after run.

Subjects: the starter (fails each ``detects_bug`` check, passes each ``guards_behaviour``
check), the reference solution and every sound fix (full marks), and every wrong fix (fails
exactly the checks it lists). Each subject is graded ``runs`` times; every run must agree.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from grader.grading import grade
from grader.sandbox.base import Sandbox
from grader.spec import Challenge


@dataclass(frozen=True)
class Subject:
    name: str
    files: dict[str, str]
    must_fail: frozenset[str]


@dataclass
class CheckTally:
    subject: str
    check_id: str
    expected: str
    passes: int = 0
    runs: int = 0
    values: list[float] = field(default_factory=list)
    unit: str = ""
    metric: str = ""  # the name of the check's first metric, whose values are kept
    surprises: list[str] = field(default_factory=list)  # why each run went against `expected`

    @property
    def ok(self) -> bool:
        wanted = self.runs if self.expected == "pass" else 0
        return self.passes == wanted and self.runs > 0

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


@dataclass
class Verification:
    challenge: Challenge
    runs: int
    tallies: list[CheckTally]
    problems: list[str]
    jobs: int = 1

    @property
    def ok(self) -> bool:
        return not self.problems and all(t.ok for t in self.tallies)


def subjects_of(challenge: Challenge) -> list[Subject]:
    detects = frozenset(c.id for c in challenge.spec.checks if c.role == "detects_bug")
    subjects = [
        Subject("starter", {}, detects),
        Subject("reference", dict(challenge.solution), frozenset()),
    ]
    for fix in challenge.fixes:
        subjects.append(Subject(f"{fix.kind}:{fix.name}", dict(fix.files), fix.fails))
    return subjects


def verify_challenge(
    challenge: Challenge,
    sandbox: Sandbox,
    runs: int = 3,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> Verification:
    """Grade every subject ``runs`` times, ``jobs`` grades at a time.

    Running two grades at once on a 2-core machine is itself a test: a check whose verdict
    changes under that contention would also flip for a candidate when two workers are busy.
    """
    subjects = subjects_of(challenge)
    tallies: dict[str, dict[str, CheckTally]] = {
        subject.name: {
            c.id: CheckTally(subject.name, c.id, "fail" if c.id in subject.must_fail else "pass")
            for c in challenge.spec.checks
        }
        for subject in subjects
    }
    work = [(subject, run) for subject in subjects for run in range(1, runs + 1)]
    problems: list[str] = []
    lock = threading.Lock()
    done = 0

    def one(item: tuple[Subject, int]) -> None:
        nonlocal done
        subject, run = item
        files = subject.files or {
            path: challenge.starter[path] for path in challenge.spec.editable_paths
        }
        report = grade(challenge, files, sandbox, mode="hidden")
        if report["status"] == "infra_error":  # the engine's fault, not the suite's: retry once
            report = grade(challenge, files, sandbox, mode="hidden")
        with lock:
            done += 1
            if report["status"] != "graded":
                problems.append(
                    f"{subject.name} run {run}: status {report['status']}: "
                    f"{report['status_detail']}"
                )
            _tally(report, tallies[subject.name], run)
            if progress:
                progress(f"{challenge.id}: {done}/{len(work)} graded ({subject.name} run {run})")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, work))
    flat = [tally for subject in subjects for tally in tallies[subject.name].values()]
    return Verification(
        challenge=challenge, runs=runs, tallies=flat, problems=sorted(problems), jobs=max(1, jobs)
    )


def _tally(report: dict[str, Any], by_check: dict[str, CheckTally], run: int) -> None:
    for check in report["checks"]:
        tally = by_check[check["id"]]
        tally.runs += 1
        tally.passes += int(check["passed"])
        if check["passed"] != (tally.expected == "pass"):
            tally.surprises.append(f"run {run}: {check['outcome']}: {_first_line(check)}")
        if check["metrics"] and check["metrics"][0]["value"] is not None:
            tally.values.append(check["metrics"][0]["value"])
            tally.unit = check["metrics"][0]["unit"]
            tally.metric = check["metrics"][0]["name"]


def _first_line(check: dict[str, Any]) -> str:
    lines = (check.get("message") or "").strip().splitlines()
    text = lines[0] if lines else "(no message)"
    return text if len(text) <= SURPRISE_CHARS else text[: SURPRISE_CHARS - 1] + "…"


SURPRISE_CHARS = 240


def median_metrics(result: Verification, subject: str) -> dict[str, dict[str, Any]]:
    """Check id -> ``{"name", "value", "unit"}``: the median over the runs of the first metric
    each check recorded for ``subject`` (e.g. "reference"); checks without one are left out."""
    return {
        tally.check_id: {"name": tally.metric, "value": tally.median, "unit": tally.unit}
        for tally in result.tallies
        if tally.subject == subject and tally.median is not None
    }


def render_table(result: Verification) -> str:
    challenge = result.challenge
    header = (
        f"{challenge.id} {challenge.version_label}: {result.runs} runs per subject, "
        f"{result.jobs} grade{'s' if result.jobs != 1 else ''} at a time"
    )
    rows = [("subject", "check", "expect", "passed", "median metric", "verdict")]
    surprises: dict[int, list[str]] = {}
    for tally in result.tallies:
        metric = ""
        if tally.values:
            metric = f"{statistics.median(tally.values):.4g} {tally.unit}".strip()
        rows.append(
            (
                tally.subject,
                tally.check_id,
                tally.expected,
                f"{tally.passes}/{tally.runs}",
                metric,
                "ok" if tally.ok else "WRONG",
            )
        )
        surprises[len(rows) - 1] = tally.surprises
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [header]
    for index, row in enumerate(rows):
        lines.append(
            "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        )
        lines.extend(f"      {surprise}" for surprise in surprises.get(index, []))
    lines.extend(f"  PROBLEM {problem}" for problem in result.problems)
    lines.append(f"  => {'verified' if result.ok else 'FAILED'}")
    return "\n".join(lines)
