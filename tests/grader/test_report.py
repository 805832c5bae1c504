from __future__ import annotations

import json

import jsonschema
import pytest

from grader.report import (
    RunOutcome,
    build_report,
    candidate_view,
    describe_metric,
    human_quantity,
    parse_record,
    raised_at_collection,
    record_schema,
    rejected_report,
    validate_report,
    with_reference,
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
    assert text == "memory growth: 307 KB (limit 8 MB; starter 61.2 MB)"


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (6.1e-05, "MB", "64 bytes"),
        (0, "MB", "0 bytes"),
        (1.35, "MB", "1.35 MB"),
        (-0.07, "MB", "-71.7 KB"),
        (4.2e-05, "s", "42 µs"),
        (0.0042, "ms", "4.2 µs"),
        (250, "ms", "250 ms"),
        (12, "us", "12 µs"),
        (1, "queries", "1 query"),
        (401, "queries", "401 queries"),
        (1, "fetches", "1 fetch"),
        (0, "lookups", "0 lookups"),
        (2.5, "requests", "2.5 requests"),
        (3.25, "x", "3.25 x"),
        (36, "", "36"),
    ],
)
def test_measurements_are_shown_in_units_a_person_reads(value, unit, shown):
    assert human_quantity(value, unit) == shown


def test_rejected_report_is_valid_and_scores_nothing(trivial_challenge):
    report = rejected_report(trivial_challenge, "hidden", "calc2.py is not a file")
    assert report["status"] == "rejected" and report["score"] == 0
    validate_report(report)


def test_schema_rejects_an_unknown_status(trivial_challenge):
    report = rejected_report(trivial_challenge, "hidden", "x")
    report["status"] = "passed"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)


def _sum_metric(value, **extra):
    return {
        "name": "sum",
        "label": "sum of 0..9",
        "value": value,
        "unit": "",
        "limit": 45,
        "starter": 36,
        "better": "higher",
        **extra,
    }


def _report_with_sum_metric(trivial_challenge, value=45):
    checks = [
        _check(PASS_SUM, "passed", metrics=[_sum_metric(value)]),
        _check(PASS_EMPTY, "passed"),
    ]
    return build_report(trivial_challenge, "hidden", RunOutcome("docker", "img", _record(checks)))


def test_with_reference_sets_the_reference_and_redescribes_the_metric(trivial_challenge):
    report = _report_with_sum_metric(trivial_challenge)
    result = with_reference(report, {"sums-correctly": {"name": "sum", "value": 45.0, "unit": ""}})
    metric = result["checks"][0]["metrics"][0]
    assert metric["reference"] == 45.0
    assert metric["summary"] == "sum of 0..9: 45 (at least 45; starter 36; reference 45)"
    assert result["checks"][0]["evidence"] == [metric["summary"]]
    validate_report(result)


def test_with_reference_leaves_the_input_report_unchanged(trivial_challenge):
    report = _report_with_sum_metric(trivial_challenge)
    before = repr(report)
    with_reference(report, {"sums-correctly": {"name": "sum", "value": 45.0, "unit": ""}})
    assert repr(report) == before
    assert report["checks"][0]["metrics"][0]["reference"] is None


@pytest.mark.parametrize(
    "reference",
    [
        {"name": "other-metric", "value": 45.0, "unit": ""},
        {"name": "sum", "value": 45.0, "unit": "MB"},
        {"name": "sum", "value": None, "unit": ""},
        {"name": "sum", "value": float("nan"), "unit": ""},
        {"name": "sum", "value": True, "unit": ""},
        "45",
    ],
)
def test_with_reference_ignores_references_that_do_not_match(trivial_challenge, reference):
    report = _report_with_sum_metric(trivial_challenge)
    result = with_reference(report, {"sums-correctly": reference})
    assert result == report


def test_with_reference_ignores_unknown_checks(trivial_challenge):
    report = _report_with_sum_metric(trivial_challenge)
    assert with_reference(report, {"no-such-check": {"name": "sum", "value": 1.0}}) == report


def test_with_reference_without_a_name_applies_to_the_first_metric(trivial_challenge):
    report = _report_with_sum_metric(trivial_challenge)
    result = with_reference(report, {"sums-correctly": {"value": 44.5, "unit": ""}})
    assert result["checks"][0]["metrics"][0]["reference"] == 44.5
    assert result["checks"][0]["evidence"][0].endswith("reference 44.5)")


def _metric(value, limit, better="lower"):
    return {
        "name": "m",
        "label": "m",
        "value": value,
        "unit": "",
        "limit": limit,
        "starter": None,
        "better": better,
    }


