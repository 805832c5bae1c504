"""The judge's side of the sign-up service: a service per host, on a database the judge reads.

Each check starts the subject's ``RegistrationService`` (with the read-only ``SignupAPI`` in
front of it) in a candidate host, on a new SQLite file in a folder the judge makes under /tmp
for it: the host runs as a uid of its own and must create and write the file, and the judge's
TMPDIR is private to the judge. The judge never imports the subject's code.

- Requests are concurrent calls into the host, each on a host thread of its own, and their
  coroutines run on the host's one event loop, as requests do in production. A burst lands at
  once (:meth:`SignupService.burst`): the judge holds the host's loop until every request of
  the burst has queued its coroutine there, so they all start in one loop iteration, as on a
  loop that was busy when a burst of sign-ups arrived. Nothing of the subject's code changes.
- What the service answered comes back as plain data: the API's HTTP statuses and bodies, the
  fields of the ``Account`` objects ``register`` returns. Whether an answer is an ``Account``
  is asked of the host (``isinstance`` there); whether a refusal is ``UsernameTakenError`` or
  ``InvalidUsernameError`` is what the read-only API's 409 and 422 say.
- What the service stored is read by the judge alone (:func:`read_table`): once the host is
  closed, the judge copies the database file (with its -wal and -shm files) into its private
  TMPDIR and counts the accounts in the copy with its own sqlite3.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultline_harness.judge import Call, HostClient, HostTimeout, Member, Remote, RemoteError

REQUESTS = 12  # concurrent sign-ups per burst; below the pool size, so each has a connection
ANSWER_SECONDS = 10.0  # for a call's or a burst's answers (they take well under a second)
GATE_SECONDS = 10.0  # the longest the host's loop is held while a burst's requests come in
SHARED_TMP = "/tmp"  # world-writable and sticky: the host's uid can create files in our folder
DB_NAME = "accounts.db"
COPY_LIMIT_BYTES = 64 * 1024 * 1024
SHOWN_CHARS = 160
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")

Row = tuple[Any, Any, Any]  # (id, username, display_name) as stored


class TimedOut:
    """A call that had not answered within ``ANSWER_SECONDS`` (or was not made: the service
    had already stopped answering)."""

    def __repr__(self) -> str:
        return "<no answer>"


TIMED_OUT = TimedOut()


def bounded(value: Any, limit: int = SHOWN_CHARS) -> str:
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_name(error: RemoteError) -> str:
    """The class name of what the subject's code raised (nothing else of its text)."""
    name = error.type_name
    return name if _IDENTIFIER.fullmatch(name) else "an exception"


# The platform's modules a host imports before it is handed to a check (db.py is read-only).
LIBRARIES = ("db", "sqlalchemy.orm", "sqlalchemy.dialects.sqlite.aiosqlite", "aiosqlite")


def prepare(host: HostClient) -> HostClient:
    """Import the platform's libraries in a new host and start its event loop (no code of the
    subject's runs: ``accounts`` is imported by the check that takes the host)."""
    for name in LIBRARIES:
        host.module(name)
    host.ping_loop()
    return host


# The database, read by the judge -------------------------------------------------------------


def shared_folder() -> Path:
    """A new folder under /tmp in which a host (another uid) can create its database."""
    path = tempfile.mkdtemp(prefix="faultline-accounts-", dir=SHARED_TMP)
    os.chmod(path, 0o777)  # the host's uid creates the database file in it
    return Path(path)


@dataclass
class Table:
    """The ``accounts`` rows the judge read, by id, or why it could not read them."""

    rows: list[Row] = field(default_factory=list)
    problem: str = ""

    def rows_for(self, key: str) -> list[Row]:
        """Rows whose username is ``key`` ignoring case and surrounding blanks."""
        return [
            row for row in self.rows if isinstance(row[1], str) and row[1].strip().lower() == key
        ]


def read_table(folder: Path) -> Table:
    """The ``accounts`` table of the database in ``folder``, read from the judge's own copy.

    Call it once the host is closed: no process of the subject's can change the files then.
    """
    table, _ = _read(folder, "SELECT id, username, display_name FROM accounts ORDER BY id")
    return table


@dataclass
class Stored:
    """The ``accounts`` table's columns and each row's ``(username, created_at)``, as stored."""

    columns: list[str] = field(default_factory=list)
    created: list[tuple[Any, Any]] = field(default_factory=list)
    problem: str = ""
    types: dict[str, str] = field(default_factory=dict)
    """Each column's declared type, as the table's definition gives it (``VARCHAR(20)``)."""


def read_created(folder: Path) -> Stored:
    """The columns of ``accounts`` and every row's ``created_at`` (read like :func:`read_table`:
    from the judge's own copy, once the host is closed). ``created_at`` comes as SQLite stores
    it: SQLAlchemy's ``DateTime`` is ISO text there."""
    table, declared = _read(
        folder, "SELECT username, created_at FROM accounts ORDER BY id", columns=True
    )
    columns, types = [name for name, _ in declared], dict(declared)
    if table.problem:
        return Stored(columns=columns, problem=table.problem, types=types)
    return Stored(columns=columns, created=[(row[0], row[1]) for row in table.rows], types=types)


