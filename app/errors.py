"""The app-wide error pages: JSON under /api/, a page everywhere else, never a stack trace."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.auth import safe_next
from app.extensions import db

ERROR_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    413: "Too large",
    429: "Slow down",
    500: "Something went wrong",
}
ERROR_MESSAGES = {
    404: "There is nothing at this address. Candidates: use the link in your invitation.",
    405: "This page does not accept that kind of request.",
    413: "What you sent is larger than the server accepts.",
    500: "The server hit a problem. Your saved work is safe; try again in a moment.",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.endswith(".json")


def http_error(error: HTTPException):
    """Errors outside a blueprint's own handlers (unknown URLs, wrong methods, too-large bodies,
    crashes): JSON under /api/, a page everywhere else. Never a stack trace."""
    code = error.code or 500
    if isinstance(error, InternalServerError) or code >= 500:
        code, description = 500, ERROR_MESSAGES[500]
        _end_failed_transaction()
    else:
        description = error.description
    if _wants_json():
        return jsonify({"error": description}), code
    message = ERROR_MESSAGES.get(code, description)
    if code == 400 and description:
        message = description
    title = ERROR_TITLES.get(code, "Error")
    return render_template("error.html", title=title, message=message, code=code), code


def _end_failed_transaction() -> None:
    """Roll back what the failed request left: the error page reads the database too (the
    logged-in user), and on PostgreSQL a failed statement blocks its transaction until then."""
    try:
        db.session.rollback()
    except SQLAlchemyError:  # the database itself is gone: the page renders without it
        db.session.close()


SESSION_ENDED = (
    "Your session has ended (you were logged out, or the page was open too long), so the "
    "form could not be sent. Log in again, then send it again."
)


def csrf_error(error: CSRFError):
    """A form sent without a valid CSRF token: almost always an expired session or a page
    left open across a logout. Say so, offer the way back, and show what was typed."""
    if _wants_json():
        return jsonify({"error": "The page's security token has expired: reload the page."}), 400
    if request.endpoint == "auth.logout" and not current_user.is_authenticated:
        return redirect(url_for("auth.login"))  # logged out already (another tab, expiry)
    typed = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name != "csrf_token" and "password" not in name and value.strip()
    ]
    page = render_template(
        "error.html",
        title="Your session has ended",
        message=SESSION_ENDED,
        login_url=url_for("auth.login", next=safe_next(_same_site_referrer())),
        typed=typed,
        code=400,
    )
    return page, 400


def _same_site_referrer() -> str | None:
    if not request.referrer:
        return None
    parts = urlsplit(request.referrer)
    if parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, http_error)
