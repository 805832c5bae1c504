"""Admin: regrade a set of submissions against another version of their challenge."""

from __future__ import annotations

from flask import render_template

from app.blueprints.admin import bp


@bp.get("/regrades")
def regrades():
    return render_template("admin/regrades.html")
