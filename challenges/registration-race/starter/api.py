"""The sign-up endpoints, modelled without a web framework. Read-only for this incident.

In production a thin HTTP layer calls ``SignupAPI.signup`` for ``POST /signup`` and
``SignupAPI.profile`` for ``GET /users/<username>``. Every request of the process runs on the
same event loop and shares one ``RegistrationService``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from accounts import InvalidUsernameError, RegistrationService, UsernameTakenError


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, object] = field(default_factory=dict)


class SignupAPI:
    def __init__(self, accounts: RegistrationService) -> None:
        self._accounts = accounts

    async def signup(self, payload: Mapping[str, object]) -> Response:
        """``POST /signup``: 201 with the new account, 409 if the name is taken, 422 if invalid."""
        username = payload.get("username")
        if not isinstance(username, str):
            return Response(422, {"error": "username is required"})
        try:
            account = await self._accounts.register(username)
        except InvalidUsernameError as exc:
            return Response(422, {"error": str(exc)})
        except UsernameTakenError:
            return Response(409, {"error": "username_taken"})
        return Response(
            201,
            {"id": account.id, "username": account.username, "display_name": account.display_name},
        )

    async def profile(self, username: str) -> Response:
        """``GET /users/<username>``: 200 with the account, 404 if there is none."""
        account = await self._accounts.get_account(username)
        if account is None:
            return Response(404, {"error": "not_found"})
        return Response(200, {"id": account.id, "display_name": account.display_name})
