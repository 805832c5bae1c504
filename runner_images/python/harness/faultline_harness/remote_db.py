"""A DB-API 2.0 connection, in the candidate host, to a database the judge owns.

Every statement is a call back to the judge (:class:`faultline_harness.judge_db.JudgeDatabase`),
which executes it on its own SQLite database and counts it there: the candidate's code can
neither run SQL the judge does not see nor reach the data another way. SQLAlchemy uses it
through :func:`sqlalchemy_engine` (the SQLite dialect, with this module's connections).

This module runs in the candidate's process and is theirs to change; the judge trusts only
what it executes and counts itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

Serve = Callable[..., Any]

paramstyle = "qmark"
apilevel = "2.0"
threadsafety = 1


class DatabaseError(Exception):
    pass


class Connection:
    """A connection of the judge's database: ``serve(op, ...)`` is the judge's callback."""

    isolation_level: str | None = ""
    in_transaction = False

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self._number = serve("open")

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        return self.cursor().execute(sql, parameters)

    def commit(self) -> None:
        self._serve("commit", self._number)

    def rollback(self) -> None:
        self._serve("rollback", self._number)

    def close(self) -> None:
        self._serve("close", self._number)

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        """SQL functions would run in the judge's database; none are registered there."""


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[tuple] = []

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        self._take(
            self.connection._serve("execute", self.connection._number, sql, _plain(parameters))
        )
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Cursor:
        plain = [_plain(row) for row in rows]
        self._take(self.connection._serve("executemany", self.connection._number, sql, plain))
        return self

    def _take(self, answer: dict[str, Any]) -> None:
        names = answer.get("columns")
        self.description = (
            [(name, None, None, None, None, None, None) for name in names] if names else None
        )
        self._rows = [tuple(row) for row in answer.get("rows", [])]
        self.rowcount = answer.get("rowcount", -1)
        self.lastrowid = answer.get("lastrowid")

    def fetchone(self) -> tuple | None:
        return self._rows.pop(0) if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        size = size or self.arraysize
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    def fetchall(self) -> list[tuple]:
        taken, self._rows = self._rows, []
        return taken

    def close(self) -> None:
        self._rows = []

    def __iter__(self) -> Iterator[tuple]:
        while self._rows:
            yield self._rows.pop(0)


def _plain(parameters: Any) -> list[Any]:
    if isinstance(parameters, dict):
        raise DatabaseError("named parameters are not supported; use ? placeholders")
    return list(parameters or ())


def connect(serve: Serve) -> Connection:
    return Connection(serve)


def sqlalchemy_engine(serve: Serve) -> Any:
    """A SQLAlchemy engine (SQLite dialect) whose connections are the judge's database."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import QueuePool

    return create_engine(
        "sqlite://", creator=lambda: connect(serve), poolclass=QueuePool, pool_size=8
    )
