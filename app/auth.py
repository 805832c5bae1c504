"""Staff accounts on the web: log in and out, who may see what.

Candidates never log in (their invite token is their key); interviewers and admins do.
Interviewers see the assessments they own; admins see everything.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.extensions import db, limiter, login_manager
from app.models import Role, User, utcnow
from app.services.users import MIN_PASSWORD_LENGTH, set_password

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])

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
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is not None and user.active and user.check_password(form.password.data):
            session.clear()
            session.permanent = True
            login_user(user, remember=False)
            session["login_at"] = utcnow().isoformat()
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        flash(LOGIN_FAILED, "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
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


def home_for(user: User) -> str:
    return url_for("review.dashboard")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a page of this site that answers GET, else None: a link must not
    bounce anyone to another site, nor land them on a form action such as /logout."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    try:
        current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except RequestRedirect:
        pass  # e.g. a missing trailing slash: the page exists
    except HTTPException:
        return None
    return target


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    user_id, _, key = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or _session_too_old():
        return None
    if not hmac.compare_digest(key, user.session_key):
        return None  # the password changed since this session logged in
    return user


def _session_too_old() -> bool:
    started = session.get("login_at")
    if not started:
        return True
    try:
        age = utcnow() - datetime.fromisoformat(started)
    except ValueError:
        return True
    return age.total_seconds() > current_app.config["STAFF_SESSION_MAX_HOURS"] * 3600


@login_manager.unauthorized_handler
def _unauthorized():
    if _wants_json():
        return jsonify({"error": "Log in first."}), 401
    flash("Log in to continue.", "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Logged in with one of ``roles``; anyone else logged in gets 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


staff_required = roles_required(Role.ADMIN, Role.INTERVIEWER)
admin_required = roles_required(Role.ADMIN)


def polled(view: F) -> F:
    """A route the pages poll in the background: it must not keep an idle session alive, or
    a tab left open would never log out."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.polled = True
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class IdleAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a polled request does not re-sign (and so
    does not extend) the session: its signature's age is what ends an idle session."""

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if g.get("polled"):
            return session.modified
        return super().should_set_cookie(app, session)


def init_app(app: Flask) -> None:
    app.session_interface = IdleAwareSessionInterface()
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    limiter.init_app(app)
    app.register_blueprint(bp)
