"""Database connection for the accounts service. Read-only for this incident.

Production runs the same code against its own database file on a persistent volume. Every
process opens one engine at start-up and shares it between all requests.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

POOL_SIZE = 16  # connections kept open; a request waits for a free one beyond that
LOCK_TIMEOUT_SECONDS = 15  # how long a writer waits for another writer to finish


def open_engine(path: str | os.PathLike[str]) -> AsyncEngine:
    """Open the accounts database stored at ``path`` (created on first use)."""
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{os.fspath(path)}",
        pool_size=POOL_SIZE,
        max_overflow=0,
        pool_timeout=LOCK_TIMEOUT_SECONDS,
        connect_args={"timeout": LOCK_TIMEOUT_SECONDS},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Write-ahead logging: readers never wait for writers, writers wait for each other.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
