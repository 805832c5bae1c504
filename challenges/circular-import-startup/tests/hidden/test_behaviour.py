"""Behaviour checks: the public API keeps working after the fix."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def _call(label: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except Exception as exc:
        pytest.fail(f"{label} raised {type(exc).__name__}: {exc}")


def test_service_creates_and_finds_users(shop):
    services, models, validation = shop.services, shop.models, shop.validation
    users = services.UserService()

    ana = _call(
        "UserService().create('  Ana Souza ', ' Ana.Souza@Example.COM ')",
        lambda: users.create("  Ana Souza ", " Ana.Souza@Example.COM "),
    )
    assert type(ana) is models.User, f"create() returned {type(ana)!r}, not shop.models.User"
    assert (ana.id, ana.name, ana.email, ana.active) == (
        1,
        "Ana Souza",
        "ana.souza@example.com",
        True,
    ), f"create() returned {ana!r}"
    bo = users.create("Bo Lindqvist", "bo@example.org")
    assert bo.id == 2, f"the second user got id {bo.id!r}, expected 2"
    assert users.get(1) is ana, "get(1) did not return the user created first"
    assert users.find_by_email("  ANA.SOUZA@example.com") is ana, "lookup by email ignores case"
    assert users.find_by_email("nobody@example.com") is None

    with pytest.raises(services.EmailAlreadyRegistered):
        users.create("Ana Again", "ana.souza@EXAMPLE.com")
    with pytest.raises(validation.InvalidUserData):
        users.create("Cy", "not-an-email")
    with pytest.raises(validation.InvalidUserData):
        users.create("   ", "cy@example.net")

    assert users.deactivate(2) is bo and bo.active is False, "deactivate() did not deactivate"
    assert users.get(2).active is False

    status, body = shop.api.post_users({"name": "Dee", "email": " DEE@Example.net"})
    assert status == 201 and body["email"] == "dee@example.net" and body["name"] == "Dee", (
        f"POST /users returned {status} {body!r}"
    )
    status, _ = shop.api.post_users({"name": "Dee", "email": "dee@example.net"})
    assert status == 409, f"POST /users with a taken email returned {status}, expected 409"


def test_user_built_directly_normalises_its_email(shop):
    user_class, invalid = shop.models.User, shop.validation.InvalidUserData
    bo = _call(
        "User(id=7, name=' Bo Lindqvist ', email='  Bo.Lindqvist@Example.ORG ')",
        lambda: user_class(id=7, name=" Bo Lindqvist ", email="  Bo.Lindqvist@Example.ORG "),
    )
    assert dataclasses.asdict(bo) == {
        "id": 7,
        "name": "Bo Lindqvist",
        "email": "bo.lindqvist@example.org",
        "active": True,
    }, f"User(...) built directly gave {bo!r}; its email must be normalised like the service's"
    with pytest.raises(invalid):
        user_class(id=8, name="Cy", email="cy at example dot net")


def _hints(obj: object, label: str) -> dict[str, object]:
    try:
        return typing.get_type_hints(obj)
    except Exception as exc:
        pytest.fail(
            f"typing.get_type_hints({label}) raised {type(exc).__name__}: {exc}; the API builds "
            "its response schema from these hints at runtime"
        )


def test_type_hints_resolve_at_runtime(shop):
    user_class, service = shop.models.User, shop.services.UserService
    fields = _hints(user_class, "User")
    assert fields == {"id": int, "name": str, "email": str, "active": bool}, (
        f"User's type hints resolve to {fields!r}"
    )
    for method, params in (("create", {"name": str, "email": str}), ("get", {"user_id": int})):
        hints = _hints(getattr(service, method), f"UserService.{method}")
        assert hints.get("return") is user_class, (
            f"UserService.{method} returns {hints.get('return')!r}, expected shop.models.User"
        )
        for name, kind in params.items():
            assert hints.get(name) is kind, f"UserService.{method}({name}) is {hints.get(name)!r}"
    found = _hints(service.find_by_email, "UserService.find_by_email").get("return")
    assert set(typing.get_args(found)) == {user_class, type(None)}, (
        f"UserService.find_by_email returns {found!r}, expected User | None"
    )
    deactivated = _hints(service.deactivate, "UserService.deactivate").get("return")
    assert deactivated is user_class, f"UserService.deactivate returns {deactivated!r}"
    try:
        schema = shop.api.response_schema()
    except Exception as exc:
        pytest.fail(f"shop.api.response_schema() raised {type(exc).__name__}: {exc}")
    assert schema == {"id": "integer", "name": "string", "email": "string", "active": "boolean"}


def test_public_names_stay_in_their_modules(shop):
    documented = {
        "shop.models": ["User"],
        "shop.services": ["UserService", "EmailAlreadyRegistered", "normalize_email"],
        "shop.validation": ["InvalidUserData", "validate_name"],
    }
    modules = {
        "shop.models": shop.models,
        "shop.services": shop.services,
        "shop.validation": shop.validation,
    }
    missing = [
        f"{module}.{name}"
        for module, names in documented.items()
        for name in names
        if not hasattr(modules[module], name)
    ]
    assert not missing, f"documented names are no longer importable: {', '.join(missing)}"
    for module, name in (("shop.models", "User"), ("shop.services", "UserService")):
        defined_in = getattr(modules[module], name).__module__
        assert defined_in == module, (
            f"{name} is now defined in {defined_in}, not {module}; pickled sessions and other "
            f"packages refer to it as {module}.{name}"
        )
    assert shop.services.normalize_email("  Ana@Example.COM ") == "ana@example.com"
