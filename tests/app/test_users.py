from __future__ import annotations

import pytest

from app.extensions import db
from app.models import User
from app.services.demo import ensure_demo_accounts
from app.services.users import (
    AccountError,
    LockoutRefused,
    create_user,
    find_user,
    set_active,
    set_password,
    set_role,
)


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


def test_find_user_ignores_case_and_names_unknown_emails(web_app):
    user = create_user("ada@example.com", "Ada", "admin", "long enough password")
    assert find_user("  ADA@Example.com ") == user
    with pytest.raises(AccountError, match=r"no user with the email nobody@example\.com"):
        find_user("nobody@example.com")


def test_set_active_and_set_password_are_saved(web_app):
    user = create_user("ada@example.com", "Ada", "interviewer", "long enough password")
    set_active(user, False)
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    set_active(user, True)
    set_password(user, "a brand new password")
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert stored.active is True
    assert stored.check_password("a brand new password")
    assert not stored.check_password("long enough password")


def test_set_password_refuses_short_passwords_and_keeps_the_old_one(web_app):
    user = create_user("ada@example.com", "Ada", "admin", "long enough password")
    with pytest.raises(AccountError, match="at least 12"):
        set_password(user, "short")
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("long enough password")


def test_users_cli_deactivates_and_activates(web_app):
    user = create_user("ada@example.com", "Ada", "interviewer", "long enough password")
    runner = web_app.test_cli_runner()

    result = runner.invoke(args=["users", "deactivate", "ADA@example.com"])
    assert result.exit_code == 0, result.output
    assert "deactivated ada@example.com" in result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    assert "(inactive)" in runner.invoke(args=["users", "list"]).output

    result = runner.invoke(args=["users", "activate", "ada@example.com"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).active is True


@pytest.mark.parametrize("command", ["deactivate", "activate", "set-password"])
def test_users_cli_names_unknown_emails_without_asking_for_a_password(web_app, command):
    result = web_app.test_cli_runner().invoke(args=["users", command, "ghost@example.com"])
    assert result.exit_code == 1
    assert "New password" not in result.output
    assert "no user with the email ghost@example.com" in result.output


def test_users_cli_set_password_prompts_twice_and_saves(web_app):
    user = create_user("ada@example.com", "Ada", "admin", "long enough password")
    result = web_app.test_cli_runner().invoke(
        args=["users", "set-password", "ada@example.com"],
        input="a brand new password\na brand new password\n",
    )
    assert result.exit_code == 0, result.output
    assert "password changed for ada@example.com" in result.output
    assert "a brand new password" not in result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("a brand new password")


def test_users_cli_set_password_refuses_short_or_mismatched_passwords(web_app):
    user = create_user("ada@example.com", "Ada", "admin", "long enough password")
    runner = web_app.test_cli_runner()
    short = runner.invoke(args=["users", "set-password", "ada@example.com"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    mismatched = runner.invoke(
        args=["users", "set-password", "ada@example.com"],
        input="a brand new password\nanother password!!\n",
    )
    assert mismatched.exit_code != 0 and "do not match" in mismatched.output.lower()
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("long enough password")


def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(web_app):
    admin = create_user("ada@example.com", "Ada", "admin", "long enough password")
    with pytest.raises(LockoutRefused, match=r"ada@example\.com is the last active admin"):
        set_active(admin, False)
    with pytest.raises(LockoutRefused, match="last active admin"):
        set_role(admin, "interviewer")
    db.session.expire_all()
    stored = db.session.get(User, admin.id)
    assert (stored.active, stored.role) == (True, "admin")

    second = create_user("bo@example.com", "Bo", "admin", "long enough password")
    set_role(admin, "interviewer")
    with pytest.raises(LockoutRefused, match=r"bo@example\.com is the last active admin"):
        set_active(second, False)


def test_an_admin_cannot_deactivate_their_own_account(web_app):
    admin = create_user("ada@example.com", "Ada", "admin", "long enough password")
    create_user("bo@example.com", "Bo", "admin", "long enough password")
    with pytest.raises(LockoutRefused, match="your own account"):
        set_active(admin, False, acting=admin)
    set_active(admin, False)  # another admin (or the CLI) may
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is False


def test_users_cli_refuses_to_deactivate_the_last_active_admin(web_app):
    admin = create_user("ada@example.com", "Ada", "admin", "long enough password")
    result = web_app.test_cli_runner().invoke(args=["users", "deactivate", "ada@example.com"])
    assert result.exit_code == 1
    assert "ada@example.com is the last active admin: make another user admin first" in (
        result.output
    )
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True
