"""Admin: the grading queue's health."""

from __future__ import annotations

from flask import render_template

from app.blueprints.admin import bp


@bp.get("/queue")
def queue():
    return render_template("admin/queue.html")
