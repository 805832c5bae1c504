from __future__ import annotations

import io
import json

import pytest
import yaml

from app import create_app
from app.services.uploads import UploadRefused, load_upload

from ..conftest import FIXTURE_CHALLENGES, guarded_sum

STARTER = str(FIXTURE_CHALLENGES / "trivial-sum/starter/calc.py")
SOLUTION = str(FIXTURE_CHALLENGES / "trivial-sum/solution/calc.py")


def test_list_shows_each_challenge(cli):
    result = cli("challenges", "list")
    assert result.exit_code == 0
    assert "trivial-sum" in result.output and "Sum is off by one" in result.output


def test_validate_reports_file_and_field(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad-one\nversion: 1\nflavour: x\n")
    result = cli("challenges", "validate", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: flavour: unknown field" in result.output


def test_validate_and_the_upload_refuse_a_missing_test_in_the_same_words(cli, tmp_path):
    spec = yaml.safe_load((FIXTURE_CHALLENGES.parent / "uploads/inline-sum.yaml").read_text())
    spec["checks"][1]["test"] = "test_calc.py::test_total_of_nothin_is_zero"
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = cli("challenges", "validate", str(path))
    with pytest.raises(UploadRefused) as refused:
        load_upload("same.yaml", io.BytesIO(path.read_bytes()))
    problem = (
        "checks[1].test: check empty-is-zero: test test_calc.py::test_total_of_nothin_is_zero "
        "not found in test_calc.py: test_calc.py defines no test test_total_of_nothin_is_zero "
        "(did you mean test_total_of_nothing_is_zero?)"
    )
    assert result.exit_code == 1
    assert f"{path}: {problem}" in result.output
    assert f"same.yaml: {problem}" in refused.value.problems


def test_show_never_prints_hidden_test_source(cli):
    result = cli("challenges", "show", "trivial-sum", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [c["id"] for c in data["checks"]] == ["sums-correctly", "empty-is-zero"]
    assert "test_total_adds_every_item" not in result.output
    assert "assert total" not in result.output


def test_show_unknown_challenge_is_a_clear_error(cli):
    result = cli("challenges", "show", "nope")
    assert result.exit_code == 1
    assert "unknown challenge 'nope'; known: trivial-sum" in result.output


@pytest.mark.docker
def test_grade_starter_prints_failing_check_and_evidence(cli, docker_sandbox):
    result = cli("grade", "trivial-sum", STARTER)
    assert result.exit_code == 0, result.output
    assert "FAIL sums-correctly" in result.output
    assert "sum of 0..9: 36 (at least 45; starter 36)" in result.output
    assert "score: 1/4" in result.output


@pytest.mark.docker
def test_grade_json_on_reference_is_full_marks(cli, docker_sandbox):
    result = cli("grade", "trivial-sum", SOLUTION, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["score"] == report["max_score"] == 4


def test_grade_wrong_file_name_exits_2_with_reason(cli, tmp_path):
    wrong = tmp_path / "calculator.py"
    wrong.write_text("x = 1\n")
    result = cli("grade", "trivial-sum", str(wrong), "--sandbox", "local")
    assert result.exit_code == 2
    assert "'calculator.py' is not a file of this challenge" in result.output


def test_grade_ten_megabyte_file_exits_2(cli, tmp_path):
    big = tmp_path / "calc.py"
    big.write_bytes(b"#" * (10 * 1024 * 1024))
    result = cli("grade", "trivial-sum", str(big), "--sandbox", "local")
    assert result.exit_code == 2
    assert "the limit is 262,144 bytes" in result.output


def test_grade_non_utf8_exits_2(cli, tmp_path):
    binary = tmp_path / "calc.py"
    binary.write_bytes(b"\xff\xfe\xfa")
    result = cli("grade", "trivial-sum", str(binary), "--sandbox", "local")
    assert result.exit_code == 2
    assert "not UTF-8" in result.output


def test_grade_unknown_challenge_exits_2(cli):
    result = cli("grade", "nope", SOLUTION)
    assert result.exit_code == 2


def test_grade_without_engine_says_so_and_stops(cli, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = cli("grade", "trivial-sum", SOLUTION)
    assert result.exit_code == 1
    assert "no Docker engine answers" in result.output
    assert "--sandbox local" in result.output


def test_grade_local_sandbox_warns_it_is_not_isolated(cli):
    result = cli("grade", "trivial-sum", SOLUTION, "--sandbox", "local")
    assert result.exit_code == 0
    assert "WITHOUT isolation" in result.output
    assert "score: 4/4" in result.output


@pytest.mark.docker
def test_verify_prints_the_table_and_passes(cli, docker_sandbox):
    result = cli("challenges", "verify", "trivial-sum", "--runs", "2")
    assert result.exit_code == 0, result.output
    assert "starter    sums-correctly  fail    0/2" in result.output
    assert "=> verified" in result.output


@pytest.mark.docker
def test_verify_fails_when_a_verdict_is_off_and_says_why_that_run_went_wrong(
    tmp_path, docker_sandbox
):
    import shutil

    from app import create_app

    folder = tmp_path / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    # A "reference" that is still broken: verification must catch it.
    shutil.copy(folder / "starter/calc.py", folder / "solution/calc.py")
    app = create_app({"TESTING": True, "CHALLENGES_DIR": tmp_path})
    result = app.test_cli_runner().invoke(args=["challenges", "verify", "--runs", "1"])
    assert result.exit_code == 1
    assert "reference  sums-correctly  pass    0/1" in result.output
    assert "WRONG" in result.output
    row = result.output.split("reference  sums-correctly")[1]
    assert row.splitlines()[1].startswith("      run 1: failed: ")
    assert "assert" in row.splitlines()[1].lower()


def test_verify_names_the_check_whose_test_did_not_run_and_why(tmp_path):
    import shutil

    folder = tmp_path / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    hidden = folder / "tests/hidden/test_calc.py"
    hidden.write_text("raise RuntimeError('hidden module broke')\n" + hidden.read_text())
    result = _cli_for(tmp_path)("challenges", "verify", "--runs", "1", "--sandbox", "local")
    assert result.exit_code == 1
    why = "test_calc.py could not be collected: RuntimeError: hidden module broke (test_calc.py:1)"
    assert (
        "  PROBLEM check sums-correctly: its test test_calc.py::test_total_adds_every_item did "
        f"not run ({why}), in every grade"
    ) in result.output
    starter_row = next(line for line in result.output.splitlines() if "starter    sums" in line)
    assert starter_row.rstrip().endswith("NOT RUN")
    assert f"      run 1: did not run: {why}" in result.output


def test_grade_maps_files_in_subfolders_to_their_challenge_path(tmp_path):
    from app.cli.grade import editable_name

    nested = tmp_path / "work" / "shop" / "models.py"
    editable = ["shop/models.py", "shop/services.py", "models.py"]
    assert editable_name(nested, editable) == "shop/models.py"
    assert editable_name(tmp_path / "services.py", editable) == "services.py"


def _cli_for(challenges_dir):
    runner = create_app({"TESTING": True, "CHALLENGES_DIR": challenges_dir}).test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_show_lists_each_promise_with_its_checks(cli):
    result = cli("challenges", "show", "trivial-sum")
    assert result.exit_code == 0
    assert "promise total() of no items is still zero: empty-is-zero" in result.output


@pytest.mark.docker
def test_verify_runs_as_many_grades_at_a_time_as_asked(cli, docker_sandbox):
    result = cli("challenges", "verify", "trivial-sum", "--runs", "1", "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert "1 runs per subject, 2 grades at a time" in result.output


@pytest.mark.docker
def test_mutate_prints_every_mutant_with_its_verdict_and_the_score(tmp_path, docker_sandbox):
    guarded_sum(tmp_path)
    result = _cli_for(tmp_path)("challenges", "mutate", "trivial-sum", "--max", "4", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert data["generated"] == 13 and data["graded"] == 4
    assert len({m["id"] for m in data["mutants"]}) == 4
    killed = [m for m in data["mutants"] if m["killed"]]
    assert all(m["failed_checks"] or m["status"] != "graded" for m in killed)
    assert data["score"] == pytest.approx(len(killed) / 4)


def test_validate_refuses_an_equivalent_mutant_that_no_longer_exists(tmp_path):
    guarded_sum(tmp_path, {"calc.py:NumberReplacer:0123abcd": "the old reference's guard"})
    result = _cli_for(tmp_path)("challenges", "validate")
    assert result.exit_code == 1
    assert "equivalent_mutants: calc.py:NumberReplacer:0123abcd match no mutant" in result.output
