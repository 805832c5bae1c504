"""Staff accounts on the web: sessions, and who may see what (the log-in pages are in
app/blueprints/auth.py).

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
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from app.extensions import db, limiter, login_manager
from app.models import Role, User, utcnow
from app.services import users

F = TypeVar("F", bound=Callable[..., Any])

LOGIN_ID = "login_id"
"""The session key holding the id of this login's ``StaffSession`` row."""


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
    if not users.session_is_live(user, session.get(LOGIN_ID)):
        return None  # logged out: this is a copy of the cookie from before
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


def log_in(user: User) -> None:
    """Start a fresh session for ``user``: a new login row, the time it started."""
    session.clear()
    session.permanent = True
    login_user(user, remember=False)
    session["login_at"] = utcnow().isoformat()
    session[LOGIN_ID] = users.start_session(user, current_app.config["STAFF_SESSION_MAX_HOURS"])


def log_out() -> None:
    users.end_session(session.get(LOGIN_ID))
    logout_user()
    session.clear()


def init_app(app: Flask) -> None:
    app.session_interface = IdleAwareSessionInterface()
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    limiter.init_app(app)
