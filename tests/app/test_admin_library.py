"""The admin's challenge library: pages, verification in the sandbox, publish, retire, delete,
preview, and `flask sync` queueing verification."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from rq.job import Job
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AssessmentItem,
    ChallengeVersion,
    Submission,
    VersionStatus,
)
from app.queue import background_queue, job_id_for_version
from app.services import library as library_service
from app.services.library import LibraryRefused, current_versions
from app.services.uploads import load_upload, store_upload
from app.services.verification import progress_writer, reconcile_verifications

from .conftest import log_in

INLINE_SUM = Path(__file__).resolve().parent.parent / "fixtures" / "uploads" / "inline-sum.yaml"
REDIS_DOWN = "redis://127.0.0.1:1/15"

HOSTILE_BRIEF = """# Totals are short

<script>alert('script')</script>
<img src="x.png" onerror="alert('img')">
[click me](javascript:alert('link'))
<a href="javascript:alert('anchor')" onclick="alert('click')">raw link</a>
<iframe src="https://example.com/"></iframe>
"""


@pytest.fixture(autouse=True)
def _clean_verify_queue(web_app):
    yield
    background_queue().delete(delete_jobs=True)


@pytest.fixture
def admin_client(client, staff):
    log_in(client, staff.admin)
    return client


def inline_sum(**changes) -> bytes:
    spec = yaml.safe_load(INLINE_SUM.read_text())
    spec.update(changes)
    return yaml.safe_dump(spec, sort_keys=False).encode()


def upload(client, data: bytes, name: str = "inline-sum.yaml"):
    return client.post(
        "/admin/library/upload",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def draft(staff, data: bytes | None = None) -> ChallengeVersion:
    """An uploaded draft whose verification was never requested."""
    challenge = load_upload("inline-sum.yaml", io.BytesIO(data or INLINE_SUM.read_bytes()))
    return store_upload(challenge, staff.admin)


def trivial_sum() -> ChallengeVersion:
    return db.session.scalar(select(ChallengeVersion).where(ChallengeVersion.slug == "trivial-sum"))


def reload(version: ChallengeVersion) -> ChallengeVersion:
    db.session.expire_all()
    return db.session.get(ChallengeVersion, version.id)


def text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"')


# ---- who may see it ------------------------------------------------------------------------


def test_library_is_for_admins_only(client, staff):
    assert client.get("/admin/library").status_code == 302  # to the login page
    log_in(client, staff.interviewer)
    version = trivial_sum()
    assert client.get("/admin/library").status_code == 403
    assert client.get(f"/admin/library/versions/{version.id}/preview").status_code == 403
    assert client.post(f"/admin/library/versions/{version.id}/retire").status_code == 403
    assert reload(version).status == VersionStatus.PUBLISHED


def test_unknown_version_is_404(admin_client):
    assert admin_client.get("/admin/library/versions/999999").status_code == 404
    assert admin_client.post("/admin/library/versions/999999/publish").status_code == 404


# ---- the library page ----------------------------------------------------------------------


def test_library_lists_every_version_with_status_source_verification_and_use(
    admin_client, staff, invite
):
    upload(admin_client, inline_sum())
    page = text(admin_client.get("/admin/library"))
    assert "trivial-sum" in page and "inline-sum" in page
    assert "Sync from challenges/" in page
    trivial_row = page.split(f'data-version-id="{trivial_sum().id}"')[1].split("</tr>")[0]
    assert "published" in trivial_row and "folder" in trivial_row
    assert "not verified" in trivial_row
    assert "1 assessment<br>0 submissions" in trivial_row
    inline = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.slug == "inline-sum")
    )
    inline_row = page.split(f'data-version-id="{inline.id}"')[1].split("</tr>")[0]
    assert "draft" in inline_row and "upload" in inline_row and "queued" in inline_row
    assert "by Ada Admin" in inline_row
    assert "unused" in inline_row


def test_sync_button_reports_counts_and_queues_verification_once(admin_client):
    response = admin_client.post("/admin/library/sync", follow_redirects=True)
    page = text(response)
    assert "0 added, 1 unchanged, 0 invalid" in page
    assert "Verification queued for 1 version(s) never verified." in page
    version = reload(trivial_sum())
    assert version.verification_state == "queued"
    assert Job.fetch(job_id_for_version(version.id), connection=background_queue().connection)
    again = text(admin_client.post("/admin/library/sync", follow_redirects=True))
    assert "Verification queued" not in again
    assert background_queue().count == 1


def test_flask_sync_queues_verification_for_versions_never_verified(web_app):
    runner = web_app.test_cli_runner()
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert "verification queued for 1 version(s)" in result.output
    assert reload(trivial_sum()).verification_state == "queued"
    assert background_queue().count == 1
    again = runner.invoke(args=["sync"])
    assert "verification queued" not in again.output
    assert background_queue().count == 1


def test_flask_sync_warns_and_goes_on_when_redis_is_down(web_app, monkeypatch):
    monkeypatch.setitem(web_app.config, "REDIS_URL", REDIS_DOWN)
    result = web_app.test_cli_runner().invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert "0 added, 1 unchanged" in result.output
    assert "warning: Redis does not answer" in result.output
    assert reload(trivial_sum()).verification is None


# ---- verification requests -----------------------------------------------------------------


def test_upload_queues_a_job_whose_timeout_scales_with_subjects_and_wall_limit(admin_client):
    response = upload(admin_client, inline_sum())
    assert response.status_code == 302
    version = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.slug == "inline-sum")
    )
    job = Job.fetch(job_id_for_version(version.id), connection=background_queue().connection)
    assert job.func_name == "app.tasks.verify_version"
    assert job.args == (version.id, 1)
    assert job.origin == background_queue().name
    assert background_queue().name.endswith("-background")
    # starter, reference, one sound and one wrong fix; 20 s wall limit each
    assert job.timeout == 4 * 1 * (20 + 30) + 120
    state = version.verification
    assert state["state"] == "queued" and state["runs"] == 1 and state["queued_at"]


def test_rerun_with_three_runs_scales_the_timeout_and_refuses_a_second_request(admin_client, staff):
    version = draft(staff)
    response = admin_client.post(f"/admin/library/versions/{version.id}/verify", data={"runs": "3"})
    assert response.status_code == 302
    job = Job.fetch(job_id_for_version(version.id), connection=background_queue().connection)
    assert job.args == (version.id, 3)
    assert job.timeout == 4 * 3 * (20 + 30) + 120
    queued_at = reload(version).verification["queued_at"]
    again = admin_client.post(f"/admin/library/versions/{version.id}/verify", data={"runs": "1"})
    assert again.status_code == 409
    assert "already queued or running" in text(again)
    assert reload(version).verification == {"state": "queued", "runs": 3, "queued_at": queued_at}
    assert background_queue().count == 1


@pytest.mark.parametrize("runs", ["0", "6", "many"])
def test_rerun_with_a_bad_number_of_runs_is_a_400(admin_client, staff, runs):
    version = draft(staff)
    response = admin_client.post(
        f"/admin/library/versions/{version.id}/verify", data={"runs": runs}
    )
    assert response.status_code == 400
    assert "Runs must be a whole number from 1 to 5" in text(response)
    assert reload(version).verification is None


def test_rerun_with_redis_down_says_so_and_keeps_the_state(admin_client, staff, monkeypatch):
    version = draft(staff)
    monkeypatch.setitem(admin_client.application.config, "REDIS_URL", REDIS_DOWN)
    response = admin_client.post(f"/admin/library/versions/{version.id}/verify")
    assert response.status_code == 503
    assert "Redis does not answer, so verification could not be queued" in text(response)
    assert reload(version).verification is None


def test_upload_with_redis_down_stores_the_draft_and_says_verification_is_not_queued(
    admin_client, monkeypatch
):
    monkeypatch.setitem(admin_client.application.config, "REDIS_URL", REDIS_DOWN)
    response = upload(admin_client, inline_sum(), "inline-sum.yaml")
    assert response.status_code == 302
    page = text(admin_client.get(response.headers["Location"]))
    assert "Stored inline-sum v1 as a draft" in page
    assert "Redis does not answer" in page and "Re-run verification" in page
    version = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.slug == "inline-sum")
    )
    assert version.verification is None


def test_verification_json_reports_state_and_progress(admin_client, staff):
    version = draft(staff)
    url = f"/admin/library/versions/{version.id}/verification.json"
    assert admin_client.get(url).get_json()["state"] is None
    admin_client.post(f"/admin/library/versions/{version.id}/verify")
    data = admin_client.get(url).get_json()
    assert data["state"] == "queued" and data["active"] is True and data["runs"] == 1


def test_progress_is_committed_as_grading_goes(web_app, staff):
    version = draft(staff)
    base = {"state": "running", "runs": 2, "queued_at": None, "started_at": "now"}
    report = progress_writer(db.engine, version.id, base, total=8)
    report("inline-sum: 1/8 graded (starter run 1)")
    report("inline-sum: 2/8 graded (starter run 2)")
    assert reload(version).verification == {**base, "progress": "2/8 graded"}


def test_a_verification_whose_job_is_gone_is_marked_as_error(web_app, staff):
    lost, fresh = draft(staff), draft(staff, inline_sum(version=2))
    lost.verification = {"state": "running", "runs": 1, "queued_at": "2020-01-01T00:00:00+00:00"}
    just_now = datetime.now(UTC).isoformat()
    fresh.verification = {"state": "queued", "runs": 1, "queued_at": just_now}
    db.session.commit()
    assert reconcile_verifications() == 1
    assert reload(lost).verification_state == "error"
    assert "re-run it" in reload(lost).verification["problems"][0]
    assert reload(fresh).verification_state == "queued"  # just requested: left alone


# ---- publish, retire, delete ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("verification", "reason"),
    [
        (None, "it has not been verified; run verification first"),
        ({"state": "queued", "runs": 1}, "its verification is still queued"),
        ({"state": "running", "runs": 1}, "its verification is still running"),
        ({"state": "failed", "runs": 1}, "its verification failed"),
        ({"state": "error", "runs": 1, "problems": ["x"]}, "its verification could not run"),
    ],
)
def test_publish_is_refused_unless_verification_passed(admin_client, staff, verification, reason):
    version = draft(staff)
    version.verification = verification
    db.session.commit()
    response = admin_client.post(f"/admin/library/versions/{version.id}/publish")
    assert response.status_code == 409
    assert f"Not published: {reason}" in text(response)
    assert reload(version).status == VersionStatus.DRAFT
    assert [v.slug for v in current_versions()] == ["trivial-sum"]


def test_publishing_a_new_version_retires_the_old_one_and_old_assessments_keep_it(
    admin_client, staff, invite
):
    old = trivial_sum()
    new = draft(staff, inline_sum(id="trivial-sum", version=2))
    new.verification = {"state": "passed", "runs": 1}  # as the worker leaves it
    db.session.commit()
    response = admin_client.post(f"/admin/library/versions/{new.id}/publish")
    assert response.status_code == 302
    assert reload(new).status == VersionStatus.PUBLISHED
    assert reload(old).status == VersionStatus.RETIRED
    assert [(v.slug, v.version) for v in current_versions()] == [("trivial-sum", 2)]
    item = db.session.scalar(
        select(AssessmentItem).where(AssessmentItem.assessment_id == invite.assessment_id)
    )
    assert item.challenge_version_id == old.id
    again = admin_client.post(f"/admin/library/versions/{new.id}/publish")
    assert again.status_code == 409 and "it is already published" in text(again)


def test_publish_asks_first_naming_the_version_it_replaces(admin_client, staff):
    new = draft(staff, inline_sum(id="trivial-sum", version=2))
    lone = draft(staff)
    for version in (new, lone):
        version.verification = {"state": "passed", "runs": 1}
    db.session.commit()
    replaces = "Publish trivial-sum v2? It replaces v1 for new assessments."
    first = "Publish inline-sum v1 for new assessments?"
    publish_form = '<form method="post" action="/admin/library/versions/{}/publish" class="inline"'

    library = text(admin_client.get("/admin/library"))
    assert f'{publish_form.format(new.id)} data-library-confirm="{replaces}">' in library
    assert f'{publish_form.format(lone.id)} data-library-confirm="{first}">' in library
    for version, question in ((new, replaces), (lone, first)):
        page = text(admin_client.get(f"/admin/library/versions/{version.id}"))
        assert f'{publish_form.format(version.id)} data-library-confirm="{question}">' in page


def test_retire_takes_a_version_off_new_assessments(admin_client):
    version = trivial_sum()
    response = admin_client.post(f"/admin/library/versions/{version.id}/retire")
    assert response.status_code == 302
    assert reload(version).status == VersionStatus.RETIRED
    assert current_versions() == []
    again = admin_client.post(f"/admin/library/versions/{version.id}/retire")
    assert again.status_code == 409 and "already retired" in text(again)


def test_delete_is_refused_for_a_published_version(admin_client):
    version = trivial_sum()
    response = admin_client.post(f"/admin/library/versions/{version.id}/delete")
    assert response.status_code == 409
    assert "it is published; retire it first" in text(response)
    assert reload(version) is not None


def test_delete_is_refused_for_a_retired_version_an_assessment_uses(admin_client, invite):
    version = trivial_sum()
    admin_client.post(f"/admin/library/versions/{version.id}/retire")
    response = admin_client.post(f"/admin/library/versions/{version.id}/delete")
    assert response.status_code == 409
    assert "it has submissions/assessments: retire it instead" in text(response)
    assert reload(version) is not None


def test_delete_is_refused_for_a_draft_with_submissions(admin_client, staff, invite):
    version = draft(staff)
    db.session.add(
        Submission(invite=invite, challenge=version, mode="submit", files={"calc.py": ""})
    )
    db.session.commit()
    response = admin_client.post(f"/admin/library/versions/{version.id}/delete")
    assert response.status_code == 409
    assert "it has submissions/assessments: retire it instead" in text(response)
    assert reload(version) is not None


def test_delete_is_refused_while_verification_is_queued(admin_client, staff):
    version = draft(staff)
    admin_client.post(f"/admin/library/versions/{version.id}/verify")
    response = admin_client.post(f"/admin/library/versions/{version.id}/delete")
    assert response.status_code == 409
    assert "its verification is queued or running" in text(response)


def test_an_unused_draft_can_be_deleted(admin_client, staff):
    version = draft(staff)
    before = db.session.scalar(select(func.count(ChallengeVersion.id)))
    response = admin_client.post(f"/admin/library/versions/{version.id}/delete")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/library")
    db.session.expire_all()
    assert db.session.scalar(select(func.count(ChallengeVersion.id))) == before - 1


def test_the_library_rules_hold_for_callers_other_than_the_pages(web_app, staff, invite):
    """The service refuses by itself: a CLI command or a script cannot publish an unverified
    version, delete one in use or one that is published, or retire one twice."""
    version = draft(staff)
    with pytest.raises(LibraryRefused, match="it has not been verified"):
        library_service.publish(version)
    assert reload(version).status == VersionStatus.DRAFT

    published = trivial_sum()
    with pytest.raises(LibraryRefused, match="it is published; retire it first"):
        library_service.delete(published)
    library_service.retire(published)
    db.session.commit()
    with pytest.raises(LibraryRefused, match="it is already retired"):
        library_service.retire(published)
    with pytest.raises(LibraryRefused, match="retire it instead"):
        library_service.delete(published)  # the demo assessment uses it
    assert reload(published) is not None


# ---- preview --------------------------------------------------------------------------------


def test_preview_renders_uploaded_markdown_inert(admin_client, staff):
    version = draft(
        staff,
        inline_sum(
            brief={"content": HOSTILE_BRIEF},
            interviewer_notes={"content": "<script>alert('notes')</script> *root cause*"},
        ),
    )
    response = admin_client.get(f"/admin/library/versions/{version.id}/preview")
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Totals are short</h1>" in page
    assert "click me" in page and "raw link" in page and "<em>root cause</em>" in page
    for dangerous in ("alert(", "onerror", "onclick", "javascript:", "<iframe"):
        assert dangerous not in page, dangerous
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_preview_shows_the_candidate_view_then_staff_only_details(admin_client, staff):
    version = draft(staff)
    page = text(admin_client.get(f"/admin/library/versions/{version.id}/preview"))
    candidate, staff_only = page.split("Only staff see")
    assert "<h1>Totals are short</h1>" in candidate
    assert "total() adds every item" in candidate and "3 pts" in candidate
    assert "for index in range(len(items) - 1):" in candidate  # the starter, read-only
    assert "test_calc_visible.py" in candidate
    assert "20 s" in candidate and "256 MB" in candidate
    assert "The loop stops one item early." not in candidate
    assert "The loop stops one item early." in staff_only
    assert "detects the bug" in staff_only and "guards behaviour" in staff_only
    assert "test_calc.py::test_total_adds_every_item" in staff_only
    assert "must fail exactly <code>empty-is-zero</code>" in staff_only
    assert "/api/v1" not in page and 'id="submit-button"' not in page


def test_preview_lists_what_the_brief_promises_for_staff_only(admin_client, staff):
    version = draft(staff)
    page = text(admin_client.get(f"/admin/library/versions/{version.id}/preview"))
    candidate, staff_only = page.split("Only staff see")
    promise = "<tr><td>total() of no items is still zero</td><td>—</td>"
    assert promise in staff_only and "<code>empty-is-zero</code></td></tr>" in staff_only
    assert "total() of no items is still zero" not in candidate


def test_version_page_shows_facts_actions_and_why_publishing_waits(admin_client, staff):
    version = draft(staff)
    response = admin_client.get(f"/admin/library/versions/{version.id}")
    page = text(response)
    assert response.status_code == 200
    assert "Inline sum is off by one" in page and version.content_hash[:16] in page
    assert "Publish: not yet, it has not been verified; run verification first." in page
    assert "Run verification" in page
    assert f'data-verification-url="/admin/library/versions/{version.id}/verification.json"' in page


# ---- in the sandbox -------------------------------------------------------------------------


@pytest.mark.docker
def test_uploaded_yaml_passes_verification_in_the_sandbox_then_publishes(
    admin_client, run_worker, docker_sandbox
):
    response = upload(admin_client, INLINE_SUM.read_bytes())
    assert response.status_code == 302
    version = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.slug == "inline-sum")
    )
    run_worker()
    version = reload(version)
    result = version.verification
    assert result["state"] == "passed", result
    assert result["progress"] == "4/4 graded"
    assert result["problems"] == []
    assert result["started_at"] <= result["finished_at"]
    assert len(result["subjects"]) == 8 and all(s["ok"] for s in result["subjects"])
    assert version.reference_metrics == {"sums-correctly": {"name": "sum", "value": 45, "unit": ""}}
    assert result["starter_metrics"] == {"sums-correctly": {"name": "sum", "value": 36, "unit": ""}}
    assert "=> verified" in result["table"]

    page = text(admin_client.get(f"/admin/library/versions/{version.id}"))
    assert "wrong:first-plus-rest" in page and "WRONG" not in page
    assert "The reference solution's figures" in page

    response = admin_client.post(f"/admin/library/versions/{version.id}/publish")
    assert response.status_code == 302
    assert reload(version).status == VersionStatus.PUBLISHED
    assert "inline-sum" in [v.slug for v in current_versions()]


@pytest.mark.docker
def test_a_reference_that_does_not_pass_fails_verification_and_cannot_be_published(
    admin_client, run_worker, docker_sandbox
):
    spec = yaml.safe_load(INLINE_SUM.read_text())
    broken = inline_sum(solution=spec["starter"])
    assert upload(admin_client, broken).status_code == 302
    version = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.slug == "inline-sum")
    )
    run_worker()
    version = reload(version)
    assert version.verification_state == "failed"
    wrong = [s for s in version.verification["subjects"] if not s["ok"]]
    assert [(s["subject"], s["check_id"]) for s in wrong] == [("reference", "sums-correctly")]
    response = admin_client.post(f"/admin/library/versions/{version.id}/publish")
    assert response.status_code == 409
    assert "its verification failed" in text(response)
    assert reload(version).status == VersionStatus.DRAFT
    assert "inline-sum" not in [v.slug for v in current_versions()]