def _read(folder: Path, query: str, columns: bool = False) -> tuple[Table, list[tuple[str, str]]]:
    """The rows of ``query`` (and, with ``columns``, the name and declared type of each column
    of ``accounts``) on the judge's own copy of the database in ``folder``."""
    names: list[tuple[str, str]] = []
    private = Path(tempfile.mkdtemp())  # the judge's TMPDIR: no other uid can reach it
    try:
        try:
            for suffix in ("", "-wal", "-shm"):
                _copy_regular(folder / (DB_NAME + suffix), private / (DB_NAME + suffix), suffix)
        except FileNotFoundError:
            return Table(problem="the service left no database file"), names
        except OSError as exc:
            return Table(problem=f"the judge could not copy the database ({exc})"), names
        connection = sqlite3.connect(private / DB_NAME)
        try:
            kind = connection.execute(
                "SELECT type FROM sqlite_master WHERE name = 'accounts'"
            ).fetchone()
            if kind is None or kind[0] != "table":
                return Table(problem="the database has no accounts table"), names
            if columns:
                names = [
                    (str(info[1]), str(info[2]).upper())
                    for info in connection.execute("PRAGMA table_info(accounts)")
                ]
                if "created_at" not in {name for name, _ in names}:
                    return Table(problem="the accounts table has no created_at column"), names
            rows = connection.execute(query).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return Table(problem=f"the judge could not read the database ({str(exc)[:120]})"), names
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return Table(rows=[tuple(row) for row in rows]), names


