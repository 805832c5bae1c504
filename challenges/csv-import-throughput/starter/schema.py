"""Reporting database schema and the import's result type (read-only in this exercise).

The reporting team owns this module: the billing reports read the ``shipments`` table directly.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from os import PathLike

SHIPMENTS_DDL = """
CREATE TABLE IF NOT EXISTS shipments (
    shipment_id    INTEGER PRIMARY KEY,
    customer_email TEXT    NOT NULL,
    weight_g       INTEGER NOT NULL,
    shipped_at     TEXT    NOT NULL,  -- UTC, 'YYYY-MM-DDTHH:MM:SS+00:00'
    country        TEXT    NOT NULL   -- ISO 3166-1 alpha-2, upper case
)
"""
INDEXES_DDL = (
    # billing reads one day at a time
    "CREATE INDEX IF NOT EXISTS shipments_shipped_at ON shipments (shipped_at)",
    # customer service looks up a customer's parcels
    "CREATE INDEX IF NOT EXISTS shipments_customer ON shipments (customer_email)",
)

COLUMNS = ("shipment_id", "customer_email", "weight_g", "shipped_at", "country")
"""The table's columns, in order."""


class InvalidRow(ValueError):
    """A manifest line that breaks the import rules; it is skipped and counted."""


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What one run of the import did, logged by the nightly job and sent to the dashboard.

    Every data line of the manifest is counted exactly once: ``inserted + skipped_invalid +
    duplicates`` is the number of data lines read.
    """

    inserted: int
    """Lines that became a new row of ``shipments``."""
    skipped_invalid: int
    """Lines that broke a rule (see ``manifest_import.parse_row``)."""
    duplicates: int
    """Valid lines whose ``shipment_id`` was already in the table or earlier in the file."""


def connect(db_path: str | PathLike[str]) -> sqlite3.Connection:
    """Open the reporting database, creating the table and its indexes if needed."""
    conn = sqlite3.connect(db_path)
    conn.execute(SHIPMENTS_DDL)
    for ddl in INDEXES_DDL:
        conn.execute(ddl)
    conn.commit()
    return conn
