"""Staff log in and out, and change their own password (the rules of who may see what are in
app/auth.py)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth import home_for, log_in, log_out, safe_next
from app.extensions import limiter
from app.services import users
from app.services.users import MIN_PASSWORD_LENGTH, set_password

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Wrong email or password, or the account is deactivated."
TOO_MANY_ATTEMPTS = (
    "Too many failed attempts from your address. Wait a minute, then try again "
    "(an admin can reset a forgotten password)."
)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _failed(response: Response) -> bool:
    """Only failed attempts count against the limit: staff who log in often are never
    locked out, someone guessing passwords is."""
    return response.status_code != 302


password_guard = limiter.limit(
    _login_limit, methods=["POST"], deduct_when=_failed, error_message=TOO_MANY_ATTEMPTS
)


@bp.route("/login", methods=["GET", "POST"])
@password_guard
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or home_for(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = users.authenticate(form.email.data, form.password.data)
        if user is not None:
            log_in(user)
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        flash(LOGIN_FAILED, "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=1024)]
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
    )
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new_password", message="The two entries differ.")],
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@password_guard
def change_password():
    """Staff change their own password; every other session of theirs ends with the old one."""
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        if not current_user.check_password(form.current_password.data):
            form.current_password.errors.append("That is not your current password.")
            status = 400
        elif current_user.check_password(form.new_password.data):
            form.new_password.errors.append("Choose a password different from the current one.")
            status = 400
        else:
            set_password(current_user, form.new_password.data)
            login_user(current_user, remember=False)  # this session goes on with the new key
            flash("Your password is changed; your other sessions are logged out.", "success")
            return redirect(home_for(current_user))
    elif request.method == "POST":
        status = 400
    return render_template("auth/password.html", form=form), status