@pytest.mark.parametrize(
    ("metric", "trusted"),
    [
        (_metric(5.0, 3.0), False),
        (_metric(3.0, 3.0), True),
        (_metric(30.0, 45.0, "higher"), False),
        (_metric(45.0, 45.0, "higher"), True),
        (_metric(None, 3.0), True),
    ],
    ids=["over-a-ceiling", "at-a-ceiling", "under-a-floor", "at-a-floor", "no-value"],
)
def test_a_pass_whose_evidence_breaks_its_limit_fails_and_is_flagged(
    trivial_challenge, metric, trusted
):
    outcome = RunOutcome(
        "docker",
        "img",
        _record([_check(PASS_SUM, "passed", metrics=[metric]), _check(PASS_EMPTY, "passed")]),
    )
    report = build_report(trivial_challenge, "hidden", outcome)
    check = report["checks"][0]
    assert check["passed"] is trusted
    assert report["score"] == (4 if trusted else 1)
    assert bool(report["flags"]) is not trusted
    if not trusted:
        assert "breaks its own limit" in check["message"]


# ---- the harness record's contract (record.schema.json) ---------------------------------------


def _valid_record() -> dict:
    return {
        "harness_version": record_schema()["properties"]["harness_version"]["const"],
        "mode": "hidden",
        "checks": [
            {
                "id": "sums-correctly",
                "node": "test_calc.py::test_total_adds_every_item",
                "outcome": "passed",
                "duration": 0.01,
                "message": "",
                "metrics": [],
            }
        ],
        "collected": ["test_calc.py::test_total_adds_every_item"],
        "collect_errors": [],
        "exits": ["exited with status 0"],
        "flags": [],
        "timed_out": False,
        "oom": False,
        "output": "",
        "output_bytes": 0,
        "output_truncated": False,
        "duration": 0.3,
    }


def test_a_record_inside_its_contract_is_read():
    record = parse_record(json.dumps(_valid_record()).encode())
    assert record.checks[0].outcome == "passed"


def test_a_record_of_another_harness_version_says_to_rebuild_the_image():
    record = {**_valid_record(), "harness_version": "1"}
    with pytest.raises(ValueError, match=r"writes harness record version '1'.*make image"):
        parse_record(json.dumps(record).encode())


@pytest.mark.parametrize(
    "change",
    [
        {"collected": None},
        {
            "checks": [
                {
                    "id": "x",
                    "node": "y",
                    "outcome": "won",
                    "duration": 0,
                    "message": "",
                    "metrics": [],
                }
            ]
        },
        {"surprise": True},
    ],
    ids=["field-missing", "unknown-outcome", "unknown-field"],
)
def test_a_record_outside_its_contract_is_malformed(change):
    record = {**_valid_record(), **change}
    record = {k: v for k, v in record.items() if v is not None}
    with pytest.raises(ValueError, match="the harness record is malformed"):
        parse_record(json.dumps(record).encode())


def test_the_harness_writes_records_its_contract_accepts(trivial_challenge):
    """The local backend runs the harness itself and reads its record through parse_record."""
    from grader.grading import grade
    from grader.sandbox.local import LocalSandbox

    report = grade(trivial_challenge, trivial_challenge.solution, LocalSandbox())
    assert (report["status"], report["score"]) == ("graded", report["max_score"])


# ---- the reason a visible run could not import the candidate's code ------------------------

SYNTAX_ERROR_AT_COLLECTION = """\
/opt/venv/lib/python3.11/site-packages/_pytest/python.py:528: in importtestmodule
    mod = import_path(
<frozen importlib._bootstrap>:690: in _load_unlocked
    ???
../tests/test_memory_symptom.py:8: in <module>
    import webhooks
E     File "/job/src/webhooks.py", line 66
E       def broken(:
E                  ^
E   SyntaxError: invalid syntax
"""

NAME_ERROR_AT_COLLECTION = """\
/opt/venv/lib/python3.11/site-packages/_pytest/python.py:528: in importtestmodule
    mod = import_path(
../tests/test_calc_visible.py:1: in <module>
    from calc import total
../src/calc.py:3: in <module>
    RATE = undefined_name * 2
E   NameError: name 'undefined_name' is not defined
"""


def test_a_syntax_error_at_collection_reads_as_the_candidates_file_and_line():
    assert raised_at_collection(SYNTAX_ERROR_AT_COLLECTION) == (
        "SyntaxError: invalid syntax (webhooks.py, line 66)"
    )


def test_an_exception_at_collection_names_the_candidates_frame_not_the_tests():
    assert raised_at_collection(NAME_ERROR_AT_COLLECTION) == (
        "NameError: name 'undefined_name' is not defined (calc.py, line 3)"
    )


def test_a_collection_error_without_an_exception_line_gives_no_reason():
    assert raised_at_collection("ERROR: file or directory not found: tests/") is None
