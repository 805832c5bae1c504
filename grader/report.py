"""The score report: built from the harness record, scored, bounded, and rendered.

The harness record is untrusted input (the candidate's code ran beside the process that wrote
part of it), so it is parsed strictly and anything missing or malformed fails closed.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.images import harness_dir
from grader.spec import Challenge

SCHEMA_VERSION = 1
MESSAGE_LIMIT = 500
STATUS_DETAIL_LIMIT = 500

Status = Literal["graded", "timeout", "oom", "error", "rejected", "infra_error"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class HarnessMetric(_Record):
    name: str = Field(max_length=64)
    label: str = Field(max_length=200)
    value: float | None
    unit: str = Field(max_length=16)
    limit: float | None = None
    starter: float | None = None
    better: Literal["lower", "higher"] = "lower"


class HarnessCheck(_Record):
    id: str = Field(max_length=500)
    node: str = Field(max_length=500)
    outcome: Literal["passed", "failed", "skipped", "timeout", "crashed", "missing"]
    duration: float = 0.0
    message: str = Field("", max_length=4000)
    metrics: list[HarnessMetric] = Field(default_factory=list, max_length=20)


class HarnessRecord(_Record):
    harness_version: str
    mode: Literal["hidden", "visible"]
    checks: list[HarnessCheck] = Field(max_length=500)
    collect_errors: list[str] = Field(default_factory=list, max_length=10)
    import_error: str = Field("", max_length=500)
    exits: list[str] = Field(default_factory=list, max_length=20)
    flags: list[str] = Field(default_factory=list, max_length=20)
    timed_out: bool = False
    oom: bool = False
    output: str = ""
    output_bytes: int = 0
    output_truncated: bool = False
    candidate_output: str = ""
    candidate_output_truncated: bool = False
    duration: float = 0.0


@dataclass(frozen=True)
class RunOutcome:
    """What a sandbox run produced, before scoring."""

    backend: str
    image: str | None
    record: dict[str, Any] | None
    timed_out: bool = False
    oom_killed: bool = False
    infra_error: str | None = None
    record_problem: str | None = None
    seconds: float = 0.0
    isolated: bool = True


@cache
def record_schema() -> dict[str, Any]:
    """The harness record's contract, shipped with the harness (faultline_harness/)."""
    return json.loads((harness_dir() / "faultline_harness" / "record.schema.json").read_text())


def parse_record(raw: bytes) -> HarnessRecord:
    """Parse the harness record against its contract (record.schema.json); raises ValueError
    with a reason if it cannot be trusted."""
    schema = record_schema()
    expected = schema["properties"]["harness_version"]["const"]
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"the harness record is malformed: {str(exc)[:200]}") from None
    version = data.get("harness_version") if isinstance(data, dict) else None
    if version != expected:
        raise ValueError(
            f"the runner image writes harness record version {str(version)[:20]!r}, this grader "
            f"reads {expected!r}: rebuild the image (make image)"
        )
    try:
        jsonschema.validate(data, schema)
        return HarnessRecord.model_validate(data)
    except (jsonschema.ValidationError, ValidationError) as exc:
        raise ValueError(f"the harness record is malformed: {str(exc)[:200]}") from None


