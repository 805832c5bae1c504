"""Interviewer and admin accounts."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Role, User

MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    pass


def create_user(email: str, name: str, role: str, password: str) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"{email!r} is not an email address")
    if role not in {r.value for r in Role}:
        raise AccountError(f"role must be one of: {', '.join(r.value for r in Role)}")
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


def set_active(user: User, active: bool) -> User:
    """Deactivated accounts cannot log in, and their open sessions end at the next request."""
    user.active = active
    db.session.commit()
    return user


def set_password(user: User, password: str) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.set_password(password)
    db.session.commit()
    return user