def _copy_regular(source: Path, target: Path, suffix: str) -> None:
    """Copy a regular file (never a link, a pipe or a device); a missing -wal/-shm is fine."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        if suffix:
            return
        raise
    with os.fdopen(fd, "rb") as reader:
        info = os.fstat(reader.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{source.name} is not a regular file")
        if info.st_size > COPY_LIMIT_BYTES:
            raise OSError(f"{source.name} is over {COPY_LIMIT_BYTES // 2**20} MB")
        with open(target, "xb") as writer:
            shutil.copyfileobj(reader, writer)


# The service, driven over the wire -----------------------------------------------------------


@dataclass
class Answer:
    """How the sign-up API answered one request, or what it raised instead (a 500)."""

    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    failure: str = ""  # what happened instead of an answer

    def describe(self) -> str:
        return self.failure or f"answered {self.status}"


@dataclass
class Outcomes:
    """How a burst of sign-ups for one username ended."""

    created: list[Answer]  # 201: an account
    taken: list[Answer]  # 409: UsernameTakenError
    other: list[Answer]  # anything else

    @classmethod
    def of(cls, answers: list[Answer]) -> Outcomes:
        outcomes = cls([], [], [])
        for answer in answers:
            if answer.status == 201:
                outcomes.created.append(answer)
            elif answer.status == 409:
                outcomes.taken.append(answer)
            else:
                outcomes.other.append(answer)
        return outcomes

    def describe_other(self) -> str:
        kinds = Counter(answer.describe() for answer in self.other)
        return "; ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())[:2])


class SignupService:
    """The subject's sign-up service in ``host``, on a new database in ``folder``."""

    def __init__(self, host: HostClient, folder: Path) -> None:
        self.host, self.folder = host, folder
        self.stalled = False  # a call went unanswered: the service is stuck, ask it nothing more
        self.operator = host.module("operator")
        self.builtins = host.module("builtins")
        accounts = host.module("accounts")
        self.account_class = accounts.Account.get()
        self.engine = host.module("db").open_engine(str(folder / DB_NAME))
        self.service = accounts.RegistrationService(self.engine)
        self.api = host.module("api").SignupAPI(self.service)
        _answer(self.service.create_schema.start())
        self._account_fields = self.operator.attrgetter("id", "username", "display_name")
        self._response_fields = self.operator.attrgetter("status", "body")
        asyncio = host.module("asyncio")
        self._submit = asyncio.run_coroutine_threadsafe.get()
        self._loop = asyncio.get_running_loop.on_loop()

    def warm(self) -> None:
        """Open ``REQUESTS`` pooled connections, as a service that has been up a while has."""
        opening = [self.engine.connect.start() for _ in range(REQUESTS)]
        connections = [_answer(future) for future in opening]
        for future in [connection.close.start() for connection in connections]:
            _answer(future)

    def close(self) -> Table:
        """Stop the host (every process of its uid), then read what the service stored."""
        self.host.close()
        return read_table(self.folder)

    # Bursts ----------------------------------------------------------------------------------

    def burst(self, function: Member, arguments: list[Any]) -> list[Any]:
        """``function(argument)`` for every argument at once: answers in order, each a value, a
        :class:`Remote`, a :class:`RemoteError` or ``TIMED_OUT``.

        Each request is a call of its own into the host (``.start``, on a host thread of its
        own) that hands its coroutine to the host's event loop and answers at once. The judge
        holds the loop (a judge callback the loop thread runs, waiting for the judge) until
        every request has answered, that is until every coroutine is queued on the loop; then
        it lets the loop go, and the loop starts them all in the same iteration, as sign-ups
        that land together on a busy loop. Their results are collected afterwards.
        """
        if self.stalled:
            return [TIMED_OUT] * len(arguments)
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            held.set()
            release.wait(GATE_SECONDS)

        target = function.get()  # the bound method, as a handle the host can call
        gate = self.host.start_call(
            self.operator, "call", (self.host.callback(hold),), {}, loop=True
        )
        queued: list[Any] = []
        try:
            held.wait(GATE_SECONDS)
            starts = [self.builtins.list.start(self._queue(target, a)) for a in arguments]
            deadline = time.monotonic() + ANSWER_SECONDS
            for start in starts:
                queued.append(self._result(start, deadline))
        finally:
            release.set()
        deadline = time.monotonic() + ANSWER_SECONDS
        waiting = [
            (item[0].result.start(), True) if _is_queued(item) else (item, False) for item in queued
        ]
        answers = [self._result(item, deadline) if started else item for item, started in waiting]
        with contextlib.suppress(RemoteError, HostTimeout):  # the judge's gate: decides nothing
            gate.result(max(0.1, deadline - time.monotonic()))
        return answers

    def _queue(self, target: Remote, argument: Any) -> Call:
        """``[asyncio.run_coroutine_threadsafe(target(argument), loop)]``, evaluated by the host:
        the ``map`` calls keep the host from awaiting the coroutine where it is made."""
        coroutines = Call(self.builtins.map, target, [argument])
        return Call(self.builtins.map, self._submit, coroutines, [self._loop])

    def _result(self, future: Any, deadline: float) -> Any:
        """A started call's answer, its ``RemoteError``, or ``TIMED_OUT`` past ``deadline``."""
        try:
            return future.result(max(0.0, deadline - time.monotonic()))
        except RemoteError as error:
            return error
        except HostTimeout:
            self.stalled = True
            return TIMED_OUT

    def signups(self, usernames: list[str]) -> list[Answer]:
        """``POST /signup`` for every name at once."""
        return self._answers(self.burst(self.api.signup, [{"username": n} for n in usernames]))

    def signup(self, payload: dict[str, Any]) -> Answer:
        """``POST /signup`` alone."""
        return self._answers([self.call(self.api.signup, payload)])[0]

    def profile(self, username: str) -> Answer:
        """``GET /users/<username>``."""
        return self._answers([self.call(self.api.profile, username)])[0]

    def _answers(self, results: list[Any]) -> list[Answer]:
        remotes = [result for result in results if isinstance(result, Remote)]
        fields = iter(self.host.batch([Call(self._response_fields, r) for r in remotes]))
        answers = []
        for result in results:
            if isinstance(result, Remote):
                status_body = next(fields)
                if (
                    isinstance(status_body, tuple)
                    and len(status_body) == 2
                    and type(status_body[0]) is int
                    and isinstance(status_body[1], dict)
                ):
                    answers.append(Answer(status_body[0], status_body[1]))
                else:
                    answers.append(Answer(failure="an answer that is not a Response"))
            else:
                answers.append(Answer(failure=describe(result)))
        return answers

    # Calls into the service ------------------------------------------------------------------

    def call(self, function: Member, *args: Any) -> Any:
        """``function(*args)``: its result, the :class:`RemoteError` it raised, or ``TIMED_OUT``."""
        if self.stalled:
            return TIMED_OUT
        try:
            return function.start(*args).result(ANSWER_SECONDS)
        except RemoteError as error:
            return error
        except HostTimeout:
            self.stalled = True
            return TIMED_OUT

    def accounts(self, results: list[Any]) -> list[Row | None]:
        """(id, username, display_name) of each result that is an ``Account``; else None."""
        remotes = [result for result in results if isinstance(result, Remote)]
        calls = []
        for remote in remotes:
            calls.append(Call(self.builtins.isinstance, remote, self.account_class))
            calls.append(Call(self._account_fields, remote))
        answers = iter(self.host.batch(calls))
        views: list[Row | None] = []
        for result in results:
            if not isinstance(result, Remote):
                views.append(None)
                continue
            is_account, fields = next(answers), next(answers)
            ok = is_account is True and isinstance(fields, tuple) and len(fields) == 3
            views.append(fields if ok else None)
        return views


def _is_queued(item: Any) -> bool:
    """A request's answer when its coroutine was queued: a one-item list of a future's handle."""
    return isinstance(item, list) and len(item) == 1 and isinstance(item[0], Remote)


def _answer(future: Any) -> Any:
    """The answer to a set-up call (a service that cannot even start fails the check)."""
    return future.result(ANSWER_SECONDS)


def describe(result: Any) -> str:
    """What a call gave, when it is not what was expected (the judge's words)."""
    if isinstance(result, RemoteError):
        return f"raised {error_name(result)}"
    if result is TIMED_OUT:
        return f"gave no answer within {ANSWER_SECONDS:g} s"
    if isinstance(result, Remote):
        return "returned an object of another type"
    return f"returned {bounded(result)}"
