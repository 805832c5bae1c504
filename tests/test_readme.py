"""The README names what exists: challenges and their editable files, the screenshots."""

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


def test_the_readme_shows_the_screenshots_the_script_writes():
    readme = (REPO_ROOT / "README.md").read_text()
    script = (REPO_ROOT / "scripts" / "screenshots.py").read_text()
    written = set(re.findall(r'out / "([a-z-]+\.png)"', script))
    shown = set(re.findall(r"\(docs/screenshots/([a-z-]+\.png)\)", readme))
    assert written == {"candidate-challenge.png", "candidate-report.png", "review-candidate.png"}
    assert shown == written
    for name in written:
        assert (REPO_ROOT / "docs" / "screenshots" / name).stat().st_size > 10_000, name
