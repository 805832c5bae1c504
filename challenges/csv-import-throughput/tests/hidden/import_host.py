"""The judge's side of an import: the files it writes, the host that imports them, the table.

The candidate's ``import_manifest(manifest_path, db_path)`` runs in a candidate host, under a uid
of its own. The judge writes each manifest into a fresh folder under the shared ``/tmp`` (its own
temporary folder is private to its uid), lets the host create the database there, and reads the
result itself: it copies the database file (and any journal) into a folder of its own and opens
the copy with its own ``sqlite3``. Nothing the candidate's code says about what it stored is
believed; the summary it returns is only compared with the judge's counts.

Time and memory are measured from outside the host: CPU seconds and peak memory are the
harness's figures over every process of the host's uid (read from /proc), wall time is taken here
across the call.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import secrets
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultline_harness.judge import Call, HostClient, HostFailure, HostTimeout, Remote, RemoteError
from hidden_support import Bulk, Line, manifest_text

SHARED_TMP = "/tmp"
MB = 1024 * 1024
COPY_LIMIT_BYTES = 64 * MB  # more than any import here can write; a bigger file is not read
CALL_SECONDS = 60.0  # a guard against a hang, not a speed requirement
POLL_SECONDS = 0.02  # how often the harness's CPU figure is read during a timed call
SQLITE_HEAP_BYTES = 128 * 1024
SUMMARY_FIELDS = ("inserted", "skipped_invalid", "duplicates")
KNOWN_ERRORS = {
    "InvalidRow",
    "IntegrityError",
    "OperationalError",
    "DatabaseError",
    "ProgrammingError",
    "InterfaceError",
    "Error",
    "Warning",
}

# The reporting team's schema (schema.py in the candidate's files), as the judge creates it for
# rows stored on an earlier night.
SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS shipments (
    shipment_id    INTEGER PRIMARY KEY,
    customer_email TEXT    NOT NULL,
    weight_g       INTEGER NOT NULL,
    shipped_at     TEXT    NOT NULL,
    country        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS shipments_shipped_at ON shipments (shipped_at);
CREATE INDEX IF NOT EXISTS shipments_customer ON shipments (customer_email);
"""
SELECT_ROWS = "SELECT shipment_id, customer_email, weight_g, shipped_at, country FROM shipments"


class ImportFailed(AssertionError):
    """The import did not return: its message is the judge's own text."""


def error_name(name: str) -> str:
    """How a failure is named in a message: a builtin's or sqlite3's name, else a phrase."""
    kind = getattr(builtins, name, None)
    if name in KNOWN_ERRORS or (isinstance(kind, type) and issubclass(kind, BaseException)):
        return name
    return "an exception of its own class"


def failure_text(error: BaseException) -> str:
    if isinstance(error, RemoteError):
        return f"import_manifest raised {error_name(error.type_name)}"
    if isinstance(error, HostTimeout):
        return f"import_manifest did not return within {CALL_SECONDS:g} s"
    return "the host stopped answering during import_manifest (it exited or ran out of memory)"


# Files -------------------------------------------------------------------------------------


class SharedFolder:
    """A fresh folder under the shared /tmp: the judge's manifests, the host's databases.

    Every uid may create files in it (the host creates its database and journal files); the
    sticky bit keeps each file to its owner and the folder's (the judge). Each manifest is the
    judge's file, readable by all, created afresh under a name nobody can guess ahead.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="manifests-", dir=SHARED_TMP))
        self.root.chmod(0o1777)

    def _path(self, stem: str, suffix: str) -> Path:
        return self.root / f"{stem}-{secrets.token_hex(6)}{suffix}"

    def _created(self, stem: str, suffix: str, text: str, mode: int) -> str:
        path = self._path(stem, suffix)
        with open(path, "x", encoding="utf-8", newline="") as handle:  # never an existing file
            handle.write(text)
        path.chmod(mode)
        return str(path)

    def lines(self, stem: str, lines: list[Line], *, final_newline: bool = True) -> str:
        return self.text(stem, manifest_text(lines, final_newline=final_newline))

    def text(self, stem: str, text: str) -> str:
        return self._created(stem, ".csv", text, 0o644)

    def bulk(self, bulk: Bulk, count: int) -> str:
        return self.text(f"bulk-{count}", bulk.text(count))

    def database(self, stem: str = "reporting") -> str:
        """A path for a new database; the host creates the file."""
        return str(self._path(stem, ".sqlite"))

    def seeded_database(self, rows: list[tuple[Any, ...]], stem: str = "reporting") -> str:
        """A database the judge creates, holding ``rows``; the host may write to it."""
        path = self._created(stem, ".sqlite", "", 0o600)
        conn = sqlite3.connect(path)
        try:
            conn.executescript(SCHEMA_SQL)
            with conn:
                conn.executemany("INSERT INTO shipments VALUES (?, ?, ?, ?, ?)", rows)
        finally:
            conn.close()
        os.chmod(path, 0o666)
        return path

    def remove(self, *paths: str) -> None:
        """Delete manifests and databases (with their journals): /tmp is small in the sandbox."""
        for path in paths:
            for suffix in ("", "-journal", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.unlink(path + suffix)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class TableUnreadable(AssertionError):
    pass


def _copy_file(source: str, target: Path) -> bool:
    """Copy a regular file without following links; False when there is none."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise TableUnreadable(
            f"the database file {os.path.basename(source)} could not be opened by the judge "
            f"({type(exc).__name__}): it must be a plain file readable by other users"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise TableUnreadable(f"{os.path.basename(source)} is not a plain file")
        if info.st_size > COPY_LIMIT_BYTES:
            raise TableUnreadable(
                f"{os.path.basename(source)} is {info.st_size / MB:.0f} MB, over the "
                f"{COPY_LIMIT_BYTES // MB} MB the judge reads"
            )
        with open(target, "wb") as out:
            shutil.copyfileobj(handle, out)
    return True


