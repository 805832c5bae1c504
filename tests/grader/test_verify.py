"""Verification names a check whose test did not run, rather than counting it as a verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.spec import Challenge, load_challenge
from grader.verify import did_not_run, render_table, verify_challenge

from ..conftest import FIXTURE_CHALLENGES

SUMS = "test_calc.py::test_total_adds_every_item"
EMPTY = "test_calc.py::test_total_of_nothing_is_zero"


def trivial_sum_with_hidden_tests(root: Path, edit) -> Challenge:
    """trivial-sum in ``root`` with its hidden test file rewritten by ``edit``."""
    folder = root / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    hidden = folder / "tests/hidden/test_calc.py"
    hidden.write_text(edit(hidden.read_text()))
    return load_challenge(folder)


def tally(result, subject: str, check_id: str):
    return next(t for t in result.tallies if (t.subject, t.check_id) == (subject, check_id))


def test_a_detects_bug_check_whose_fixture_fails_is_not_taken_for_the_starters_failure(
    tmp_path, local_sandbox
):
    """The starter must fail sums-correctly; a fixture error fails it too, without running it."""

    def break_fixture(source: str) -> str:
        source = source.replace(
            "def test_total_adds_every_item(evidence, candidate, starter):",
            "def test_total_adds_every_item(evidence, candidate, starter, broken):",
        )
        return (
            "import pytest\n\n\n@pytest.fixture\ndef broken():\n"
            "    raise ValueError('fixture broke')\n\n\n" + source
        )

    challenge = trivial_sum_with_hidden_tests(tmp_path, break_fixture)
    result = verify_challenge(challenge, local_sandbox, runs=1)

    assert not result.ok
    assert result.problems[0] == (
        f"check sums-correctly: its test {SUMS} did not run (error at setup: ValueError: fixture "
        "broke), in every grade"
    )
    starter = tally(result, "starter", "sums-correctly")
    assert (starter.expected, starter.passes, starter.ok) == ("fail", 0, False)
    assert tally(result, "starter", "empty-is-zero").ok  # the test that ran keeps its verdict
    assert tally(result, "reference", "empty-is-zero").ok
    assert not any("empty-is-zero" in problem for problem in result.problems)
    table = render_table(result)
    starter_row = next(line for line in table.splitlines() if "starter    sums-correctly" in line)
    assert starter_row.rstrip().endswith("NOT RUN")
    assert "      run 1: did not run: error at setup: ValueError: fixture broke" in table
    assert f"  PROBLEM check sums-correctly: its test {SUMS} did not run" in table


def test_a_fixture_the_candidates_code_fails_is_a_verdict_and_a_missing_fixture_is_not(
    tmp_path, local_sandbox
):
    """Setup errors differ: the code under test raising in a fixture is that code's failure;
    a fixture the suite never defined means the test could not run."""

    def edit(source: str) -> str:
        source = source.replace(
            "def test_total_adds_every_item(evidence, candidate, starter):",
            "def test_total_adds_every_item(evidence, candidate, starter, no_such_fixture):",
        ).replace(
            "def test_total_of_nothing_is_zero(candidate):",
            "def test_total_of_nothing_is_zero(candidate, total_of_none):",
        )
        return (
            "import pytest\n\n\n@pytest.fixture\ndef total_of_none(candidate):\n"
            "    return candidate.module('calc').total(None)\n\n\n" + source
        )

    result = verify_challenge(trivial_sum_with_hidden_tests(tmp_path, edit), local_sandbox, runs=1)

    assert result.problems == [
        f"check sums-correctly: its test {SUMS} did not run (error at setup: fixture "
        "'no_such_fixture' not found), in every grade"
    ]
    reference = tally(result, "reference", "empty-is-zero")
    assert reference.not_run == [] and not reference.ok  # a verdict, and the wrong one
    assert reference.surprises[0].startswith(
        "run 1: failed: setup: faultline_harness.judge.RemoteError: TypeError: "
    )
    table = render_table(result)
    reference_row = next(line for line in table.splitlines() if "reference  empty-is-zero" in line)
    assert reference_row.rstrip().endswith("WRONG")


def test_a_hidden_test_module_that_raises_at_import_names_each_check_and_the_error(
    tmp_path, local_sandbox
):
    challenge = trivial_sum_with_hidden_tests(
        tmp_path, lambda source: "raise RuntimeError('hidden module broke')\n" + source
    )
    result = verify_challenge(challenge, local_sandbox, runs=1)

    why = "test_calc.py could not be collected: RuntimeError: hidden module broke (test_calc.py:1)"
    assert result.problems[:2] == [
        f"check sums-correctly: its test {SUMS} did not run ({why}), in every grade",
        f"check empty-is-zero: its test {EMPTY} did not run ({why}), in every grade",
    ]
    assert all(t.not_run == [(1, why)] and not t.ok for t in result.tallies)


def test_a_case_id_made_at_run_time_that_pytest_does_not_find_is_named(tmp_path, local_sandbox):
    """Validation cannot work out ids computed at run time (here range(1, 2) gives [1]), so a
    wrong one is caught by verification, which names it and the check it stopped."""

    def parametrize(source: str) -> str:
        source = source.replace(
            "def test_total_of_nothing_is_zero(candidate):",
            "@pytest.mark.parametrize('n', range(1, 2))\n"
            "def test_total_of_nothing_is_zero(candidate, n):",
        )
        return "import pytest\n\n\n" + source

    folder = tmp_path / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    hidden = folder / "tests/hidden/test_calc.py"
    hidden.write_text(parametrize(hidden.read_text()))
    spec = folder / "challenge.yaml"
    spec.write_text(spec.read_text().replace(f"test: {EMPTY}", f"test: {EMPTY}[0]"))
    result = verify_challenge(load_challenge(folder), local_sandbox, runs=1)

    assert result.problems[:2] == [
        f"check sums-correctly: its test {SUMS} did not run (pytest ran no test: it found no "
        f"{EMPTY}), in every grade",  # pytest's words: it names the test, not the case
        f"check empty-is-zero: its test {EMPTY}[0] did not run (pytest found no such test), in "
        "every grade",
    ]


def test_a_hidden_conftest_that_fails_to_load_is_named_for_every_check(tmp_path, local_sandbox):
    folder = tmp_path / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    (folder / "tests/hidden/conftest.py").write_text("import pytest\n\nimport no_such_helper\n")
    result = verify_challenge(load_challenge(folder), local_sandbox, runs=1)

    why = (
        "pytest ran no test: conftest.py could not be loaded: ModuleNotFoundError: No module "
        "named 'no_such_helper' (conftest.py:3)"
    )
    assert result.problems[:2] == [
        f"check sums-correctly: its test {SUMS} did not run ({why}), in every grade",
        f"check empty-is-zero: its test {EMPTY} did not run ({why}), in every grade",
    ]


def test_a_check_that_ran_and_failed_is_a_verdict_not_a_test_that_did_not_run():
    ran = {"outcome": "failed", "message": "call: AssertionError: assert 36 == 45"}
    report = {"status": "graded", "checks": [ran], "collect_errors": [], "output": ""}
    assert did_not_run(ran, report, SUMS) is None
    timed_out = {"outcome": "timeout", "message": "stopped after 10 s (check limit 10 s)"}
    assert did_not_run(timed_out, report, SUMS) is None


@pytest.mark.parametrize("status", ["infra_error", "rejected"])
def test_a_run_the_platform_did_not_carry_out_is_left_to_its_status(status):
    check = {"outcome": "missing", "message": "no trustworthy result was recorded for this check"}
    report = {"status": status, "checks": [check], "collect_errors": [], "output": ""}
    assert did_not_run(check, report, SUMS) is None


def test_a_skipped_test_did_not_run():
    check = {"outcome": "skipped", "message": ""}
    report = {"status": "graded", "checks": [check], "collect_errors": [], "output": ""}
    assert did_not_run(check, report, SUMS) == "skipped"


IN_PROCESS_SETUP_ERRORS = """\
E.E                                                                      [100%]
==================================== ERRORS ====================================
_________________ ERROR at setup of test_total_adds_every_item _________________
../tests/test_calc.py:10: in f_suite
    return {}["missing"]
E   KeyError: 'missing'
________________________ ERROR at setup of TestK.test_b ________________________
../tests/test_calc.py:6: in f_remote
    return total(None)
calc.py:2: in total
    return sum(items)
E   TypeError: 'NoneType' object is not iterable
=========================== short test summary info ============================
"""


def test_in_process_a_setup_error_raised_in_the_code_under_test_is_a_verdict():
    """In-process the tests import the code under test: where the traceback ends tells whose
    exception it is (pytest's output, as the harness records it)."""
    report = {"status": "graded", "grading": "in-process", "output": IN_PROCESS_SETUP_ERRORS}
    suites = {"outcome": "failed", "message": "setup: KeyError: 'missing'"}
    candidates = {"outcome": "failed", "message": "setup: TypeError: 'NoneType' object is not"}
    assert did_not_run(suites, report, SUMS) == "error at setup: KeyError: 'missing'"
    assert did_not_run(candidates, report, "test_calc.py::TestK::test_b") is None
