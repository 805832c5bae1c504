"""Admin: the challenge library (sync, upload, verify, preview, publish, retire, delete).

Uploaded challenges are stored as drafts and verified in the sandbox by a worker; only a version
whose verification passed can be published. Assessments and submissions keep the exact version
they were made with, whatever happens to it later, so a version in use can be retired but never
deleted. Those rules live in app/services/library.py; these views show its refusals.
"""

from __future__ import annotations

from itertools import groupby

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth import polled
from app.blueprints.admin.blueprint import bp
from app.errors import http_error
from app.extensions import db
from app.markdown import render_markdown
from app.models import (
    ChallengeVersion,
    User,
)
from app.services import library as library_service
from app.services import uploads, verification
from app.services.library import (
    LibraryRefused,
    Usage,
    delete_refusal,
    publish_refusal,
)
from app.services.verification import ACTIVE_STATES, VerificationBusy, VerificationUnavailable

# ---- the library --------------------------------------------------------------------------


@bp.get("/library")
def library():
    versions = db.session.scalars(
        select(ChallengeVersion).order_by(
            ChallengeVersion.slug, ChallengeVersion.version.desc(), ChallengeVersion.id.desc()
        )
    ).all()
    usage = library_service.usage()
    challenges = [
        {"slug": slug, "versions": list(group)}
        for slug, group in groupby(versions, key=lambda v: v.slug)
    ]
    return render_template(
        "admin/library.html",
        challenges=challenges,
        usage=usage,
        creators=_creators(versions),
        summary=verification.summary,
        publish_refusal=publish_refusal,
        delete_refusal=delete_refusal,
        no_usage=Usage(),
    )


@bp.post("/library/sync")
def library_sync():
    result = library_service.sync_library(current_app.config["CHALLENGES_DIR"])
    flash(
        f"Synced challenges/: {len(result.added)} added, {len(result.unchanged)} unchanged, "
        f"{len(result.errors)} invalid."
        + (f" Added: {', '.join(result.added)}." if result.added else ""),
        "info",
    )
    for error in result.errors:
        flash(f"Not synced: {error}", "error")
    queued, problem = verification.request_missing_verifications()
    if queued:
        flash(f"Verification queued for {queued} version(s) never verified.", "info")
    if problem:
        flash(problem, "warning")
    return redirect(url_for("admin.library"))


# ---- upload -------------------------------------------------------------------------------


@bp.get("/library/upload")
def upload_form():
    return _upload_page()


@bp.post("/library/upload")
def upload():
    file = request.files.get("file")
    if file is None:
        return _upload_page("Choose a file to upload.", status=400)
    try:
        version = uploads.accept_upload(file.filename or "", file.stream, current_user)
    except uploads.UploadRefused as refused:
        return _upload_page(refused.message, refused.problems, status=refused.status)
    flash(
        f"Stored {version.slug} v{version.version} as a draft. It can be published once its "
        "verification passes.",
        "info",
    )
    try:
        verification.request_verification(version, runs=1)
    except (VerificationUnavailable, VerificationBusy) as exc:
        flash(f"{exc} Use “Re-run verification” on this page.", "warning")
    else:
        flash("Verification is queued; this page shows its progress.", "info")
    return redirect(url_for("admin.version", version_id=version.id))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    if request.endpoint == "admin.upload":
        limit_mib = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024)
        return _upload_page(
            f"That file is larger than the server accepts ({limit_mib:g} MiB per upload). "
            "Zip the challenge folder, or leave out what the challenge does not need.",
            status=413,
        )
    return http_error(error)


