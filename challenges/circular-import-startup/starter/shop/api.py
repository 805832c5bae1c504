"""HTTP handlers for the user endpoints; the entry point of the web app.

The web framework glue is trimmed for the exercise: each handler takes the decoded request and
returns ``(status, body)``. Like the real framework, the response schema is derived at runtime
from the type hints of the service method and of the model it returns.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from shop.models import User
from shop.services import EmailAlreadyRegistered, UserService
from shop.validation import InvalidUserData

JSON_TYPES: dict[object, str] = {int: "integer", str: "string", bool: "boolean"}

service = UserService()


def response_schema() -> dict[str, str]:
    """The JSON type of each field of the model that ``POST /users`` returns."""
    model = typing.get_type_hints(UserService.create)["return"]
    return {name: JSON_TYPES[hint] for name, hint in typing.get_type_hints(model).items()}


def serialize(user: User) -> dict[str, Any]:
    return dataclasses.asdict(user)


def post_users(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``POST /users``: register a user."""
    try:
        user = service.create(name=str(body.get("name", "")), email=str(body.get("email", "")))
    except InvalidUserData as exc:
        return 422, {"error": str(exc)}
    except EmailAlreadyRegistered as exc:
        return 409, {"error": str(exc)}
    return 201, serialize(user)


def get_user(user_id: int) -> tuple[int, dict[str, Any]]:
    """``GET /users/<id>``."""
    try:
        return 200, serialize(service.get(user_id))
    except KeyError:
        return 404, {"error": f"no user {user_id}"}
