"""Quick checks you can run while you work. The graded suite goes further than this."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import db
import pytest
from accounts import InvalidUsernameError, RegistrationService, UsernameTakenError
from api import SignupAPI
from sqlalchemy import text


@asynccontextmanager
async def new_service(path: Path) -> AsyncIterator[RegistrationService]:
    """A service on a new database file, closed again afterwards."""
    engine = db.open_engine(path)
    try:
        service = RegistrationService(engine)
        await service.create_schema()
        yield service
    finally:
        await engine.dispose()


def test_register_normalises_the_username(tmp_path):
    async def run() -> None:
        async with new_service(tmp_path / "accounts.db") as service:
            account = await service.register("  Maya_K ")
            assert (account.username, account.display_name) == ("maya_k", "Maya_K")
            assert await service.get_account("MAYA_K") == account
            with pytest.raises(InvalidUsernameError):
                await service.register("no spaces allowed")

    asyncio.run(run())


def test_a_taken_username_is_refused_in_any_case(tmp_path):
    async def run() -> None:
        async with new_service(tmp_path / "accounts.db") as service:
            await service.register("maya_k")
            for again in ["maya_k", "Maya_K", " MAYA_K"]:
                with pytest.raises(UsernameTakenError):
                    await service.register(again)

    asyncio.run(run())


def test_signup_endpoint_statuses(tmp_path):
    async def run() -> list[int]:
        async with new_service(tmp_path / "accounts.db") as service:
            api = SignupAPI(service)
            return [
                (await api.signup({"username": "New_User"})).status,
                (await api.signup({"username": "new_user"})).status,
                (await api.signup({"username": "x"})).status,
            ]

    assert asyncio.run(run()) == [201, 409, 422]


def test_double_submitted_signup_creates_one_account(tmp_path):
    """The incident in miniature: the app sends the same sign-up twice, a moment apart."""

    async def run() -> tuple[list[object], int]:
        engine = db.open_engine(tmp_path / "accounts.db")
        service = RegistrationService(engine)
        await service.create_schema()

        async def request() -> object:
            try:
                return await service.register("double_tap")
            except UsernameTakenError as exc:
                return exc

        # Two connections already open, as in a service that has been up for a while.
        async def warm() -> None:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                await asyncio.sleep(0.01)

        await asyncio.gather(warm(), warm())
        results = await asyncio.gather(request(), request())
        async with engine.connect() as connection:
            stored = await connection.scalar(
                text("SELECT COUNT(*) FROM accounts WHERE username = 'double_tap'")
            )
        await engine.dispose()
        return results, stored

    results, stored = asyncio.run(run())
    assert stored == 1, f"two simultaneous sign-ups for one name created {stored} accounts"
    assert sum(isinstance(result, UsernameTakenError) for result in results) == 1
