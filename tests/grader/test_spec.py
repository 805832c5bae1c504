from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from grader.spec import ChallengeError, load_challenge, load_challenge_text

from ..conftest import FIXTURE_CHALLENGES


@pytest.fixture
def challenge_copy(tmp_path: Path) -> Path:
    target = tmp_path / "trivial-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", target)
    return target


def _edit_yaml(folder: Path, old: str, new: str) -> None:
    path = folder / "challenge.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_loads_files_and_pins_a_content_hash(trivial_challenge):
    assert trivial_challenge.spec.editable_paths == ["calc.py"]
    assert "def total" in trivial_challenge.starter["calc.py"]
    assert set(trivial_challenge.hidden_tests) == {"test_calc.py"}
    assert len(trivial_challenge.content_hash) == 64


def test_content_hash_changes_when_a_hidden_test_changes(challenge_copy, trivial_challenge):
    (challenge_copy / "tests/hidden/test_calc.py").write_text(
        "def test_x():\n    pass\n\n\ndef test_y():\n    pass\n"
    )
    _edit_yaml(
        challenge_copy,
        "test: test_calc.py::test_total_of_nothing_is_zero",
        "test: test_calc.py::test_x",
    )
    _edit_yaml(
        challenge_copy,
        "test: test_calc.py::test_total_adds_every_item",
        "test: test_calc.py::test_y",
    )
    changed = load_challenge(challenge_copy)
    assert changed.content_hash != trivial_challenge.content_hash


def test_malformed_yaml_names_the_file_and_line(challenge_copy):
    (challenge_copy / "challenge.yaml").write_text("id: trivial-sum\ntitle: [unclosed\n")
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    message = str(caught.value)
    assert "challenge.yaml" in message
    assert "line" in message and "invalid YAML" in message


def test_unknown_field_is_named_with_its_path(challenge_copy):
    _edit_yaml(challenge_copy, "    weight: 3\n", "    weight: 3\n    colour: blue\n")
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    assert "checks[0].colour: unknown field" in str(caught.value)


def test_invalid_value_is_named_with_its_path(challenge_copy):
    _edit_yaml(
        challenge_copy, "category: correctness\n    weight: 3", "category: vibes\n    weight: 3"
    )
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    assert "checks[0].category" in str(caught.value)


def test_a_version_past_the_integer_column_is_a_validation_error(challenge_copy):
    _edit_yaml(challenge_copy, "version: 1\n", f"version: {2**31}\n")
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    message = str(caught.value)
    assert "challenge.yaml" in message and "version" in message and "2147483647" in message


def test_missing_starter_file_is_reported(challenge_copy):
    (challenge_copy / "starter/calc.py").unlink()
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    assert "files[0].path: calc.py is missing from the starter" in str(caught.value)


def test_check_naming_a_missing_test_file_is_reported_with_the_check(challenge_copy):
    _edit_yaml(
        challenge_copy,
        "test: test_calc.py::test_total_adds_every_item",
        "test: test_nowhere.py::test_total_adds_every_item",
    )
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    assert (
        "checks[0].test: check sums-correctly: test test_nowhere.py::test_total_adds_every_item "
        "not found: tests.hidden has no test_nowhere.py (its Python files: test_calc.py)"
    ) in str(caught.value)


def test_check_naming_a_visible_test_is_told_checks_run_the_hidden_tests(challenge_copy):
    _edit_yaml(
        challenge_copy,
        "test: test_calc.py::test_total_adds_every_item",
        "test: test_calc_visible.py::test_total_of_two",
    )
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    assert (
        "checks[0].test: check sums-correctly: test test_calc_visible.py::test_total_of_two not "
        "found: tests.hidden has no test_calc_visible.py (it is a visible test; checks run the "
        "hidden tests)"
    ) in str(caught.value)


def test_check_naming_a_test_its_file_does_not_define_is_reported(challenge_copy):
    _edit_yaml(
        challenge_copy,
        "test: test_calc.py::test_total_adds_every_item",
        "test: test_calc.py::test_total_adds_evry_item",
    )
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    assert (
        "checks[0].test: check sums-correctly: test test_calc.py::test_total_adds_evry_item not "
        "found in test_calc.py: test_calc.py defines no test test_total_adds_evry_item (did you "
        "mean test_total_adds_every_item?)"
    ) in str(caught.value)


def test_every_check_whose_test_is_missing_is_named_not_only_the_first(challenge_copy):
    (challenge_copy / "tests/hidden/test_calc.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef test_total_adds_every_item():\n    return 1\n"
    )
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    message = str(caught.value)
    assert (
        "checks[0].test: check sums-correctly: test test_calc.py::test_total_adds_every_item not "
        "found in test_calc.py: test_total_adds_every_item is a fixture, not a test"
    ) in message
    assert (
        "checks[1].test: check empty-is-zero: test test_calc.py::test_total_of_nothing_is_zero "
        "not found in test_calc.py: test_calc.py defines no test test_total_of_nothing_is_zero"
    ) in message


