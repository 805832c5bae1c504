"""Shared helpers of the hidden checks: open a service on a fresh database, fire bursts of
concurrent sign-ups, and read back what the database holds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import db
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

REQUESTS = 12  # concurrent sign-ups per burst; below the pool size, so each has a connection
TIMEOUT = 30  # seconds for one burst; a deadlocked fix fails instead of hanging the suite


@dataclass
class Outcomes:
    """How a burst of ``register`` calls ended."""

    accounts: list[Any]  # Account objects returned
    taken: list[BaseException]  # the module's UsernameTakenError
    other: list[BaseException]  # anything else raised

    def describe_other(self) -> str:
        kinds = sorted(
            {
                f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:160]
                for exc in self.other
            }
        )
        return "; ".join(kinds[:2])


async def open_service(module: ModuleType, path: Path) -> tuple[Any, AsyncEngine]:
    """A ``RegistrationService`` of ``module`` on a new database, with a warm connection pool
    (a long-running service has its connections open before the traffic arrives)."""
    engine = db.open_engine(path)
    service = module.RegistrationService(engine)
    await service.create_schema()

    async def ping() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await asyncio.sleep(0.01)  # hold it so that every ping opens its own connection

    await asyncio.gather(*(ping() for _ in range(REQUESTS)))
    return service, engine


async def burst(service: Any, usernames: list[str]) -> list[Any]:
    """Call ``register`` for every name at the same time; results or exceptions, in order."""
    jobs = [service.register(name) for name in usernames]
    return await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), TIMEOUT)


def classify(module: ModuleType, results: list[Any]) -> Outcomes:
    outcomes = Outcomes([], [], [])
    for result in results:
        if isinstance(result, module.UsernameTakenError):
            outcomes.taken.append(result)
        elif isinstance(result, BaseException):
            outcomes.other.append(result)
        else:
            outcomes.accounts.append(result)
    return outcomes


async def rows(engine: AsyncEngine) -> list[tuple[int, str, str]]:
    """Every row of the ``accounts`` table: (id, username, display_name), by id."""
    async with engine.connect() as connection:
        result = await connection.execute(
            text("SELECT id, username, display_name FROM accounts ORDER BY id")
        )
        return [(row[0], row[1], row[2]) for row in result]


def rows_for(table: list[tuple[int, str, str]], key: str) -> list[tuple[int, str, str]]:
    """Rows whose username is ``key`` ignoring case and surrounding blanks."""
    return [row for row in table if row[1].strip().lower() == key]
