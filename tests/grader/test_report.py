from __future__ import annotations

import jsonschema
import pytest

from grader.report import (
    RunOutcome,
    build_report,
    candidate_view,
    describe_metric,
    rejected_report,
    validate_report,
)


def _record(checks, **extra):
    return {"harness_version": "1", "mode": "hidden", "checks": checks, **extra}


def _check(node, outcome, message="", metrics=()):
    return {
        "id": node,
        "node": node,
        "outcome": outcome,
        "duration": 0.1,
        "message": message,
        "metrics": list(metrics),
    }


PASS_SUM = "test_calc.py::test_total_adds_every_item"
PASS_EMPTY = "test_calc.py::test_total_of_nothing_is_zero"


def test_scores_passed_checks_by_weight(trivial_challenge):
    outcome = RunOutcome(
        "docker", "img", _record([_check(PASS_SUM, "passed"), _check(PASS_EMPTY, "failed", "boom")])
    )
    report = build_report(trivial_challenge, "hidden", outcome)
    assert (report["status"], report["score"], report["max_score"]) == ("graded", 3, 4)
    assert [c["points"] for c in report["checks"]] == [3, 0]


def test_missing_check_fails_closed(trivial_challenge):
    outcome = RunOutcome("docker", "img", _record([_check(PASS_SUM, "passed")]))
    report = build_report(trivial_challenge, "hidden", outcome)
    empty = report["checks"][1]
    assert empty["passed"] is False and empty["outcome"] == "missing"
    assert report["score"] == 3


def test_results_for_unknown_nodes_earn_nothing(trivial_challenge):
    outcome = RunOutcome("docker", "img", _record([_check("test_calc.py::test_fake", "passed")]))
    report = build_report(trivial_challenge, "hidden", outcome)
    assert report["score"] == 0
    assert report["status"] == "error"


def test_malformed_record_is_an_error_with_zero_score(trivial_challenge):
    outcome = RunOutcome("docker", "img", {"checks": "all passed"})
    report = build_report(trivial_challenge, "hidden", outcome)
    assert report["status"] == "error" and report["score"] == 0
    assert "malformed" in report["status_detail"]


def test_infra_error_says_it_is_not_the_candidates_fault(trivial_challenge):
    outcome = RunOutcome("docker", "img", None, infra_error="no Docker engine answers")
    report = build_report(trivial_challenge, "hidden", outcome)
    assert report["status"] == "infra_error"
    assert report["status_detail"].startswith("infrastructure problem, not your code")


@pytest.mark.parametrize(
    ("kwargs", "status"), [({"timed_out": True}, "timeout"), ({"oom_killed": True}, "oom")]
)
def test_outer_kills_set_the_status(trivial_challenge, kwargs, status):
    outcome = RunOutcome("docker", "img", None, **kwargs)
    assert build_report(trivial_challenge, "hidden", outcome)["status"] == status


def test_messages_are_bounded(trivial_challenge):
    outcome = RunOutcome("docker", "img", _record([_check(PASS_SUM, "failed", "x" * 3000)]))
    report = build_report(trivial_challenge, "hidden", outcome)
    assert len(report["checks"][0]["message"]) <= 500


def test_candidate_view_drops_raw_output_and_hidden_messages(trivial_challenge):
    secret = "assert hidden_internal_value == 42"
    outcome = RunOutcome(
        "docker",
        "img",
        _record(
            [_check(PASS_SUM, "failed", secret)], output=f"FAILED {secret}", collect_errors=[secret]
        ),
    )
    view = candidate_view(build_report(trivial_challenge, "hidden", outcome))
    assert secret not in repr(view)
    assert view["checks"][0]["title"] == "total() adds every item"


def test_metric_summary_reads_like_evidence():
    text = describe_metric(
        {
            "name": "growth",
            "label": "memory growth",
            "value": 0.3,
            "unit": "MB",
            "limit": 8,
            "starter": 61.2,
            "reference": None,
            "better": "lower",
        }
    )
    assert text == "memory growth: 0.3 MB (limit 8 MB; starter 61.2 MB)"


def test_rejected_report_is_valid_and_scores_nothing(trivial_challenge):
    report = rejected_report(trivial_challenge, "hidden", "calc2.py is not a file")
    assert report["status"] == "rejected" and report["score"] == 0
    validate_report(report)


def test_schema_rejects_an_unknown_status(trivial_challenge):
    report = rejected_report(trivial_challenge, "hidden", "x")
    report["status"] = "passed"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)