def test_a_hidden_test_file_with_a_syntax_error_is_named_with_its_line_for_each_check(
    challenge_copy,
):
    (challenge_copy / "tests/hidden/test_calc.py").write_text(
        "def test_total_adds_every_item():\n    pass\n\n\n"
        "def test_total_of_nothing_is_zero(:\n    pass\n"
    )
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    lines = [line.split("challenge.yaml: ", 1)[1] for line in str(caught.value).splitlines()]
    assert lines == [
        "checks[0].test: check sums-correctly: test test_calc.py::test_total_adds_every_item "
        "cannot be looked up: test_calc.py does not parse (line 5, column 35: invalid syntax)",
        "checks[1].test: check empty-is-zero: test test_calc.py::test_total_of_nothing_is_zero "
        "cannot be looked up: test_calc.py does not parse (line 5, column 35: invalid syntax)",
    ]


@pytest.mark.parametrize("folder", ["hidden", "visible"])
def test_any_test_file_that_does_not_parse_is_refused_with_its_line(challenge_copy, folder):
    (challenge_copy / f"tests/{folder}/conftest.py").write_text("import pytest\nx = [1,\n")
    with pytest.raises(ChallengeError) as caught:
        load_challenge(challenge_copy)
    assert f"tests.{folder}: conftest.py does not parse (line 2" in str(caught.value)


def test_a_test_file_with_a_nul_byte_is_a_validation_error_not_a_crash():
    spec = yaml.safe_load((FIXTURE_CHALLENGES.parent / "uploads/inline-sum.yaml").read_text())
    spec["tests"]["hidden"]["test_calc.py"] = "import calc\n\x00\n"
    with pytest.raises(ChallengeError) as caught:
        load_challenge_text(yaml.safe_dump(spec), "inline.yaml")
    assert (
        "test_calc.py does not parse (line 2: source code string cannot contain null bytes)"
        in str(caught.value)
    )


def test_folder_name_must_match_the_id(challenge_copy):
    renamed = challenge_copy.rename(challenge_copy.parent / "other-name")
    with pytest.raises(ChallengeError, match="does not match the folder name"):
        load_challenge(renamed)


def test_path_traversal_in_file_entries_is_refused(challenge_copy):
    _edit_yaml(challenge_copy, "  - path: calc.py", "  - path: ../calc.py")
    with pytest.raises(ChallengeError, match=r"files\[0\]\.path"):
        load_challenge(challenge_copy)


