"""Nightly import of the carrier's shipment manifest into the reporting database.

The carrier drops ``manifest-YYYY-MM-DD.csv`` on the SFTP server every night; ``nightly.py``
calls :func:`import_manifest` on it. Billing runs off the ``shipments`` table the next morning.
"""

from __future__ import annotations

import csv
import logging
import re
import sqlite3
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from os import PathLike

from schema import COLUMNS, ImportSummary, InvalidRow, connect

logger = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"[0-9]{1,12}")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
WEIGHT_PATTERN = re.compile(r"[0-9]{1,7}(\.[0-9]{1,6})?")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
MAX_WEIGHT_G = 1_000_000  # 1 tonne: anything heavier is freight, not a parcel

INSERT_SQL = f"INSERT INTO shipments ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)"

Row = tuple[int, str, int, str, str]


def _field(row: dict[str, str | None], name: str) -> str:
    value = row.get(name)
    if value is None:
        raise InvalidRow(f"missing {name}")
    return value.strip()


def parse_row(row: dict[str, str | None]) -> Row:
    """Validate one manifest line and turn it into a ``shipments`` row.

    Rules: ``shipment_id`` is a positive integer; ``customer_email`` is stored trimmed and lower
    case; ``weight_kg`` is a plain decimal stored as whole grams, rounded half up, from 1 g to
    1 tonne; ``shipped_at`` is an ISO 8601 timestamp with a UTC offset, stored in UTC to the
    second; ``country`` is a two-letter code, stored upper case. Raises :class:`InvalidRow`.
    """
    raw_id = _field(row, "shipment_id")
    if not ID_PATTERN.fullmatch(raw_id) or int(raw_id) == 0:
        raise InvalidRow(f"bad shipment_id {raw_id!r}")

    email = _field(row, "customer_email").lower()
    if len(email) > 254 or not EMAIL_PATTERN.fullmatch(email):
        raise InvalidRow(f"bad customer_email {email!r}")

    raw_weight = _field(row, "weight_kg")
    if not WEIGHT_PATTERN.fullmatch(raw_weight):
        raise InvalidRow(f"bad weight_kg {raw_weight!r}")
    grams = int(Decimal(raw_weight).scaleb(3).to_integral_value(ROUND_HALF_UP))
    if not 1 <= grams <= MAX_WEIGHT_G:
        raise InvalidRow(f"weight_kg out of range: {raw_weight!r}")

    raw_time = _field(row, "shipped_at")
    try:
        shipped = datetime.fromisoformat(raw_time)
    except ValueError:
        raise InvalidRow(f"bad shipped_at {raw_time!r}") from None
    if shipped.tzinfo is None:
        raise InvalidRow(f"shipped_at without a UTC offset: {raw_time!r}")
    shipped_at = shipped.astimezone(UTC).isoformat(timespec="seconds")

    country = _field(row, "country").upper()
    if not COUNTRY_PATTERN.fullmatch(country):
        raise InvalidRow(f"bad country {country!r}")

    return int(raw_id), email, grams, shipped_at, country


def save_shipment(conn: sqlite3.Connection, row: Row) -> bool:
    """Store one shipment in its own transaction.

    Returns ``False`` when the ``shipment_id`` is already stored: the stored row is kept as it is.
    """
    try:
        with conn:  # commit, so a failing insert can never roll back the rows stored before it
            conn.execute(INSERT_SQL, row)
    except sqlite3.IntegrityError:
        return False
    return True


def import_manifest(csv_path: str | PathLike[str], db_path: str | PathLike[str]) -> ImportSummary:
    """Import one manifest into the ``shipments`` table of the database at ``db_path``.

    Invalid lines are logged and skipped. A line whose ``shipment_id`` is already in the table
    (from an earlier night, or earlier in this file) is a duplicate: the row already stored is
    kept as it is.
    """
    inserted = skipped_invalid = duplicates = 0
    # Validate the whole manifest first, so a bad file writes nothing half-way; then store the
    # good rows over one connection.
    rows: list[Row] = []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for line_number, raw in enumerate(csv.DictReader(handle), start=2):
            try:
                rows.append(parse_row(raw))
            except InvalidRow as exc:
                logger.warning("line %d skipped: %s", line_number, exc)
                skipped_invalid += 1
    conn = connect(db_path)
    try:
        for row in rows:
            if save_shipment(conn, row):
                inserted += 1
            else:
                duplicates += 1
    finally:
        conn.close()

    logger.info(
        "manifest %s: %d inserted, %d invalid, %d duplicates",
        csv_path,
        inserted,
        skipped_invalid,
        duplicates,
    )
    return ImportSummary(inserted, skipped_invalid, duplicates)
