"""Interviewer and admin accounts, and their logins."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import Role, StaffSession, User, new_token, utcnow

MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    pass


class LockoutRefused(AccountError):
    """The change would leave Faultline without an active admin, or lock out the admin making it."""


def create_user(email: str, name: str, role: str, password: str) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"{email!r} is not an email address")
    _require_role(role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(select(User).where(func.lower(User.email) == email)) is not None:
        raise AccountError(f"a user with the email {email} already exists")
    user = User(email=email, name=name.strip() or email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def find_user(email: str) -> User:
    """The account with this email (any case); AccountError when there is none."""
    email = email.strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        raise AccountError(f"no user with the email {email}")
    return user


def set_active(user: User, active: bool, *, acting: User | None = None) -> User:
    """Deactivated accounts cannot log in, and their open sessions end at the next request.

    Refused (:class:`LockoutRefused`) for the last active admin, and for ``acting``'s own account
    (the admin at the keyboard); the pages, the API and ``flask users`` all come through here.
    """
    if not active:
        _refuse_lockout(user, active=False, role=user.role, acting=acting)
    user.active = active
    db.session.commit()
    return user


def set_role(user: User, role: str, *, acting: User | None = None) -> User:
    """Make ``user`` an interviewer or an admin; the last active admin cannot stop being one."""
    _require_role(role)
    _refuse_lockout(user, active=user.active, role=role, acting=acting)
    user.role = role
    db.session.commit()
    return user


def active_admin_count() -> int:
    return len(_active_admin_ids())


def _require_role(role: str) -> None:
    if role not in {r.value for r in Role}:
        raise AccountError(f"role must be one of: {', '.join(r.value for r in Role)}")


def _refuse_lockout(user: User, *, active: bool, role: str, acting: User | None) -> None:
    if not active and acting is not None and user.id == acting.id:
        raise LockoutRefused("You cannot deactivate your own account; ask another admin.")
    losing_an_admin = user.is_admin and user.active and (not active or role != Role.ADMIN)
    if losing_an_admin and len(_active_admin_ids(lock=True)) <= 1:
        raise LockoutRefused(
            f"{user.email} is the last active admin: make another user admin first."
        )


def _active_admin_ids(*, lock: bool = False) -> list[int]:
    """With ``lock`` the rows stay locked until commit (PostgreSQL), so two admins demoting
    each other at the same moment cannot both succeed."""
    query = select(User.id).where(User.role == Role.ADMIN, User.active.is_(True))
    if lock:
        query = query.with_for_update()
    return list(db.session.scalars(query))


def set_password(user: User, password: str) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.set_password(password)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active account with this email and password, else None.

    A failed login takes as long whether or not the account exists (or is active): the
    password is checked against a decoy hash then, so the time does not tell which emails
    have accounts."""
    email = email.strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None or not user.active:
        check_password_hash(_decoy_hash(), password)
        return None
    return user if user.check_password(password) else None


@cache
def _decoy_hash() -> str:
    """A hash of a password nobody has, made as real ones are (scrypt)."""
    return generate_password_hash(secrets.token_urlsafe(24), method="scrypt")


def start_session(user: User, max_age_hours: float) -> str:
    """Record a new login of ``user`` and return its id for the session cookie. The user's
    logins older than ``max_age_hours`` have ended anyway: their rows go."""
    cutoff = utcnow() - timedelta(hours=max_age_hours)
    db.session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.created_at < cutoff
        )
    )
    session_id = new_token()
    db.session.add(StaffSession(id=session_id, user_id=user.id))
    db.session.commit()
    return session_id


def session_is_live(user: User, session_id: object) -> bool:
    """The login named by a session cookie has not been logged out."""
    if not isinstance(session_id, str) or not session_id:
        return False
    row = db.session.get(StaffSession, session_id)
    return row is not None and row.user_id == user.id


def end_session(session_id: object) -> None:
    """Log out: a copy of the cookie naming this login no longer opens anything."""
    if isinstance(session_id, str) and session_id:
        db.session.execute(delete(StaffSession).where(StaffSession.id == session_id))
        db.session.commit()