def build_report(
    challenge: Challenge, mode: Literal["hidden", "visible"], outcome: RunOutcome
) -> dict[str, Any]:
    """Score a run. Every check without a trustworthy pass is failed (fail closed)."""
    record: HarnessRecord | None = None
    problem = outcome.record_problem
    if outcome.record is not None:
        try:
            record = HarnessRecord.model_validate(outcome.record)
        except ValidationError as exc:
            problem = f"the harness record is malformed: {str(exc)[:200]}"

    by_node = {c.node: c for c in record.checks} if record else {}
    checks = []
    flags = list(record.flags) if record else []
    if mode == "hidden":
        for check in challenge.spec.checks:
            found = by_node.get(check.test)
            scored = _scored_check(
                check.id, check.title, check.category, check.role, check.weight, found
            )
            broken = _metrics_over_their_limits(scored["metrics"])
            if scored["passed"] and broken:
                # A pass whose own evidence contradicts it is not trusted, whatever said pass.
                scored.update(passed=False, points=0, outcome="failed")
                scored["message"] = _bounded(f"{broken[0]['summary']} breaks its own limit")
                if len(flags) < 20:
                    flags.append(f"{check.id}: passed although its evidence breaks its limit")
            checks.append(scored)
    elif record is not None:
        for found in record.checks:
            title = found.node.split("::")[-1].replace("_", " ")
            checks.append(
                _scored_check(found.node, title, "correctness", "guards_behaviour", 1, found)
            )

    status, detail = _status(outcome, record, problem, checks, mode)
    if status in ("infra_error", "error") and record is None:
        for item in checks:
            item["passed"], item["points"] = False, 0
    score = sum(item["points"] for item in checks)
    report = {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "status_detail": detail[:STATUS_DETAIL_LIMIT],
        "mode": mode,
        "score": score,
        "max_score": sum(item["weight"] for item in checks),
        "challenge": _challenge_ref(challenge),
        "checks": checks,
        "durations": {
            "sandbox_seconds": round(outcome.seconds, 3),
            "tests_seconds": round(record.duration, 3) if record else None,
        },
        "sandbox": {
            "backend": outcome.backend,
            "image": outcome.image,
            "isolated": outcome.isolated,
        },
        "flags": flags,
        "collect_errors": list(record.collect_errors) if record else [],
        "output": record.output if record else "",
        "output_truncated": record.output_truncated if record else False,
        "candidate_output": record.candidate_output if record else "",
        "candidate_output_truncated": record.candidate_output_truncated if record else False,
        "grading": challenge.spec.grading if mode == "hidden" else "in-process",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    validate_report(report)
    return report


def infra_error_report(
    challenge: Challenge, mode: Literal["hidden", "visible"], reason: str
) -> dict[str, Any]:
    """The report for a run the platform could not carry out (no sandbox, attempts used up):
    every check failed as not run, the reason in ``status_detail``."""
    outcome = RunOutcome(backend="none", image=None, record=None, infra_error=reason)
    return build_report(challenge, mode, outcome)


def rejected_report(challenge: Challenge, mode: Literal["hidden", "visible"], reason: str) -> dict:
    """The report for a submission refused before it ran; nothing is charged to the score."""
    checks = []
    if mode == "hidden":
        checks = [
            _scored_check(c.id, c.title, c.category, c.role, c.weight, None, "not run: rejected")
            for c in challenge.spec.checks
        ]
    report = {
        "schema_version": SCHEMA_VERSION,
        "status": "rejected",
        "status_detail": reason[:STATUS_DETAIL_LIMIT],
        "mode": mode,
        "score": 0,
        "max_score": sum(item["weight"] for item in checks),
        "challenge": _challenge_ref(challenge),
        "checks": checks,
        "durations": {"sandbox_seconds": 0.0, "tests_seconds": None},
        "sandbox": {"backend": "none", "image": None, "isolated": True},
        "flags": [],
        "collect_errors": [],
        "output": "",
        "output_truncated": False,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    validate_report(report)
    return report


def _challenge_ref(challenge: Challenge) -> dict[str, Any]:
    return {
        "id": challenge.id,
        "version": challenge.spec.version,
        "content_hash": challenge.content_hash,
    }


def _scored_check(
    check_id: str,
    title: str,
    category: str,
    role: str,
    weight: int,
    found: HarnessCheck | None,
    missing_message: str = "no trustworthy result was recorded for this check",
) -> dict[str, Any]:
    passed = found is not None and found.outcome == "passed"
    metrics = [_metric(m) for m in found.metrics] if found else []
    return {
        "id": check_id,
        "title": title,
        "category": category,
        "role": role,
        "weight": weight,
        "passed": passed,
        "points": weight if passed else 0,
        "outcome": found.outcome if found else "missing",
        "message": _bounded(found.message if found else missing_message),
        "duration": round(found.duration, 3) if found else 0.0,
        "metrics": metrics,
        "evidence": [m["summary"] for m in metrics],
    }


def _metrics_over_their_limits(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Metrics whose measured value is on the wrong side of their own limit."""
    broken = []
    for metric in metrics:
        value, limit = metric.get("value"), metric.get("limit")
        if value is None or limit is None:
            continue
        slack = 1e-9 * max(1.0, abs(limit))
        lower_is_better = metric.get("better", "lower") == "lower"
        over = value > limit + slack if lower_is_better else value < limit - slack
        if over:
            broken.append(metric)
    return broken


def _metric(metric: HarnessMetric) -> dict[str, Any]:
    data = metric.model_dump()
    data["reference"] = None
    data["summary"] = describe_metric(data)
    return data


def describe_metric(metric: dict[str, Any]) -> str:
    """'memory growth: 307 KB (limit 8 MB; starter 61.2 MB)'."""
    unit = metric.get("unit") or ""

    def number(value: float | None) -> str:
        return quantity_text(value, unit)

    extras = []
    if metric.get("limit") is not None:
        word = "limit" if metric.get("better", "lower") == "lower" else "at least"
        extras.append(f"{word} {number(metric['limit'])}")
    for key in ("starter", "reference"):
        if metric.get(key) is not None:
            extras.append(f"{key} {number(metric[key])}")
    tail = f" ({'; '.join(extras)})" if extras else ""
    return f"{metric.get('label') or metric['name']}: {number(metric.get('value'))}{tail}"


_BYTES_PER = {"bytes": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_SECONDS_PER = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


def human_quantity(value: float, unit: str) -> str:
    """A measurement as a person reads it: '64 bytes' not '6.1e-05 MB', '42 µs' not
    '4.2e-05 s', '1 query' and '401 queries'. Other units keep the value's 4 figures."""
    if unit in _BYTES_PER:
        return _scaled(value * _BYTES_PER[unit], ((1024**3, "GB"), (1024**2, "MB"), (1024, "KB")))
    if unit in _SECONDS_PER:
        return _scaled(value * _SECONDS_PER[unit], ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")))
    if unit.isalpha() and unit.islower() and float(value).is_integer():
        count = int(value)
        return f"{count} {_singular(unit) if abs(count) == 1 else unit}"
    return f"{value:.4g} {unit}".rstrip()


def quantity_text(value: float | None, unit: str = "") -> str:
    """:func:`human_quantity`, or "n/a" for a figure that was not measured."""
    return "n/a" if value is None else human_quantity(value, unit)


def _scaled(amount: float, scales: tuple[tuple[float, str], ...]) -> str:
    for size, name in scales:
        if abs(amount) >= size:
            return f"{amount / size:.3g} {name}"
    if scales[0][1] == "s":  # under a microsecond
        return f"{amount / 1e-6:.3g} µs" if amount else "0 s"
    whole = round(amount)
    return f"{whole} byte" if abs(whole) == 1 else f"{whole} bytes"


def _singular(unit: str) -> str:
    if unit.endswith("ies"):
        return unit[:-3] + "y"
    if unit.endswith(("ches", "shes", "sses", "xes")):
        return unit[:-2]
    return unit[:-1] if unit.endswith("s") else unit


def with_reference(report: dict[str, Any], reference_metrics: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``report`` with the reference solution's measurements beside the candidate's.

    ``reference_metrics`` maps a check id to ``{"name", "value", "unit"}`` (the reference's
    median from verification). The check's metric of that name (without a name: its first
    metric) gets ``reference`` set, and its summary and the check's evidence are re-described.
    A unit that differs from the metric's is not comparable and is left out. The input report
    is not changed.
    """
    result = copy.deepcopy(report)
    for check in result.get("checks", []):
        reference = reference_metrics.get(check.get("id"))
        if not isinstance(reference, dict) or not _is_number(reference.get("value")):
            continue
        metrics = check.get("metrics", [])
        name = reference.get("name")
        matching = [m for m in metrics if m.get("name") == name] if name else metrics[:1]
        for metric in matching:
            if reference.get("unit") not in (None, metric.get("unit")):
                continue
            metric["reference"] = float(reference["value"])
            metric["summary"] = describe_metric(metric)
            check["evidence"] = [m["summary"] for m in metrics]
    return result


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _status(
    outcome: RunOutcome,
    record: HarnessRecord | None,
    problem: str | None,
    checks: list[dict[str, Any]],
    mode: str,
) -> tuple[Status, str]:
    if outcome.infra_error:
        return "infra_error", f"infrastructure problem, not your code: {outcome.infra_error}"
    if outcome.timed_out or (record and record.timed_out):
        return "timeout", "the run was stopped at its time limit; checks that had not finished fail"
    if outcome.oom_killed or (record and record.oom):
        return "oom", "the run exceeded its memory limit and was killed"
    if record is None:
        return "error", problem or "the run produced no result record"
    if (
        mode == "hidden"
        and checks
        and record.collect_errors
        and not any(c["passed"] for c in checks)
        and all(c["outcome"] in ("missing", "failed") for c in checks)
    ):
        if record.import_error:  # the judge's report of the candidate's own exception
            return "error", f"your code failed to import: {record.import_error}"
        return "error", "the tests could not run against this code (it failed to import)"
    if mode == "hidden" and checks and all(c["outcome"] == "missing" for c in checks):
        exits = "; ".join(record.exits[:2])
        detail = "the tests could not run against this code"
        if record.collect_errors:
            detail += " (it failed to import or collect)"
        return "error", f"{detail}: the test process {exits}" if exits else detail
    if mode == "visible" and not checks and record.collect_errors:
        raised = raised_at_collection(record.collect_errors[0])
        if raised:
            return "error", f"your code failed to import: {raised}"
        return "error", "the tests could not be collected: " + record.collect_errors[0][:300]
    passed = sum(1 for c in checks if c["passed"])
    hung = [c for c in checks if c["outcome"] == "timeout"]
    if mode == "visible" and hung:  # the candidate's own test: name it and say what happened
        return "graded", (
            f"{passed} of {len(checks)} tests passed; {hung[0]['title']} hung: {hung[0]['message']}"
        )
    return "graded", f"{passed} of {len(checks)} checks passed"


_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')
_FRAME = re.compile(r"^(\S+?\.py):(\d+): in ", re.MULTILINE)
_NOT_THE_CANDIDATES = ("site-packages/", "/usr/lib/", "tests/")


def raised_at_collection(collect_error: str) -> str | None:
    """The exception that ended a pytest collection error, with the candidate's file and line:
    ``SyntaxError: invalid syntax (webhooks.py, line 66)``. Only for visible runs, whose tests
    the candidate has: a hidden test's collection error could quote its source."""
    raised = [line[1:].strip() for line in collect_error.splitlines() if line.startswith("E ")]
    if not raised or ":" not in raised[-1]:
        return None
    text = raised[-1]
    located = next((match for match in map(_FILE_LINE.search, raised) if match), None)
    if located is None:
        frames = [
            frame
            for frame in _FRAME.finditer(collect_error)
            if not any(part in frame[1] for part in _NOT_THE_CANDIDATES)
        ]
        located = frames[-1] if frames else None
    if located is not None and "line " not in text:
        text += f" ({Path(located[1]).name}, line {located[2]})"
    return text[:STATUS_DETAIL_LIMIT]


def _bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 14] + " … (truncated)"


@cache
def report_schema() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "report.schema.json").read_text())


def validate_report(report: dict[str, Any]) -> None:
    jsonschema.validate(report, report_schema())


def candidate_view(report: dict[str, Any]) -> dict[str, Any]:
    """The report as a candidate may see it.

    For hidden runs: no raw output, no failure messages, no collection errors, no integrity flags
    (any of them can quote hidden test source), and nothing the candidate's own code printed
    (a candidate host can print what it was sent). Visible runs keep their output: the candidate
    has those tests.
    """
    view = {k: v for k, v in report.items() if k != "flags"}
    if report["mode"] == "hidden":
        view["output"] = ""
        view["output_truncated"] = False
        view["candidate_output"] = ""
        view["candidate_output_truncated"] = False
        view["collect_errors"] = []
        view["checks"] = [
            {k: v for k, v in check.items() if k != "message"} for check in report["checks"]
        ]
    return view


def render_text(report: dict[str, Any]) -> str:
    """A plain-text rendering for the command line."""
    challenge = report["challenge"]
    lines = [
        f"{challenge['id']} v{challenge['version']} ({challenge['content_hash'][:12]}) "
        f"[{report['mode']}] status: {report['status']}  score: {report['score']}/"
        f"{report['max_score']}",
        f"  {report['status_detail']}",
    ]
    for check in report["checks"]:
        mark = "PASS" if check["passed"] else "FAIL"
        lines.append(
            f"  {mark} {check['id']} [{check['category']}] {check['points']}/{check['weight']}"
            f"  {check['title']}"
        )
        lines.extend(f"       {text}" for text in check["evidence"])
        if not check["passed"] and check["message"]:
            first = check["message"].strip().splitlines()[:2]
            lines.extend(f"       > {text[:160]}" for text in first)
    for flag in report["flags"]:
        lines.append(f"  FLAG {flag}")
    sandbox = report["sandbox"]
    lines.append(
        f"  sandbox: {sandbox['backend']}"
        + ("" if sandbox["isolated"] else " (NOT ISOLATED: development only)")
        + f", {report['durations']['sandbox_seconds']} s"
    )
    return "\n".join(lines)