def test_symlinked_starter_file_is_refused(challenge_copy, tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 'x'\n")
    (challenge_copy / "starter/calc.py").unlink()
    (challenge_copy / "starter/calc.py").symlink_to(secret)
    with pytest.raises(ChallengeError, match="symbolic link"):
        load_challenge(challenge_copy)


def test_non_utf8_brief_is_refused(challenge_copy):
    (challenge_copy / "brief.md").write_bytes(b"\xff\xfe bad")
    _edit_yaml(
        challenge_copy,
        'brief: {content: "Make `total` return the sum of its arguments."}',
        "brief: brief.md",
    )
    with pytest.raises(ChallengeError, match=r"brief: brief\.md is not UTF-8"):
        load_challenge(challenge_copy)


def test_a_single_yaml_can_inline_the_whole_challenge():
    text = """
id: inline-one
version: 2
title: Inline challenge
summary: Everything in one file.
difficulty: easy
time_limit_minutes: 10
brief: {content: "# Brief"}
interviewer_notes: {content: "notes"}
files:
  - {path: app.py, editable: true}
starter: {app.py: "def f():\\n    return 1\\n"}
solution: {app.py: "def f():\\n    return 2\\n"}
tests:
  visible: {test_v.py: "def test_v():\\n    pass\\n"}
  hidden: {test_h.py: "import app\\ndef test_h():\\n    assert app.f() == 2\\n"}
checks:
  - {id: returns-two, title: f returns two, category: correctness, weight: 1,
     test: "test_h.py::test_h", role: detects_bug}
promises:
  - {promise: f returns two, checks: [returns-two]}
"""
    challenge = load_challenge_text(text, "upload.yaml")
    assert challenge.solution == {"app.py": "def f():\n    return 2\n"}
    assert challenge.version_label.startswith("v2+")


def test_inline_yaml_cannot_name_paths_without_a_folder():
    text = (FIXTURE_CHALLENGES / "trivial-sum/challenge.yaml").read_text()
    with pytest.raises(ChallengeError, match="this YAML has no folder"):
        load_challenge_text(text, "upload.yaml")


def test_a_wrong_fix_must_name_known_checks(challenge_copy):
    (challenge_copy / "fixes/wrong/w").mkdir(parents=True)
    (challenge_copy / "fixes/wrong/w/calc.py").write_text("def total(items):\n    return 0\n")
    with (challenge_copy / "challenge.yaml").open("a") as handle:
        handle.write(
            "fixes:\n  wrong:\n    - {name: always-zero, path: fixes/wrong/w, fails: [nope]}\n"
        )
    with pytest.raises(ChallengeError, match="unknown check ids"):
        load_challenge(challenge_copy)


def test_every_library_challenge_is_valid():
    from grader.spec import discover_challenges

    folders = discover_challenges(Path(__file__).resolve().parents[2] / "challenges")
    assert folders, "the library has no challenges"
    for folder in folders:
        load_challenge(folder)


def test_payload_round_trip_keeps_the_exact_version(trivial_challenge):
    from grader.spec import challenge_from_payload, challenge_to_payload

    payload = json.loads(json.dumps(challenge_to_payload(trivial_challenge)))
    restored = challenge_from_payload(payload)
    assert restored == trivial_challenge


def test_tampered_payload_is_refused(trivial_challenge):
    from grader.spec import challenge_from_payload, challenge_to_payload

    payload = challenge_to_payload(trivial_challenge)
    payload["hidden_tests"] = {"test_calc.py": "def test_total_adds_every_item(): pass\n"}
    with pytest.raises(ChallengeError, match="does not match its hash"):
        challenge_from_payload(payload)


def test_a_version_stored_before_judged_grading_loads_as_in_process_with_its_hash(
    trivial_challenge,
):
    """Payloads stored before the ``grading`` field existed are in-process challenges, and the
    hash they were stored with still matches."""
    import dataclasses

    from grader.spec import _with_hash, challenge_from_payload, challenge_to_payload

    spec = trivial_challenge.spec.model_copy(update={"grading": "in-process"})
    legacy = _with_hash(dataclasses.replace(trivial_challenge, spec=spec))
    payload = challenge_to_payload(legacy)
    del payload["spec"]["grading"]
    loaded = challenge_from_payload(payload)
    assert loaded.spec.grading == "in-process"
    assert loaded.content_hash == legacy.content_hash


def test_grading_defaults_to_judged_and_rejects_unknown_values(trivial_challenge):
    from grader.spec import ChallengeSpec

    data = trivial_challenge.spec.model_dump(mode="json")
    del data["grading"]
    assert ChallengeSpec.model_validate(data).grading == "judged"
    data["grading"] = "trusted"
    with pytest.raises(ValueError, match="grading"):
        ChallengeSpec.model_validate(data)


PROMISES = """promises:
  - promise: total() returns the sum of every item it is given
    checks: [sums-correctly]
  - promise: total() of no items is still zero
    checks: [empty-is-zero]
"""


def test_a_challenge_without_promises_is_refused_with_the_reason(challenge_copy):
    _edit_yaml(challenge_copy, PROMISES, "")
    with pytest.raises(ChallengeError, match="promises: list what the brief promises"):
        load_challenge(challenge_copy)


def test_a_check_that_keeps_no_promise_is_named(challenge_copy):
    _edit_yaml(
        challenge_copy,
        "  - promise: total() of no items is still zero\n    checks: [empty-is-zero]\n",
        "",
    )
    with pytest.raises(ChallengeError, match=r"checks \['empty-is-zero'\] keep no promise"):
        load_challenge(challenge_copy)


def test_a_promise_naming_an_unknown_check_is_named(challenge_copy):
    _edit_yaml(challenge_copy, "checks: [empty-is-zero]", "checks: [empty-is-zero, is-fast]")
    with pytest.raises(
        ChallengeError, match=r"promises\[1\]\.checks: unknown check ids \['is-fast'\]"
    ):
        load_challenge(challenge_copy)


def test_equivalent_mutants_need_a_mutant_id_and_a_reason(challenge_copy):
    with (challenge_copy / "challenge.yaml").open("a") as handle:
        handle.write(
            "equivalent_mutants:\n  - {id: 'calc.py:NumberReplacer:0123abcd', reason: ok}\n"
        )
    with pytest.raises(ChallengeError, match=r"equivalent_mutants\[0\]\.reason"):
        load_challenge(challenge_copy)
    _edit_yaml(challenge_copy, "reason: ok", "reason: a length is never negative")
    _edit_yaml(challenge_copy, "calc.py:NumberReplacer:0123abcd", "calc.py line 3")
    with pytest.raises(ChallengeError, match=r"equivalent_mutants\[0\]\.id"):
        load_challenge(challenge_copy)


def test_a_version_stored_before_promises_loads_with_its_hash(trivial_challenge):
    """Payloads stored before ``promises`` and ``equivalent_mutants`` existed have neither, and
    the hash they were stored with still matches."""
    import dataclasses

    from grader.spec import _with_hash, challenge_from_payload, challenge_to_payload

    spec = trivial_challenge.spec.model_copy(update={"promises": []})
    legacy = _with_hash(dataclasses.replace(trivial_challenge, spec=spec))
    payload = challenge_to_payload(legacy)
    del payload["spec"]["promises"], payload["spec"]["equivalent_mutants"]
    loaded = challenge_from_payload(payload)
    assert loaded.spec.promises == []
    assert loaded.content_hash == legacy.content_hash
