from __future__ import annotations

import io
import json
import tarfile

import pytest

from grader.workspace import SubmissionRejected, build_workspace, validate_submission


def test_accepts_editable_files_as_text(trivial_challenge):
    accepted = validate_submission(trivial_challenge, {"calc.py": b"def total(i):\n    return 0\n"})
    assert accepted == {"calc.py": "def total(i):\n    return 0\n"}


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"other.py": "x = 1"}, "'other.py' is not a file of this challenge"),
        ({"../calc.py": "x = 1"}, "is not a file of this challenge"),
        ({"calc.py": b"\xff\xfe\x00"}, "calc.py is not UTF-8 text"),
        ({"calc.py": "x = '\x00'"}, "NUL byte"),
        ({"calc.py": "#" * (10 * 1024 * 1024)}, "the limit is 262,144 bytes"),
        ({}, "no files submitted"),
    ],
)
def test_refuses_bad_submissions_with_the_reason(trivial_challenge, files, reason):
    with pytest.raises(SubmissionRejected, match=reason):
        validate_submission(trivial_challenge, files)


def test_hidden_workspace_lays_out_source_starter_tests_and_job(trivial_challenge):
    workspace = build_workspace(trivial_challenge, {"calc.py": "CANDIDATE"}, "hidden")
    paths = {f.path: f for f in workspace.files}
    assert paths["src/calc.py"].content == b"CANDIDATE"
    assert b"range(len(items) - 1)" in paths["starter/calc.py"].content
    assert "tests/test_calc.py" in paths
    assert paths["job.json"].mode == 0o600
    job = json.loads(paths["job.json"].content)
    assert [c["id"] for c in job["checks"]] == ["sums-correctly", "empty-is-zero"]
    assert job["wall_seconds"] == 20


def test_visible_workspace_never_contains_hidden_tests(trivial_challenge):
    workspace = build_workspace(trivial_challenge, {}, "visible")
    paths = {f.path for f in workspace.files}
    assert "tests/test_calc_visible.py" in paths
    assert "tests/test_calc.py" not in paths
    assert workspace.job["checks"] == []


def test_tar_has_root_owned_read_only_files(trivial_challenge):
    workspace = build_workspace(trivial_challenge, {"calc.py": "X"}, "hidden")
    with tarfile.open(fileobj=io.BytesIO(workspace.to_tar())) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert members["src/calc.py"].uid == 0
    assert members["src/calc.py"].mode == 0o644
    assert members["job.json"].mode == 0o600
    assert all(not m.issym() and not m.islnk() for m in members.values())
    assert all(".." not in m.name.split("/") for m in members.values())
