"""Mutation testing of a challenge's reference (grader/mutation.py)."""

from __future__ import annotations

import dataclasses

import pytest

from grader import mutation

from ..conftest import GUARDED_TOTAL, guarded_sum

EQUIVALENT_CHANGES = {
    "if len(items) == 0:  ->  if len(items) == -1:": "a length is never -1",
    "if len(items) == 0:  ->  if len(items) < 0:": "a length is never negative",
    "if len(items) == 0:  ->  if len(items) <= 0:": "a length is never negative",
}
SURVIVOR_CHANGE = "if len(items) == 0:  ->  if len(items) == 1:"


def test_each_mutant_changes_one_line_of_one_editable_file(tmp_path):
    challenge = guarded_sum(tmp_path)
    mutants = mutation.generate_mutants(challenge)
    assert len(mutants) == 13
    for mutant in mutants:
        assert mutant.files.keys() == {"calc.py"}
        original = GUARDED_TOTAL.splitlines()
        changed = mutant.files["calc.py"].splitlines()
        assert len(changed) == len(original)
        differing = [i for i, (a, b) in enumerate(zip(original, changed, strict=True)) if a != b]
        assert differing == [mutant.line - 1]
        assert changed[mutant.line - 1].strip() == mutant.after
    changes = {m.change for m in mutants}
    assert {SURVIVOR_CHANGE, *EQUIVALENT_CHANGES} <= changes
    assert "for item in items:  ->  for item in []:" in changes


def test_mutant_ids_survive_lines_moving_and_are_unique(tmp_path):
    before = {m.change: m for m in mutation.generate_mutants(guarded_sum(tmp_path / "a"))}
    moved = guarded_sum(tmp_path / "b")
    shifted = '"""Totals."""\n\n\n' + GUARDED_TOTAL
    moved = dataclasses.replace(moved, solution={"calc.py": shifted})
    after = {m.change: m for m in mutation.generate_mutants(moved)}
    assert before.keys() == after.keys()
    for change, mutant in before.items():
        assert after[change].id == mutant.id
        assert after[change].line == mutant.line + 3
    assert len({m.id for m in before.values()}) == len(before)


def test_sampling_draws_the_same_mutants_every_time(tmp_path):
    mutants = mutation.generate_mutants(guarded_sum(tmp_path))
    first = [m.id for m in mutation.sample(mutants, 5)]
    assert first == [m.id for m in mutation.sample(mutants, 5)]
    assert len(first) == 5 and set(first) <= {m.id for m in mutants}
    assert mutation.sample(mutants, 50) == mutants


def test_changes_that_test_nothing_are_not_mutants(tmp_path):
    """A signature's type hints are left alone, and so are cosmic-ray's rewrites of the bare
    ``*`` that do not compile; the signature's defaults and the body are still mutated."""
    source = (
        "from __future__ import annotations\n"
        "\n"
        "def total(items: list[int] | None, *, start: int | None = 0) -> int | None:\n"
        "    return sum(items or [], start or 0)\n"
    )
    challenge = dataclasses.replace(guarded_sum(tmp_path), solution={"calc.py": source})
    mutants = mutation.generate_mutants(challenge)
    for mutant in mutants:
        compile(mutant.files["calc.py"], "calc.py", "exec")
    signature = {m.after for m in mutants if m.line == 3}
    assert signature == {
        "def total(items: list[int] | None, *, start: int | None = 1) -> int | None:",
        "def total(items: list[int] | None, *, start: int | None = -1) -> int | None:",
        "def total(items: list[int] | None, /, start: int | None = 0) -> int | None:",
    }
    assert len([m for m in mutants if m.line == 4]) == 4


def test_a_mutated_except_clause_still_imports(tmp_path):
    """cosmic-ray's exception replacer names an exception of its own; the mutant defines it, so
    the clause catches nothing instead of failing with a NameError."""
    challenge = guarded_sum(tmp_path)
    source = (
        "def parse(text):\n"
        "    try:\n"
        "        return int(text)\n"
        "    except ValueError:\n"
        "        return None\n"
    )
    challenge = dataclasses.replace(challenge, solution={"calc.py": source})
    [replaced] = [
        m for m in mutation.generate_mutants(challenge) if m.operator == "ExceptionReplacer"
    ]
    namespace: dict = {}
    exec(compile(replaced.files["calc.py"], "calc.py", "exec"), namespace)
    assert namespace["parse"]("7") == 7
    with pytest.raises(ValueError):
        namespace["parse"]("seven")


@pytest.mark.docker
def test_mutants_are_killed_by_the_checks_they_break_and_equivalents_do_not_count(
    tmp_path, docker_sandbox
):
    plain = mutation.generate_mutants(guarded_sum(tmp_path / "ids"))
    equivalent = {
        m.id: EQUIVALENT_CHANGES[m.change] for m in plain if m.change in EQUIVALENT_CHANGES
    }
    challenge = guarded_sum(tmp_path / "run", equivalent)

    run = mutation.run_mutants(challenge, docker_sandbox, jobs=2)

    assert run.problems == [] and run.stale_equivalents == []
    by_change = {r.mutant.change: r for r in run.results}
    assert len(by_change) == 13
    assert [r.mutant.change for r in run.survivors] == [SURVIVOR_CHANGE]
    assert {r.mutant.change for r in run.equivalent} == set(EQUIVALENT_CHANGES)
    assert all(not r.killed for r in run.equivalent)
    assert by_change["return 0  ->  return 1"].failed_checks == ["empty-is-zero"]
    assert by_change["for item in items:  ->  for item in []:"].failed_checks == ["sums-correctly"]
    assert run.score == pytest.approx(9 / 10)
    table = mutation.render_table(run)
    assert "SURVIVED" in table and "killed by empty-is-zero" in table
    assert "mutation score 90%: 9 killed of 10 (3 equivalent left out, 1 survived)" in table


@pytest.mark.docker
def test_a_reference_without_full_marks_stops_the_run(tmp_path, docker_sandbox):
    challenge = guarded_sum(tmp_path)
    broken = GUARDED_TOTAL.replace("result += item", "result += item + 1")
    challenge = dataclasses.replace(challenge, solution={"calc.py": broken})
    run = mutation.run_mutants(challenge, docker_sandbox)
    assert run.results == []
    assert run.problems and "does not get full marks" in run.problems[0]
