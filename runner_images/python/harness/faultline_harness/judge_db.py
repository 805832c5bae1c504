"""The judge's database: a SQLite file only the judge can open, served to candidate hosts.

The candidate's code gets a forwarding connection (``faultline_harness.remote_db``); each of its
statements is executed here, on the judge's own connection, and counted here::

    db = JudgeDatabase()
    db.run_script("create table users (id integer primary key, name text)")
    engine = db.engine_in(candidate)          # a Remote SQLAlchemy engine in the host
    with db.counting() as statements:
        rows = listing.list_users(Call(Session, engine))
    assert len(statements) <= 3
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from faultline_harness.judge import HostClient, Remote


class JudgeDatabase:
    def __init__(self) -> None:
        folder = tempfile.mkdtemp(prefix="judge-db-")
        self.path = os.path.join(folder, "judge.sqlite")
        self.connection = sqlite3.connect(self.path, check_same_thread=False, timeout=15)
        self._served: dict[int, sqlite3.Connection] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._counters: list[list[str]] = []

    def run_script(self, sql: str) -> None:
        self.connection.executescript(sql)
        self.connection.commit()

    def insert_many(self, sql: str, rows: list[tuple]) -> None:
        self.connection.executemany(sql, rows)
        self.connection.commit()

    def query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        return self.connection.execute(sql, parameters).fetchall()

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[str]]:
        """Collect the statements candidate hosts execute inside the block."""
        statements: list[str] = []
        with self._lock:
            self._counters.append(statements)
        try:
            yield statements
        finally:
            with self._lock:
                self._counters.remove(statements)

    def engine_in(self, client: HostClient) -> Remote:
        """A SQLAlchemy engine in ``client``'s host whose connections are this database."""
        remote_db = client.module("faultline_harness.remote_db")
        return remote_db.sqlalchemy_engine(client.callback(self.serve))

    def connect_in(self, client: HostClient) -> Remote:
        """A plain DB-API connection in ``client``'s host to this database."""
        remote_db = client.module("faultline_harness.remote_db")
        return remote_db.connect(client.callback(self.serve))

    def serve(self, op: str, *args: Any) -> Any:
        """One request of a host's forwarding connection, executed and counted here."""
        if op == "open":
            number = next(self._numbers)
            connection = sqlite3.connect(self.path, check_same_thread=False, timeout=15)
            with self._lock:
                self._served[number] = connection
            return number
        connection = self._served.get(args[0]) if args else None
        if connection is None:
            raise ValueError("no such connection")
        if op == "commit":
            connection.commit()
            return None
        if op == "rollback":
            connection.rollback()
            return None
        if op == "close":
            with self._lock:
                self._served.pop(args[0], None)
            connection.close()
            return None
        if op in ("execute", "executemany"):
            _, sql, parameters = args
            if not isinstance(sql, str):
                raise TypeError("SQL must be text")
            with self._lock:
                for counter in self._counters:
                    counter.append(sql)
            cursor = connection.cursor()
            if op == "execute":
                cursor.execute(sql, tuple(parameters))
            else:
                cursor.executemany(sql, [tuple(row) for row in parameters])
            columns = [item[0] for item in cursor.description] if cursor.description else None
            return {
                "columns": columns,
                "rows": [list(row) for row in cursor.fetchall()] if columns else [],
                "rowcount": cursor.rowcount,
                "lastrowid": cursor.lastrowid,
            }
        raise ValueError(f"unknown operation {op!r}")

    def close(self) -> None:
        for connection in list(self._served.values()):
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self.connection.close()
