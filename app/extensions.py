"""Flask extensions, created unbound and initialised in :func:`app.create_app`."""

from __future__ import annotations

import sqlite3

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

SQLITE_BUSY_TIMEOUT_MS = 15_000


@event.listens_for(Engine, "connect")
def _share_sqlite_between_processes(dbapi_connection, _record) -> None:
    """The embedded default database is one SQLite file shared by the web server, the worker
    and its reconciler. Write-ahead logging lets a writer commit while others read (in the
    default rollback journal a long read makes the writer fail with "database is locked"), and
    a writer waits its turn for up to 15 s rather than 5."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # answers "memory" for an in-memory database
    cursor.close()


migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
# Limits are declared per route (the login form); storage is Redis (RATELIMIT_STORAGE_URI).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
