"""The shipped challenge library, proven in the real Docker sandbox.

Verification is the heavy part of the suite, so it runs once (`flask challenges verify`, three
runs per subject, two grades at a time) and the tests read its output. The longer proof, five
runs per subject, is `benchmarks/fidelity.py`'s (docs/fidelity.md): at five runs this
verification took more than half of the suite's time, and the suite ran over its 45-minute
budget.
"""

from __future__ import annotations

import json

import pytest

from app import create_app
from app.config import REPO_ROOT
from grader.spec import discover_challenges, load_challenge

pytestmark = pytest.mark.docker

LIBRARY = REPO_ROOT / "challenges"
CHALLENGES = [load_challenge(folder) for folder in discover_challenges(LIBRARY)]
IDS = [c.id for c in CHALLENGES]


@pytest.fixture(scope="module")
def library_cli():
    app = create_app({"TESTING": True, "CHALLENGES_DIR": LIBRARY})
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture(scope="module")
def verification(library_cli, docker_sandbox):
    return library_cli("challenges", "verify", "--runs", str(RUNS), "--jobs", "2")


SEED_SCENARIOS = {
    "webhook-dedup-leak",
    "order-counts-n-plus-one",
    "registration-race",
    "thumbnail-event-loop-blocking",
    "api-rate-limiter",
    "circular-import-startup",
    "csv-import-throughput",
    "large-json-oom",
    "thread-unsafe-cache",
    "payment-retry-backoff",
}
RUNS = 3


def test_library_has_all_ten_seed_scenarios():
    assert set(IDS) == SEED_SCENARIOS


@pytest.mark.parametrize("challenge", CHALLENGES, ids=IDS)
def test_every_challenge_is_graded_by_a_judge_outside_the_candidates_process(challenge):
    assert challenge.spec.grading == "judged"


@pytest.mark.parametrize("challenge", CHALLENGES, ids=IDS)
def test_every_challenge_ships_two_sound_and_two_wrong_fixes(challenge):
    kinds = [fix.kind for fix in challenge.fixes]
    assert kinds.count("sound") >= 2 and kinds.count("wrong") >= 2


def _not_ok(output: str) -> str:
    """The verification's output without its passing rows and progress lines: each challenge's
    heading, every row whose verdict is not ok, and the problems, whichever challenge failed."""
    kept = [
        line
        for line in output.splitlines()
        if not line.rstrip().endswith(" ok") and not line.lstrip().startswith("…")
    ]
    return "\n".join(kept)[-8000:]


@pytest.mark.timeout(3600)  # the module's verification runs inside this test's window
def test_every_challenge_verifies_three_runs_each(verification):
    assert verification.exit_code == 0, _not_ok(verification.output)
    assert f"all {len(CHALLENGES)} challenge(s) verified, {RUNS} run(s) each" in (
        verification.output
    )


@pytest.mark.parametrize("challenge", CHALLENGES, ids=IDS)
def test_verification_table_covers_every_subject(verification, challenge):
    section = verification.output.split(f"{challenge.id} {challenge.version_label}:")[1]
    section = section.split("=> ")[0]
    subjects = ["starter", "reference"] + [f"{f.kind}:{f.name}" for f in challenge.fixes]
    for subject in subjects:
        for check in challenge.spec.checks:
            assert any(line.split()[:2] == [subject, check.id] for line in section.splitlines())


@pytest.mark.parametrize("challenge", CHALLENGES, ids=IDS)
def test_grading_the_starter_prints_measured_evidence_beside_the_limit(
    library_cli, challenge, tmp_path
):
    paths = []
    for name in challenge.spec.editable_paths:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(challenge.starter[name])
        paths.append(str(path))
    result = library_cli("grade", challenge.id, *paths, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "graded"
    failed = [c for c in report["checks"] if c["role"] == "detects_bug"]
    assert failed and not any(c["passed"] for c in failed)
    measured = [m for c in failed for m in c["metrics"] if m["limit"] is not None]
    assert measured, "a detects_bug check must report what it measured against its limit"
    assert all(m["starter"] is not None for m in measured)
