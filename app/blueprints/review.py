"""The interviewers' pages: assessments, invites, review, compare, export."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.access import visible_assessments
from app.auth import staff_required
from app.extensions import db

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/")
@staff_required
def dashboard():
    assessments = list(db.session.scalars(visible_assessments(current_user)))
    return render_template("review/dashboard.html", assessments=assessments)