def _upload_page(message: str | None = None, problems: list[str] | None = None, status: int = 200):
    return render_template(
        "admin/upload.html",
        message=message,
        problems=problems or [],
        limits={
            "yaml_mib": uploads.MAX_YAML_BYTES // uploads.MIB,
            "request_mib": (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // uploads.MIB,
            "entries": uploads.MAX_ZIP_ENTRIES,
            "entry_mib": uploads.MAX_ZIP_ENTRY_BYTES // uploads.MIB,
            "total_mib": uploads.MAX_ZIP_TOTAL_BYTES // uploads.MIB,
            "ratio": uploads.MAX_COMPRESSION_RATIO,
        },
    ), status


# ---- one version --------------------------------------------------------------------------


@bp.get("/library/versions/<id:version_id>")
def version(version_id: int):
    return _version_page(db.get_or_404(ChallengeVersion, version_id))


@bp.get("/library/versions/<id:version_id>/verification.json")
@polled
def verification_json(version_id: int):
    version = db.get_or_404(ChallengeVersion, version_id)
    data = version.verification or {}
    return jsonify(
        {
            "state": data.get("state"),
            "progress": data.get("progress"),
            "runs": data.get("runs"),
            "queued_at": data.get("queued_at"),
            "started_at": data.get("started_at"),
            "finished_at": data.get("finished_at"),
            "summary": verification.summary(version.verification),
            "active": data.get("state") in ACTIVE_STATES,
        }
    )


@bp.post("/library/versions/<id:version_id>/verify")
def reverify(version_id: int):
    version = db.get_or_404(ChallengeVersion, version_id)
    try:
        runs = int(request.form.get("runs", "1"))
    except ValueError:
        runs = 0
    if not 1 <= runs <= verification.MAX_RUNS:
        return _version_page(
            version, f"Runs must be a whole number from 1 to {verification.MAX_RUNS}.", 400
        )
    try:
        verification.request_verification(version, runs=runs)
    except VerificationBusy as exc:
        return _version_page(version, str(exc), 409)
    except VerificationUnavailable as exc:
        return _version_page(version, str(exc), 503)
    flash(f"Verification queued ({runs} run{'s' if runs != 1 else ''} per subject).", "info")
    return redirect(url_for("admin.version", version_id=version.id))


def _change_version(
    version_id: int, change, refused: str, done: str, *, back_to_library: bool = False
):
    """Apply one of the library service's changes to a version: its refusal (``refused`` says
    what did not happen) re-renders the version's page with a 409; success flashes ``done``
    (formatted with the version's label) and shows the version again, or the library when the
    version is gone."""
    version = db.get_or_404(ChallengeVersion, version_id)
    label = f"{version.slug} v{version.version}"
    try:
        change(version)
    except LibraryRefused as exc:
        return _version_page(version, f"{refused}: {exc}.", 409)
    db.session.commit()
    flash(done.format(label=label), "info")
    if back_to_library:
        return redirect(url_for("admin.library"))
    return redirect(url_for("admin.version", version_id=version_id))


@bp.post("/library/versions/<id:version_id>/publish")
def publish(version_id: int):
    return _change_version(
        version_id,
        library_service.publish,
        "Not published",
        "Published {label}: new assessments use it. Any previously published version was "
        "retired; its assessments and submissions keep it.",
    )


@bp.post("/library/versions/<id:version_id>/retire")
def retire(version_id: int):
    return _change_version(
        version_id,
        library_service.retire,
        "Not retired",
        "Retired {label}: it is offered for new assessments no more; existing assessments and "
        "submissions keep it.",
    )


@bp.post("/library/versions/<id:version_id>/delete")
def delete(version_id: int):
    return _change_version(
        version_id,
        library_service.delete,
        "Not deleted",
        "Deleted {label}.",
        back_to_library=True,
    )


@bp.get("/library/versions/<id:version_id>/preview")
def preview(version_id: int):
    version = db.get_or_404(ChallengeVersion, version_id)
    payload = version.payload
    spec = payload["spec"]
    return render_template(
        "admin/preview.html",
        version=version,
        spec=spec,
        brief_html=render_markdown(payload["brief"]),
        notes_html=render_markdown(payload["interviewer_notes"]),
        files=[
            {**entry, "content": payload["starter"].get(entry["path"], "")}
            for entry in spec["files"]
        ],
        visible_tests=payload["visible_tests"],
        hidden_tests=payload["hidden_tests"],
        solution=payload["solution"],
        fixes=payload.get("fixes", []),
        limits=spec.get("limits", {}),
    )


def _version_page(version: ChallengeVersion, error: str | None = None, status: int = 200):
    usage = library_service.usage([version.id]).get(version.id, Usage())
    siblings = db.session.scalars(
        select(ChallengeVersion)
        .where(ChallengeVersion.slug == version.slug)
        .order_by(ChallengeVersion.version.desc(), ChallengeVersion.id.desc())
    ).all()
    data = version.verification or {}
    return render_template(
        "admin/version.html",
        error=error,
        version=version,
        spec=version.spec,
        usage=usage,
        siblings=siblings,
        creator=db.session.get(User, version.created_by_id) if version.created_by_id else None,
        verification=data,
        summary=verification.summary(version.verification),
        active=data.get("state") in ACTIVE_STATES,
        publish_refusal=publish_refusal(version),
        delete_refusal=delete_refusal(version, usage),
        max_runs=verification.MAX_RUNS,
    ), status


def _creators(versions: list[ChallengeVersion]) -> dict[int, User]:
    ids = {v.created_by_id for v in versions if v.created_by_id is not None}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(ids)))}
