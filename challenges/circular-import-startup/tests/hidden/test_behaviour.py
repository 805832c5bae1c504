"""Behaviour checks: the public API keeps working after the fix.

The package runs in a candidate host; these checks call it there and receive plain data or
handles (see shop_host.py for how identity, types and type hints are asked of the host).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from faultline_harness.judge import Remote, RemoteError
from shop_host import Shop, error_text

T = TypeVar("T")


def _call(label: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except RemoteError as error:
        pytest.fail(f"{label} raised {error_text(error)}")


def _raises(shop: Shop, label: str, exc_name: str, exc_class: Remote, function: Remote, *args):
    failure = shop.inspect.failure_to_raise(exc_class, function, *args)
    assert failure is None, f"{label} should raise {exc_name}; instead: {failure}"


def test_service_creates_and_finds_users(shop: Shop):
    services, models, validation = shop.services, shop.models, shop.validation
    inspect = shop.inspect
    users = _call("UserService()", lambda: services.UserService())

    ana = _call(
        "UserService().create('  Ana Souza ', ' Ana.Souza@Example.COM ')",
        lambda: users.create("  Ana Souza ", " Ana.Souza@Example.COM "),
    )
    user_class = _call("shop.models.User", lambda: models.User.get())
    kind = inspect.type_of(ana)
    assert inspect.same(kind, user_class), (
        f"create() returned {inspect.show(kind)}, not shop.models.User"
    )
    fields = _call(
        "reading the created user's fields",
        lambda: (ana.id.get(), ana.name.get(), ana.email.get(), ana.active.get()),
    )
    assert fields == (1, "Ana Souza", "ana.souza@example.com", True), (
        f"create() returned {inspect.show(ana)}"
    )
    domain = _call("the created user's email_domain", lambda: ana.email_domain.get())
    assert domain == "example.com", (
        f"User.email_domain of {inspect.show(ana)} is {inspect.show(domain)}, "
        "expected 'example.com'"
    )
    bo = _call(
        "UserService().create('Bo Lindqvist', 'bo@example.org')",
        lambda: users.create("Bo Lindqvist", "bo@example.org"),
    )
    bo_id = bo.id.get()
    assert bo_id == 2, f"the second user got id {inspect.show(bo_id)}, expected 2"
    assert inspect.same(_call("get(1)", lambda: users.get(1)), ana), (
        "get(1) did not return the user created first"
    )
    found = _call("find_by_email(...)", lambda: users.find_by_email("  ANA.SOUZA@example.com"))
    assert inspect.same(found, ana), "lookup by email ignores case"
    nobody = _call("find_by_email(...)", lambda: users.find_by_email("nobody@example.com"))
    assert nobody is None, f"find_by_email('nobody@example.com') returned {inspect.show(nobody)}"
    malformed = _call("find_by_email('not-an-email')", lambda: users.find_by_email("not-an-email"))
    assert malformed is None, (
        f"find_by_email('not-an-email') returned {inspect.show(malformed)}, expected None "
        "(no user can have a malformed address)"
    )
    unknown_id = _call("builtins.KeyError", lambda: inspect.attr(inspect.builtins, "KeyError"))
    _raises(shop, "get(99)", "KeyError", unknown_id, users.get.get(), 99)

    create = users.create.get()
    already = _call("shop.services.EmailAlreadyRegistered", services.EmailAlreadyRegistered.get)
    invalid = _call("shop.validation.InvalidUserData", validation.InvalidUserData.get)
    _raises(
        shop,
        "create('Ana Again', 'ana.souza@EXAMPLE.com')",
        "EmailAlreadyRegistered",
        already,
        create,
        "Ana Again",
        "ana.souza@EXAMPLE.com",
    )
    _raises(
        shop,
        "create('Cy', 'not-an-email')",
        "InvalidUserData",
        invalid,
        create,
        "Cy",
        "not-an-email",
    )
    longest = "N" * 100
    named = _call(
        "create(<a name of 100 characters>, 'long@example.net')",
        lambda: users.create(longest, "long@example.net"),
    )
    assert named.name.get() == longest, "a name of 100 characters was not kept as given"
    _raises(
        shop,
        "create(<a name of 101 characters>, 'longer@example.net')",
        "InvalidUserData",
        invalid,
        create,
        "N" * 101,
        "longer@example.net",
    )
    _raises(
        shop,
        "create('   ', 'cy@example.net')",
        "InvalidUserData",
        invalid,
        create,
        "   ",
        "cy@example.net",
    )

    deactivated = _call("deactivate(2)", lambda: users.deactivate(2))
    assert inspect.same(deactivated, bo) and bo.active.get() is False, (
        "deactivate() did not deactivate"
    )
    assert _call("get(2)", lambda: users.get(2)).active.get() is False

    status, body = _call(
        "POST /users", lambda: shop.api.post_users({"name": "Dee", "email": " DEE@Example.net"})
    )
    assert (
        status == 201
        and isinstance(body, dict)
        and body.get("email") == "dee@example.net"
        and body.get("name") == "Dee"
    ), f"POST /users returned {status!r} {inspect.show(body)}"
    status, _ = _call(
        "POST /users", lambda: shop.api.post_users({"name": "Dee", "email": "dee@example.net"})
    )
    assert status == 409, f"POST /users with a taken email returned {status!r}, expected 409"


def test_user_built_directly_normalises_its_email(shop: Shop):
    user_class = _call("shop.models.User", shop.models.User.get)
    invalid = _call("shop.validation.InvalidUserData", shop.validation.InvalidUserData.get)
    bo = _call(
        "User(id=7, name=' Bo Lindqvist ', email='  Bo.Lindqvist@Example.ORG ')",
        lambda: shop.models.User(id=7, name=" Bo Lindqvist ", email="  Bo.Lindqvist@Example.ORG "),
    )
    fields = _call(
        "dataclasses.asdict(User(...))", lambda: shop.client.module("dataclasses").asdict(bo)
    )
    assert fields == {
        "id": 7,
        "name": "Bo Lindqvist",
        "email": "bo.lindqvist@example.org",
        "active": True,
    }, (
        f"User(...) built directly gave {shop.inspect.show(bo)}; its email must be normalised "
        "like the service's"
    )
    failure = shop.inspect.failure_to_raise(
        invalid, user_class, id=8, name="Cy", email="cy at example dot net"
    )
    assert failure is None, (
        f"User(id=8, name='Cy', email='cy at example dot net') should raise InvalidUserData; "
        f"instead: {failure}"
    )


def _hints(shop: Shop, obj: Remote, label: str) -> dict[str, Any]:
    try:
        hints = shop.client.module("typing").get_type_hints(obj)
    except RemoteError as error:
        pytest.fail(
            f"typing.get_type_hints({label}) raised {error_text(error)}; the API builds "
            "its response schema from these hints at runtime"
        )
    assert isinstance(hints, dict), (
        f"typing.get_type_hints({label}) gave {shop.inspect.show(hints)}"
    )
    return hints


def test_type_hints_resolve_at_runtime(shop: Shop):
    inspect = shop.inspect
    user_class = _call("shop.models.User", shop.models.User.get)
    service = _call("shop.services.UserService", shop.services.UserService.get)
    builtin = {name: inspect.attr(inspect.builtins, name) for name in ("int", "str", "bool")}
    none_type = inspect.type_of(None)

    fields = _hints(shop, user_class, "User")
    expected = {"id": "int", "name": "str", "email": "str", "active": "bool"}
    assert set(fields) == set(expected) and all(
        inspect.same(fields[name], builtin[kind]) for name, kind in expected.items()
    ), (
        "User's type hints resolve to {"
        + ", ".join(f"{name!r}: {inspect.show(hint)}" for name, hint in fields.items())
        + "}"
    )
    for method, params in (
        ("create", {"name": "str", "email": "str"}),
        ("get", {"user_id": "int"}),
    ):
        hints = _hints(shop, inspect.attr(service, method), f"UserService.{method}")
        assert inspect.same(hints.get("return"), user_class), (
            f"UserService.{method} returns {inspect.show(hints.get('return'))}, "
            "expected shop.models.User"
        )
        for name, kind in params.items():
            assert inspect.same(hints.get(name), builtin[kind]), (
                f"UserService.{method}({name}) is {inspect.show(hints.get(name))}"
            )
    found = _hints(shop, inspect.attr(service, "find_by_email"), "UserService.find_by_email").get(
        "return"
    )
    members = shop.client.module("typing").get_args(found)
    is_user = [inspect.same(member, user_class) for member in members]
    is_none = [inspect.same(member, none_type) for member in members]
    assert (
        any(is_user) and any(is_none) and all(u or n for u, n in zip(is_user, is_none, strict=True))
    ), f"UserService.find_by_email returns {inspect.show(found)}, expected User | None"
    deactivated = _hints(shop, inspect.attr(service, "deactivate"), "UserService.deactivate").get(
        "return"
    )
    assert inspect.same(deactivated, user_class), (
        f"UserService.deactivate returns {inspect.show(deactivated)}"
    )
    schema = _call("shop.api.response_schema()", shop.api.response_schema)
    assert schema == {"id": "integer", "name": "string", "email": "string", "active": "boolean"}, (
        f"shop.api.response_schema() returned {inspect.show(schema)}"
    )


def test_public_names_stay_in_their_modules(shop: Shop):
    inspect = shop.inspect
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
        if not inspect.has(modules[module], name)
    ]
    assert not missing, f"documented names are no longer importable: {', '.join(missing)}"
    for module, name in (("shop.models", "User"), ("shop.services", "UserService")):
        defined_in = _call(
            f"{module}.{name}.__module__",
            lambda module=module, name=name: inspect.attr(
                inspect.attr(modules[module], name), "__module__"
            ),
        )
        assert defined_in == module, (
            f"{name} is now defined in {inspect.show(defined_in)}, not {module}; pickled sessions "
            f"and other packages refer to it as {module}.{name}"
        )
    normalised = _call(
        "shop.services.normalize_email('  Ana@Example.COM ')",
        lambda: shop.services.normalize_email("  Ana@Example.COM "),
    )
    assert normalised == "ana@example.com", (
        f"shop.services.normalize_email('  Ana@Example.COM ') returned {inspect.show(normalised)}"
    )
