from __future__ import annotations

import pytest

from app.models import User
from app.services.demo import ensure_demo_accounts
from app.services.users import AccountError, create_user


def test_passwords_are_stored_hashed_with_scrypt(web_app):
    user = create_user("Ada@Example.com", "Ada", "interviewer", "correct horse battery")
    assert user.email == "ada@example.com"
    assert user.password_hash.startswith("scrypt:")
    assert "correct horse" not in user.password_hash
    assert user.check_password("correct horse battery")
    assert not user.check_password("wrong password here")


@pytest.mark.parametrize(
    ("email", "role", "password", "reason"),
    [
        ("nope", "admin", "long enough password", "not an email"),
        ("a@b.c", "boss", "long enough password", "role must be one of"),
        ("a@b.c", "admin", "short", "at least 12"),
    ],
)
def test_bad_accounts_are_refused(web_app, email, role, password, reason):
    with pytest.raises(AccountError, match=reason):
        create_user(email, "", role, password)


def test_duplicate_email_is_refused(web_app):
    create_user("a@b.c", "A", "admin", "long enough password")
    with pytest.raises(AccountError, match="already exists"):
        create_user("A@B.C", "A", "admin", "long enough password")


def test_demo_accounts_are_created_once(web_app):
    created = ensure_demo_accounts()
    assert [(email, role) for email, role, _ in created] == [
        ("admin@example.com", "admin"),
        ("interviewer@example.com", "interviewer"),
    ]
    assert ensure_demo_accounts() == []
    assert User.query.count() == 2


def test_users_cli_creates_and_lists(web_app):
    runner = web_app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "lin@example.com",
            "--role",
            "admin",
            "--password",
            "a long password 1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "lin@example.com" in runner.invoke(args=["users", "list"]).output
    again = runner.invoke(
        args=[
            "users",
            "create",
            "lin@example.com",
            "--role",
            "admin",
            "--password",
            "a long password 1",
        ]
    )
    assert again.exit_code == 1 and "already exists" in again.output
