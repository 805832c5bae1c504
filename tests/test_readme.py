"""The README's commands name what exists: challenges and their editable files."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import REPO_ROOT
from grader.spec import load_challenge

GRADE_EXAMPLE = re.compile(r"^flask grade (\S+) (\S+\.py)", re.MULTILINE)


def test_every_flask_grade_example_names_an_editable_file_of_a_real_challenge():
    examples = GRADE_EXAMPLE.findall((REPO_ROOT / "README.md").read_text())
    assert examples, "the README shows no `flask grade` example"
    for challenge_id, path in examples:
        challenge = load_challenge(REPO_ROOT / "challenges" / challenge_id)
        assert Path(path).name in challenge.spec.editable_paths, (challenge_id, path)
