"""Regrade batches: candidates' graded submissions regraded against another version of their
challenge, side by side, without touching the originals or showing regrades to candidates."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    ChallengeVersion,
    Invite,
    RegradeBatch,
    Submission,
    VersionSource,
    utcnow,
)
from app.queue import background_queue, candidate_queues, job_id_for
from app.services import candidates
from app.services.library import current_versions, store_version
from grader.spec import load_challenge

from ..conftest import FIXTURE_CHALLENGES
from .conftest import log_in

SLUG = "trivial-sum"
FIX = "def total(items):\n    return sum(items)\n"


def _store_variant(
    tmp_path: Path,
    name: str,
    edit: Callable[[dict], None],
    files: dict[str, str | None] | None = None,
    slug: str = SLUG,
) -> ChallengeVersion:
    """Store an uploaded copy of the fixture challenge with ``edit`` applied to its YAML and
    ``files`` written into (None: removed from) the copy's folder."""
    folder = tmp_path / name / slug
    shutil.copytree(FIXTURE_CHALLENGES / SLUG, folder)
    spec_path = folder / "challenge.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["id"] = slug
    edit(spec)
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    for path, text in (files or {}).items():
        if text is None:
            (folder / path).unlink()
            continue
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    challenge = load_challenge(folder)
    assert store_version(challenge, source=VersionSource.UPLOAD)
    db.session.commit()
    return db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.content_hash == challenge.content_hash)
    )


def _lenient_v2(tmp_path: Path) -> ChallengeVersion:
    """Version 2: the bug check accepts the starter's sum too, and the guard weighs 2 (max 5)."""

    def edit(spec: dict) -> None:
        spec["version"] = 2
        spec["checks"][1]["weight"] = 2

    hidden = (FIXTURE_CHALLENGES / SLUG / "tests/hidden/test_calc.py").read_text()
    # The bound and the evidence's limit move together: a pass whose own evidence breaks its
    # limit would not count.
    lenient = hidden.replace("assert result == 45", "assert result >= 36").replace(
        "limit=45", "limit=36"
    )
    assert lenient != hidden
    return _store_variant(tmp_path, "v2", edit, {"tests/hidden/test_calc.py": lenient})


def _second_invite(invite: Invite, name: str) -> Invite:
    other = Invite(assessment=invite.assessment, candidate_name=name)
    db.session.add(other)
    db.session.commit()
    return other


def _submit(invite: Invite, files: dict[str, str], mode: str = "submit") -> Submission:
    version = current_versions()[0]
    return candidates.create_submission(invite, version, files, mode)


def _finished(invite: Invite, version: ChallengeVersion, status: str = "graded", **fields):
    """A finished submission row, for the checks that do not need grading."""
    values = {"mode": "submit", "files": {"calc.py": FIX}, "finished_at": utcnow(), **fields}
    submission = Submission(
        invite_id=invite.id, challenge_version_id=version.id, status=status, **values
    )
    db.session.add(submission)
    db.session.commit()
    return submission


def _snapshot(submissions: list[Submission]) -> dict[int, tuple]:
    db.session.expire_all()
    return {
        s.id: (
            s.status,
            s.score,
            s.max_score,
            s.report,
            s.files,
            s.finished_at,
            s.attempts,
            s.challenge_version_id,
            s.regrade_batch_id,
        )
        for s in submissions
    }


def _new_batch(
    client,
    source: ChallengeVersion,
    target: ChallengeVersion,
    scope="latest",
    challenge: str | None = None,
):
    return client.post(
        "/admin/regrades/new",
        data={
            "challenge": challenge or source.slug,
            "source": source.id,
            "target": target.id,
            "scope": scope,
        },
    )


def _batch_counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(RegradeBatch)),
        db.session.scalar(select(func.count()).select_from(Submission)),
    )