def read_table(db_path: str) -> dict[int, tuple[Any, ...]]:
    """The ``shipments`` table as the import left it, read from the judge's own copy."""
    private = Path(tempfile.mkdtemp(prefix="db-copy-"))
    try:
        copy = private / "copy.sqlite"
        if not _copy_file(db_path, copy):
            raise TableUnreadable("the import left no database file at the path it was given")
        for suffix in ("-wal", "-journal"):  # committed work in a WAL; a hot journal rolls back
            _copy_file(db_path + suffix, private / f"copy.sqlite{suffix}")
        conn = sqlite3.connect(copy)
        try:
            rows = conn.execute(SELECT_ROWS).fetchall()
        except sqlite3.Error as exc:
            raise TableUnreadable(
                f"the judge could not read the shipments table from the database the import "
                f"left ({type(exc).__name__})"
            ) from None
        finally:
            conn.close()
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return {row[0]: tuple(row) for row in rows}


def count_rows(db_path: str) -> int:
    """Rows in the judge's copy of the database (0 when there is no readable table)."""
    try:
        return len(read_table(db_path))
    except TableUnreadable:
        return 0


# The host ----------------------------------------------------------------------------------


@dataclass
class Timed:
    """One import measured from outside the host."""

    lines: int
    cpu: float  # CPU seconds of the host's processes over the call (harness, /proc)
    wall: float  # seconds across the call, taken in the judge
    peak: int  # the highest memory of the host's processes during the call, bytes

    @property
    def cpu_rate(self) -> float:
        return self.lines / max(self.cpu, 0.01)  # the harness reads whole clock ticks

    @property
    def wall_rate(self) -> float:
        return self.lines / max(self.wall, 1e-6)


class Importer:
    """``manifest_import.import_manifest`` in one host, with its logging muted."""

    def __init__(self, host: HostClient) -> None:
        self.host = host
        self.module = host.module("manifest_import")
        # Log records cost time (and the starter's host has no output to write them to): both
        # hosts run without them, as the current job's timings were taken.
        host.module("logging").disable(logging.CRITICAL)
        self._getattr = host.module("builtins").getattr

    def cap_sqlite_cache(self) -> None:
        """Cap SQLite's page cache (a process-wide soft heap limit), so that a memory
        measurement shows what the Python code holds on to, not what SQLite caches."""
        connection = self.host.module("sqlite3").connect(":memory:", check_same_thread=False)
        connection.execute(f"PRAGMA soft_heap_limit = {SQLITE_HEAP_BYTES}")
        connection.close()

    def run(self, manifest: str, db_path: str) -> Any:
        """Import; the result (plain data or a handle). Raises :class:`ImportFailed`."""
        try:
            return self.module.import_manifest(manifest, db_path)
        except (RemoteError, HostFailure) as error:
            raise ImportFailed(failure_text(error)) from None

    def summary(self, manifest: str, db_path: str) -> tuple[Any, ...]:
        """Import; the summary's (inserted, skipped_invalid, duplicates) as plain values."""
        result = self.run(manifest, db_path)
        if not isinstance(result, Remote):
            return (None, None, None)
        values = self.host.batch(
            [Call(self._getattr, result, name, None) for name in SUMMARY_FIELDS]
        )
        return tuple(value if type(value) is int else None for value in values)

    def timed(self, write: Callable[[], str], lines: int, db_path: str) -> Timed:
        """Import the manifest ``write()`` writes, measured from outside the host.

        CPU seconds of the host's processes are read from /proc every ``POLL_SECONDS`` during
        the call and summed over their rises, so that work moved to a child process that exits
        before the call returns still counts while it runs. The first reading is taken before
        the manifest exists: work on it ahead of the call counts too.
        """
        before = self.host.memory(reset_peak=True)
        manifest = write()
        last = before["cpu"]
        cpu = 0.0
        started = time.perf_counter()
        future = self.module.import_manifest.start(manifest, db_path)
        while True:
            wait([future.future], timeout=POLL_SECONDS)  # back as soon as the call returns
            if future.done() or time.perf_counter() - started > CALL_SECONDS:
                break
            reading = self.host.memory()
            cpu += max(0.0, reading["cpu"] - last)
            last = reading["cpu"]
        wall = time.perf_counter() - started
        try:
            future.result(timeout=1.0)
        except (RemoteError, HostFailure) as error:
            raise ImportFailed(failure_text(error)) from None
        after = self.host.memory()
        cpu += max(0.0, after["cpu"] - last)
        return Timed(lines, cpu, wall, after["peak"])


def import_bulk(
    importer: Importer, shared: SharedFolder, bulk: Bulk, lines: int
) -> tuple[Timed, int]:
    """Import the first ``lines`` lines of ``bulk`` into a new database, measured; the measure
    and the rows the judge's copy of the database holds right after the call."""
    paths: list[str] = []

    def write() -> str:
        paths.append(shared.bulk(bulk, lines))
        return paths[-1]

    db_path = shared.database()
    try:
        timed = importer.timed(write, lines, db_path)
        return timed, count_rows(db_path)
    finally:
        shared.remove(db_path, *paths)
