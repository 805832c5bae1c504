"""Quick checks you can run with "Run tests". The graded suite is larger."""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path

import schema
from manifest_import import import_manifest, parse_row

HEADER = "shipment_id,customer_email,weight_kg,shipped_at,country\n"


def write(path: Path, *lines: str) -> Path:
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def stored(db_path: Path) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT * FROM shipments ORDER BY shipment_id").fetchall()
    finally:
        conn.close()


def test_valid_lines_are_stored_transformed(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "manifest.csv",
        "1001, Anna.Berg@Example.com ,1.25,2024-04-30T22:15:00+02:00,se",
        "1002,ben@example.org,0.0005,2024-04-30T08:00:00Z,DE",
    )
    summary = import_manifest(manifest, tmp_path / "reporting.sqlite")

    assert summary == schema.ImportSummary(inserted=2, skipped_invalid=0, duplicates=0)
    assert stored(tmp_path / "reporting.sqlite") == [
        (1001, "anna.berg@example.com", 1250, "2024-04-30T20:15:00+00:00", "SE"),
        (1002, "ben@example.org", 1, "2024-04-30T08:00:00+00:00", "DE"),
    ]


def test_invalid_and_duplicate_lines_are_counted(tmp_path: Path) -> None:
    db_path = tmp_path / "reporting.sqlite"
    conn = schema.connect(db_path)  # last night's import already stored shipment 2001
    with conn:
        conn.execute(
            "INSERT INTO shipments VALUES (2001, 'old@example.com', 500, "
            "'2024-04-29T10:00:00+00:00', 'FR')"
        )
    conn.close()
    manifest = write(
        tmp_path / "manifest.csv",
        "2001,new@example.com,0.75,2024-04-30T10:00:00+00:00,FR",  # stored last night
        "2002,first@example.com,2.5,2024-04-30T10:00:00+00:00,NL",
        "2002,second@example.com,9.9,2024-04-30T11:00:00+00:00,NL",  # re-sent: first one wins
        "2003,no-at-sign.example.com,1.0,2024-04-30T10:00:00+00:00,NL",  # invalid e-mail
        "2004,c@example.com,1.0,2024-04-30T10:00:00,NL",  # no UTC offset
    )

    summary = import_manifest(manifest, db_path)

    assert summary == schema.ImportSummary(inserted=1, skipped_invalid=2, duplicates=2)
    assert stored(db_path) == [
        (2001, "old@example.com", 500, "2024-04-29T10:00:00+00:00", "FR"),
        (2002, "first@example.com", 2500, "2024-04-30T10:00:00+00:00", "NL"),
    ]


def test_storing_costs_less_than_validating(tmp_path: Path) -> None:
    """The symptom, in miniature: storing the lines costs far more than reading them.

    Times the import of 1,500 lines against reading and validating the same file with
    csv.DictReader and parse_row(). A healthy import spends a good part of its time on that
    work. (The graded suite measures throughput against the current job instead.)
    """
    lines = [
        f"{3_000_000 + n},c{n}@example.com,{n % 40 + 1}.{n % 1000:03d},"
        f"2024-04-30T{n % 24:02d}:{n % 60:02d}:00+02:00,DE"
        for n in range(1_500)
    ]
    manifest = write(tmp_path / "manifest.csv", *lines)

    started = time.perf_counter()
    with manifest.open(newline="") as handle:
        rows = [parse_row(raw) for raw in csv.DictReader(handle)]
    validating = time.perf_counter() - started
    started = time.perf_counter()
    summary = import_manifest(manifest, tmp_path / "reporting.sqlite")
    importing = time.perf_counter() - started

    assert summary.inserted == len(rows) == 1_500
    assert importing <= 5 * validating, (
        f"importing took {importing * 1000:.0f} ms, {importing / validating:.0f}x the "
        f"{validating * 1000:.1f} ms it takes to read and validate the file"
    )