@pytest.fixture
def graded(web_app, invite, run_worker, docker_sandbox):
    """Ann submits the starter, then the fix (and runs once); Bo submits the fix. All graded
    for real by the worker in the Docker sandbox against version 1."""
    bo = _second_invite(invite, "Bo")
    for candidate in (invite, bo):
        candidates.start(candidate)
    version = current_versions()[0]
    starter = {"calc.py": version.payload["starter"]["calc.py"]}
    ann_starter = _submit(invite, starter)
    run_worker()
    ann_fix = _submit(invite, {"calc.py": FIX})
    ann_run = _submit(invite, {"calc.py": FIX}, mode="run")
    bo_fix = _submit(bo, {"calc.py": FIX})
    run_worker()
    db.session.expire_all()
    assert [s.status for s in (ann_starter, ann_fix, ann_run, bo_fix)] == ["graded"] * 4
    assert (ann_starter.score, ann_fix.score, bo_fix.score) == (1, 4, 4)
    return {
        "ann": invite,
        "bo": bo,
        "ann_starter": ann_starter,
        "ann_fix": ann_fix,
        "ann_run": ann_run,
        "bo_fix": bo_fix,
        "v1": version,
    }


def test_regrade_pages_are_for_admins_only(client, staff):
    for url in ("/admin/regrades", "/admin/regrades/new"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location
    log_in(client, staff.interviewer)
    for url in ("/admin/regrades", "/admin/regrades/new"):
        assert client.get(url).status_code == 403
    version = current_versions()[0]
    refused = client.post(
        "/admin/regrades/new",
        data={"challenge": SLUG, "source": version.id, "target": version.id},
    )
    assert refused.status_code == 403
    assert _batch_counts()[0] == 0


@pytest.mark.docker
def test_latest_submits_are_regraded_beside_untouched_originals(
    client, staff, graded, run_worker, tmp_path
):
    v1, v2 = graded["v1"], _lenient_v2(tmp_path)
    everything = [graded[k] for k in ("ann_starter", "ann_fix", "ann_run", "bo_fix")]
    before = _snapshot(everything)
    log_in(client, staff.admin)

    response = _new_batch(client, v1, v2)
    assert response.status_code == 303
    batch = db.session.scalar(select(RegradeBatch))
    assert response.location.endswith(f"/admin/regrades/{batch.id}")
    assert (batch.from_version_id, batch.to_version_id, batch.created_by_id) == (
        v1.id,
        v2.id,
        staff.admin.id,
    )
    regrades = batch.regrades
    assert sorted(r.regrade_of_id for r in regrades) == sorted(
        [graded["ann_fix"].id, graded["bo_fix"].id]
    )
    assert all(r.status == "queued" and r.challenge_version_id == v2.id for r in regrades)
    # The background queue, so candidates grading meanwhile never wait behind it.
    assert background_queue().get_job_ids() == [job_id_for(r) for r in regrades]
    assert [job for queue in candidate_queues() for job in queue.get_job_ids()] == []
    progress = client.get(f"/admin/regrades/{batch.id}.json").get_json()
    assert (progress["done"], progress["total"], progress["complete"]) == (0, 2, False)

    run_worker()

    assert _snapshot(everything) == before
    db.session.expire_all()
    for regrade in regrades:
        original = regrade.regrade_of
        assert regrade.status == "graded" and (regrade.score, regrade.max_score) == (5, 5)
        assert regrade.report["challenge"]["version"] == 2
        assert regrade.report["challenge"]["content_hash"] == v2.content_hash
        assert regrade.report is not original.report and original.report["max_score"] == 4
        assert regrade.files == original.files and regrade.invite_id == original.invite_id
    progress = client.get(f"/admin/regrades/{batch.id}.json").get_json()
    assert (progress["done"], progress["total"], progress["complete"]) == (2, 2, True)
    assert (progress["mean_before"], progress["mean_after"]) == (4.0, 5.0)
    assert (progress["max_before"], progress["max_after"]) == (4, 5)

    page = client.get(f"/admin/regrades/{batch.id}").get_data(as_text=True)
    assert graded["ann"].candidate_name in page
    assert "Bo" in page and "4 / 4" in page and "5 / 5" in page and "+1" in page
    assert f'href="/review/invites/{graded["ann"].id}"' in page  # each original's report
    listing = client.get("/admin/regrades").get_data(as_text=True)
    assert f"/admin/regrades/{batch.id}" in listing and "2/2 done" in listing
    assert "v1 → v2" in listing


@pytest.mark.docker
def test_all_submits_are_regraded_and_changed_checks_are_highlighted(
    client, staff, graded, run_worker, tmp_path
):
    v1, v2 = graded["v1"], _lenient_v2(tmp_path)
    log_in(client, staff.admin)
    assert _new_batch(client, v1, v2, scope="all").status_code == 303
    batch = db.session.scalar(select(RegradeBatch))
    originals = sorted(r.regrade_of_id for r in batch.regrades)
    assert originals == sorted(graded[k].id for k in ("ann_starter", "ann_fix", "bo_fix"))
    run_worker()

    db.session.expire_all()
    starter_regrade = next(r for r in batch.regrades if r.regrade_of_id == graded["ann_starter"].id)
    assert (graded["ann_starter"].score, starter_regrade.score) == (1, 5)
    page = client.get(f"/admin/regrades/{batch.id}").get_data(as_text=True)
    changed_rows = [chunk.split("</tr>")[0] for chunk in page.split('<tr class="ops-changed">')[1:]]
    assert len(changed_rows) == 1  # only the starter's bug check flips, fail -> pass
    assert "total() adds every item" in changed_rows[0]
    assert changed_rows[0].index("✗ fail") < changed_rows[0].index("✓ pass")
    assert "+4" in page


@pytest.mark.docker
def test_candidates_never_see_regrades(client, staff, graded, run_worker, tmp_path):
    v1, v2 = graded["v1"], _lenient_v2(tmp_path)
    log_in(client, staff.admin)
    assert _new_batch(client, v1, v2, scope="all").status_code == 303
    run_worker()
    regrade_ids = {r.id for r in db.session.scalar(select(RegradeBatch)).regrades}
    ann = graded["ann"]

    challenge = client.get(f"/api/v1/invites/{ann.token}/challenges/{SLUG}").get_json()
    listed = {s["id"] for s in challenge["submissions"]}
    assert listed == {graded[k].id for k in ("ann_starter", "ann_fix", "ann_run")}
    overview = client.get(f"/api/v1/invites/{ann.token}").get_json()
    assert overview["challenges"][0]["last_submission"]["id"] == graded["ann_fix"].id
    for regrade_id in regrade_ids:
        response = client.get(f"/api/v1/invites/{ann.token}/submissions/{regrade_id}")
        assert response.status_code == 404


def test_files_the_target_does_not_accept_are_skipped_with_the_reason(
    client, staff, invite, tmp_path
):
    def two_files(spec: dict) -> None:
        spec["version"] = 5
        spec["files"].append({"path": "extra.py", "editable": True})

    def extra_read_only(spec: dict) -> None:
        spec["version"] = 6
        spec["files"].append({"path": "extra.py", "editable": False})

    extra = {"starter/extra.py": "HELP = 1\n"}
    source = _store_variant(tmp_path, "two", two_files, extra)
    target = _store_variant(tmp_path, "ro", extra_read_only, extra)
    bo = _second_invite(invite, "Bo")
    accepted = _finished(invite, source, score=4, max_score=4)
    refused = _finished(bo, source, score=4, max_score=4)
    refused.files = {"calc.py": FIX, "extra.py": "HELP = 2\n"}
    db.session.commit()
    log_in(client, staff.admin)

    response = _new_batch(client, source, target)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    batch = db.session.scalar(select(RegradeBatch))
    by_original = {r.regrade_of_id: r for r in batch.regrades}
    assert by_original[accepted.id].status == "queued"
    skipped = by_original[refused.id]
    assert skipped.status == "rejected" and skipped.report["status"] == "rejected"
    assert "'extra.py' is read-only" in skipped.report["status_detail"]
    assert background_queue().get_job_ids() == [job_id_for(by_original[accepted.id])]
    assert "Skipped" in page and "&#39;extra.py&#39; is read-only" in page
    assert '<span class="ops-stat-value">1</span><span class="ops-stat-label">skipped' in page
    progress = client.get(f"/admin/regrades/{batch.id}.json").get_json()
    assert (progress["total"], progress["skipped"], progress["done"]) == (1, 1, 0)


def test_a_target_that_accepts_no_files_is_refused(client, staff, invite, tmp_path):
    def renamed(spec: dict) -> None:
        spec["version"] = 7
        spec["files"] = [
            {"path": "calc.py", "editable": False},
            {"path": "extra.py", "editable": True, "open": True},
        ]

    moved = {
        "starter/extra.py": "X = 1\n",
        "solution/extra.py": "X = 1\n",
        "solution/calc.py": None,
    }
    target = _store_variant(tmp_path, "ren", renamed, moved)
    _finished(invite, current_versions()[0])
    before = _batch_counts()
    log_in(client, staff.admin)
    response = _new_batch(client, current_versions()[0], target)
    assert response.status_code == 422
    assert "accepts the files of none of the 1 submissions" in response.get_data(as_text=True)
    assert _batch_counts() == before


def test_invalid_choices_are_refused_with_messages(client, staff, invite, tmp_path):
    v1 = current_versions()[0]
    other = _store_variant(tmp_path, "other", lambda spec: None, slug="trivial-sum-copy")
    v2 = _store_variant(tmp_path, "v2", lambda spec: spec.update(version=2))
    _finished(invite, v1)
    _finished(invite, v1, status="running", finished_at=None)
    log_in(client, staff.admin)
    before = _batch_counts()
    cases = [
        (dict(source=v1, target=other), "must be a version of trivial-sum"),
        (dict(source=other, target=v1, challenge=SLUG), "this version belongs to trivial-sum-copy"),
        (dict(source=v1, target=v1), "must differ from the source version"),
        (dict(source=v2, target=v1), "has no finished candidate submissions"),
        (dict(source=v1, target=v2, scope="everything"), "Not a valid choice"),
    ]
    for arguments, message in cases:
        response = _new_batch(client, **arguments)
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True), message
    missing = client.post(
        "/admin/regrades/new",
        data={"challenge": SLUG, "source": 999999, "target": v1.id, "scope": "latest"},
    )
    assert missing.status_code == 422 and "Not a valid choice" in missing.get_data(as_text=True)
    assert _batch_counts() == before


