"""Quick checks of the user service and model. Run them with the "Run tests" button.

These tests import ``shop.services`` first, like the billing worker does.
"""

from __future__ import annotations

import pytest
from shop.services import EmailAlreadyRegistered, UserService


def test_create_normalises_and_finds_users():
    users = UserService()
    ana = users.create(" Ana Souza ", " Ana.Souza@Example.COM ")
    assert (ana.id, ana.name, ana.email, ana.active) == (
        1,
        "Ana Souza",
        "ana.souza@example.com",
        True,
    )
    assert users.get(1) is ana
    assert users.find_by_email("ANA.SOUZA@example.com") is ana
    assert users.find_by_email("nobody@example.com") is None


def test_email_is_unique_whatever_its_case():
    users = UserService()
    users.create("Ana Souza", "ana.souza@example.com")
    with pytest.raises(EmailAlreadyRegistered):
        users.create("Ana Again", "  ANA.SOUZA@example.com")


def test_user_built_directly_normalises_its_email():
    from shop.models import User

    user = User(id=7, name="Bo Lindqvist", email="  Bo.Lindqvist@Example.ORG ")
    assert user.email == "bo.lindqvist@example.org"
