"""Prove a challenge: every graded subject gets the verdicts its role promises, run after run.

Subjects: the starter (fails each ``detects_bug`` check, passes each ``guards_behaviour``
check), the reference solution and every sound fix (full marks), and every wrong fix (fails
exactly the checks it lists). Each subject is graded ``runs`` times; every run must agree.

A check whose test did not run (pytest did not collect it, its file failed at collection, a
fixture failed at setup, it was skipped) gave no verdict, so it proves nothing: not even the
failure a ``detects_bug`` check expects on the starter. Verification names such a check, its
node and the reason, instead of counting it as a fail.
"""

from __future__ import annotations

import re
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
    node: str = ""  # the check's pytest node
    not_run: list[tuple[int, str]] = field(default_factory=list)  # (run, why its test did not)

    @property
    def ok(self) -> bool:
        wanted = self.runs if self.expected == "pass" else 0
        return self.passes == wanted and self.runs > 0 and not self.not_run

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
            c.id: CheckTally(
                subject.name,
                c.id,
                "fail" if c.id in subject.must_fail else "pass",
                node=c.test,
            )
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
        challenge=challenge,
        runs=runs,
        tallies=flat,
        problems=not_run_problems(flat, runs) + sorted(problems),
        jobs=max(1, jobs),
    )


def _tally(report: dict[str, Any], by_check: dict[str, CheckTally], run: int) -> None:
    for check in report["checks"]:
        tally = by_check[check["id"]]
        tally.runs += 1
        tally.passes += int(check["passed"])
        why = did_not_run(check, report, tally.node)
        if why:
            tally.not_run.append((run, why))
            tally.surprises.append(f"run {run}: did not run: {why}")
        elif check["passed"] != (tally.expected == "pass"):
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
REASON_CHARS = 200
_NOT_FOUND = re.compile(r"^ERROR: (?:not found|found no collectors for):? (\S+)", re.MULTILINE)
_FRAME = re.compile(r"^(\S+\.py):(\d+): in ", re.MULTILINE)
_CONFTEST = re.compile(r"^ImportError while loading conftest '([^']+)'\.?", re.MULTILINE)
_OUR_STATUSES = ("infra_error", "rejected")  # the platform's or the submission's: said per run


def did_not_run(check: dict[str, Any], report: dict[str, Any], node: str) -> str | None:
    """Why this check's test gave no verdict in ``report`` (not collected, an error at
    collection or setup, skipped), or None when it ran. Runs the platform could not carry out
    or refused are left to their status."""
    if report.get("status") in _OUR_STATUSES:
        return None
    outcome = check.get("outcome")
    message = (check.get("message") or "").strip()
    if outcome == "missing":
        return _bounded_reason(_why_missing(report, node, message))
    if outcome == "skipped":
        return _bounded_reason(f"skipped: {message.splitlines()[0]}" if message else "skipped")
    if outcome == "failed" and message.startswith(("setup: ", "failed during setup")):
        why = _setup_error(report, node, message)
        return _bounded_reason(f"error at setup: {why}") if why else None
    return None


# What a fixture raises when the code under test failed it: a verdict on that code, not a test
# that could not run. pytest.fail and assert are the suite's own verdicts; the others are the
# judge's word for the candidate host's exceptions and failures (faultline_harness.judge).
_VERDICT_TYPES = frozenset(
    {
        "Failed",
        "AssertionError",
        "RemoteError",
        "CandidateImportError",
        "HostFailure",
        "HostGone",
        "HostTimeout",
        "HostTampered",
    }
)
_RAISED = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*): ")  # "pkg.mod.Error: ..."
_SETUP_HEADER = re.compile(r"^_+ ERROR at setup of (.+?) _+$", re.MULTILINE)


