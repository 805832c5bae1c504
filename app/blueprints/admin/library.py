"""Admin: the challenge library (sync, upload, verify, preview, publish, retire)."""

from __future__ import annotations

from flask import render_template

from app.blueprints.admin import bp
from app.services.library import current_versions


@bp.get("/library")
def library():
    return render_template("admin/library.html", versions=current_versions())