def test_runs_regrades_and_unfinished_submits_are_never_regraded(client, staff, invite, tmp_path):
    v1 = current_versions()[0]
    v2 = _store_variant(tmp_path, "v2", lambda spec: spec.update(version=2))
    run = _finished(invite, v1)
    run.mode = "run"
    earlier_regrade = _finished(invite, v1)
    earlier_regrade.regrade_of_id = run.id
    _finished(invite, v1, status="queued", finished_at=None)
    db.session.commit()
    log_in(client, staff.admin)
    response = _new_batch(client, v1, v2, scope="all")
    assert response.status_code == 422
    assert "has no finished candidate submissions" in response.get_data(as_text=True)


def test_the_form_offers_every_stored_version_grouped_by_challenge(client, staff, tmp_path):
    v2 = _store_variant(tmp_path, "v2", lambda spec: spec.update(version=2))
    log_in(client, staff.admin)
    page = client.get("/admin/regrades/new").get_data(as_text=True)
    assert page.count(f'<optgroup label="{SLUG}">') == 2
    v1 = current_versions()[0]
    source = page.split('id="source"')[1].split("</select>")[0]
    target = page.split('id="target"')[1].split("</select>")[0]
    assert f'<option selected value="{v1.id}">' in source  # the published version
    assert f'<option selected value="{v2.id}">' in target  # the newest version
    assert "v2 · draft" in page and "v1 · published" in page


def test_redis_down_leaves_the_regrades_queued_for_the_reconciler(
    client, staff, invite, tmp_path, web_app
):
    v1 = current_versions()[0]
    v2 = _store_variant(tmp_path, "v2", lambda spec: spec.update(version=2))
    original = _finished(invite, v1, score=4, max_score=4)
    log_in(client, staff.admin)
    web_app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    response = _new_batch(client, v1, v2)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Redis does not answer" in page and "reconciler" in page
    [regrade] = db.session.scalar(select(RegradeBatch)).regrades
    assert regrade.status == "queued" and regrade.enqueued_at is None
    assert regrade.regrade_of_id == original.id


def test_unknown_batches_are_404(client, staff):
    log_in(client, staff.admin)
    assert client.get("/admin/regrades/424242").status_code == 404
    assert client.get("/admin/regrades/424242.json").status_code == 404
