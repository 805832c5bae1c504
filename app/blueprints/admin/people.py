"""Admin: user accounts."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from app.blueprints.admin import bp
from app.extensions import db
from app.models import User


@bp.get("/users")
def users():
    return render_template("admin/users.html", users=db.session.scalars(select(User)).all())