def _setup_error(report: dict[str, Any], node: str, message: str) -> str | None:
    """Why the check's test errored at setup, or None when the code under test caused it."""
    first = message.splitlines()[0].removeprefix("setup: ")
    raised = _RAISED.match(first)
    if raised and raised[1] in _VERDICT_TYPES:
        return None
    block = _setup_block(report.get("output") or "", node)
    if report.get("grading") == "in-process" and block:
        # The tests import the code under test: a frame outside the tests is that code's.
        frames = [f[1] for f in _FRAME.finditer(block) if not f[1].startswith("/")]
        if frames and not frames[-1].startswith("../tests/"):
            return None
    if raised:
        return first
    lines = [line[1:].strip() for line in block.splitlines() if line.startswith("E ")]
    return lines[-1] if lines else first


def _setup_block(output: str, node: str) -> str:
    """The run output's report of ``node``'s setup error (pytest names it Class.test[case])."""
    name = node.split("::", 1)[-1].replace("::", ".")
    headers = list(_SETUP_HEADER.finditer(output))
    for index, header in enumerate(headers):
        if header[1] == name:
            end = headers[index + 1].start() if index + 1 < len(headers) else len(output)
            return output[header.end() : end].split("\n=====", 1)[0]
    return ""


def _why_missing(report: dict[str, Any], node: str, message: str) -> str:
    test_file = node.split("::", 1)[0]
    errors = report.get("collect_errors") or []
    if errors:
        own = [e for e in errors if _mentions(e, test_file)]
        summary = _collect_summary((own or errors)[0])
        if own:
            return f"{test_file} could not be collected: {summary}"
        return f"pytest ran no test: collection failed: {summary}"
    output = report.get("output") or ""
    conftest = _CONFTEST.search(output)
    if conftest:  # pytest stopped before collecting anything
        block = output[conftest.end() :].split("\n\n", 1)[0]
        loaded = _in_tests(conftest[1])
        return f"pytest ran no test: {loaded} could not be loaded: {_collect_summary(block)}"
    not_found = [_in_tests(found) for found in _NOT_FOUND.findall(output)]
    if node in not_found or node.split("[", 1)[0] in not_found:  # it names no case it lacks
        return "pytest found no such test"
    if not_found:
        return f"pytest ran no test: it found no {not_found[0]}"
    return message.removeprefix("no result: ") or "no result was recorded"


def _in_tests(path: str) -> str:
    """A path pytest printed, relative to the tests folder of the job (``/job/tests/``)."""
    return path.split("/job/tests/", 1)[-1]


def _mentions(collect_error: str, test_file: str) -> bool:
    return (
        any(
            frame[1] == test_file or frame[1].endswith("/" + test_file)
            for frame in _FRAME.finditer(collect_error)
        )
        or f"/tests/{test_file}'" in collect_error
    )


def _collect_summary(collect_error: str) -> str:
    """``RuntimeError: boom (test_calc.py:3)``: what a collection error raised, and where."""
    raised = [line[1:].strip() for line in collect_error.splitlines() if line.startswith("E ")]
    lines = [line.strip() for line in collect_error.splitlines() if line.strip()]
    text = raised[-1] if raised else (lines[0] if lines else "a collection error")
    frames = list(_FRAME.finditer(collect_error))
    return f"{text} ({frames[-1][1]}:{frames[-1][2]})" if frames else text


def _bounded_reason(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def not_run_problems(tallies: list[CheckTally], runs: int) -> list[str]:
    """One problem per check and reason: ``check <id>: its test <node> did not run (<why>)``,
    with the grades it concerns."""
    grouped: dict[tuple[str, str, str], dict[str, list[int]]] = {}
    for tally in tallies:
        for run, why in tally.not_run:
            where = grouped.setdefault((tally.check_id, tally.node, why), {})
            where.setdefault(tally.subject, []).append(run)
    subjects = {tally.subject for tally in tallies}
    problems = []
    for (check_id, node, why), where in grouped.items():
        if set(where) == subjects and all(len(r) == runs for r in where.values()):
            scope = "every grade"
        else:
            scope = ", ".join(
                f"{subject} run{'s' if len(r) > 1 else ''} {', '.join(map(str, sorted(r)))}"
                for subject, r in where.items()
            )
        problems.append(f"check {check_id}: its test {node} did not run ({why}), in {scope}")
    return problems


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
                "ok" if tally.ok else ("NOT RUN" if tally.not_run else "WRONG"),
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
