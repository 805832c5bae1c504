"""Admin: user accounts (create, activate/deactivate, reset password, change role).

Faultline must always keep one active admin: an admin cannot deactivate themselves, and the
last active admin can be neither deactivated nor made an interviewer (app/services/users.py
refuses it, for these pages and for `flask users` alike). New and reset passwords that Faultline
generates are shown once, on the page answering the POST, and never stored."""

from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.blueprints.admin.blueprint import bp
from app.extensions import db
from app.models import Role, User
from app.services.users import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    active_admin_count,
    create_user,
    set_active,
    set_password,
    set_role,
)

ROLE_CHOICES = [SelectChoice(Role.INTERVIEWER.value), SelectChoice(Role.ADMIN.value)]


class NewUserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.INTERVIEWER.value)
    password = PasswordField(
        "Password",
        validators=[
            Optional(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=f"the password needs {MIN_PASSWORD_LENGTH} to 1024 characters",
            ),
        ],
        description=(
            f"At least {MIN_PASSWORD_LENGTH} characters. Leave empty to generate one: "
            "it is shown once, on the next page."
        ),
    )


class ActiveForm(FlaskForm):
    active = SelectField("Active", choices=[SelectChoice("1", "active"), SelectChoice("0", "off")])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


@bp.get("/users")
def users():
    accounts = db.session.scalars(select(User).order_by(User.created_at, User.id)).all()
    return render_template(
        "admin/users.html",
        users=accounts,
        active_admins=active_admin_count(),
        role_choices=ROLE_CHOICES,
    )


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = NewUserForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("admin/user_new.html", form=form), status
    generated = not form.password.data
    password = generate_password() if generated else form.password.data
    try:
        user = create_user(form.email.data, form.name.data or "", form.role.data, password)
    except AccountError as exc:
        form.form_errors.append(str(exc))
        return render_template("admin/user_new.html", form=form), 422
    if not generated:
        flash(f"{user.email} can log in now as {user.role}.", "info")
        return redirect(url_for("admin.users"), 303)
    return (
        render_template("admin/user_password.html", user=user, password=password, created=True),
        201,
    )


@bp.post("/users/<id:user_id>/active")
def user_set_active(user_id: int):
    user = db.get_or_404(User, user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        flash("Choose whether the account is active.", "error")
        return redirect(url_for("admin.users"), 303)
    active = form.active.data == "1"
    try:
        set_active(user, active, acting=current_user)
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"), 303)
    state = "active again" if active else "deactivated: they cannot log in any more"
    flash(f"{user.email} is {state}.", "info")
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/role")
def user_set_role(user_id: int):
    user = db.get_or_404(User, user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose a role: interviewer or admin.", "error")
        return redirect(url_for("admin.users"), 303)
    try:
        set_role(user, form.role.data, acting=current_user)
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"), 303)
    flash(f"{user.email} is now {user.role}.", "info")
    if user.id == current_user.id and not user.is_admin:
        return redirect(url_for("review.dashboard"), 303)
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<id:user_id>/password")
def user_reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    if user.id == current_user.id:
        flash(
            "To change your own password use Change password (click your name in the top bar): "
            "a reset here would log you out.",
            "warning",
        )
        return redirect(url_for("admin.users"))
    password = generate_password()
    set_password(user, password)
    return (
        render_template("admin/user_password.html", user=user, password=password, created=False),
        200,
    )


def generate_password() -> str:
    """16 URL-safe characters (96 random bits)."""
    return secrets.token_urlsafe(12)
