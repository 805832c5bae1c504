"""Account registration for the sign-up service.

``RegistrationService.register`` is called by ``POST /signup`` (see ``api.py``) for every new
account. Usernames are case-insensitive: they are stored lower-cased, and the spelling the
user typed is kept as the display name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

USERNAME_RULE = re.compile(r"[a-z0-9_]{3,20}")


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    """The ``accounts`` table, also read by the login and reporting services."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: the database refuses a second account with the same username, whatever the
    # timing of the requests.
    username: Mapped[str] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(20))
    # Optional: the insert in register() does not set it (it failed NOT NULL otherwise).
    created_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class RegistrationError(Exception):
    """Base class of the errors ``register`` raises for a request it refuses."""


class InvalidUsernameError(RegistrationError, ValueError):
    """The username breaks the rules: 3-20 characters, letters, digits or underscores."""


class UsernameTakenError(RegistrationError):
    """Another account already uses this username (compared case-insensitively)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"username {username!r} is already taken")
        self.username = username


@dataclass(frozen=True)
class Account:
    id: int
    username: str  # normalised: the unique, lower-case form
    display_name: str  # as the user typed it


def normalize_username(raw: str) -> str:
    """The canonical form of a username, or InvalidUsernameError if it breaks the rules."""
    username = raw.strip().lower()
    if not USERNAME_RULE.fullmatch(username):
        raise InvalidUsernameError(
            f"invalid username {raw!r}: use 3-20 letters, digits or underscores"
        )
    return username


class RegistrationService:
    """Creates and looks up accounts. One instance per process, shared by all requests."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create_schema(self) -> None:
        """Create the tables on a new, empty database."""
        async with self._engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)

    async def register(self, username: str) -> Account:
        """Create an account for ``username``.

        Raises InvalidUsernameError if the name breaks the rules and UsernameTakenError if
        an account with the same name (ignoring case) already exists.
        """
        key = normalize_username(username)
        display_name = username.strip()
        # One statement: the database inserts the row, or does nothing when the unique
        # username is already taken (possibly a moment ago, concurrently).
        statement = text(
            "INSERT INTO accounts (username, display_name) VALUES (:username, :display_name) "
            "ON CONFLICT (username) DO NOTHING RETURNING id"
        )
        async with self._sessions() as session:
            result = await session.execute(
                statement, {"username": key, "display_name": display_name}
            )
            inserted = result.first()
            if inserted is None:
                await session.rollback()
                raise UsernameTakenError(key)
            await session.commit()
        return Account(id=inserted[0], username=key, display_name=display_name)

    async def get_account(self, username: str) -> Account | None:
        """The account registered under ``username`` (any case), or None."""
        key = username.strip().lower()
        async with self._sessions() as session:
            result = await session.execute(select(AccountRow).where(AccountRow.username == key))
            row = result.scalar_one_or_none()
        if row is None:
            return None
        return Account(id=row.id, username=row.username, display_name=row.display_name)
