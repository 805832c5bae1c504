"""What the import must keep doing: the same rows, the same rules, the same summary.

The import runs in a candidate host; the judge writes the manifest, and reads the table from its
own copy of the database the import left (import_host.py).
"""

from __future__ import annotations

from hidden_support import LineMaker, mixed_lines, outcome, shown, table_problems
from import_host import Importer, read_table


def test_table_matches(shared, evidence, candidate):
    """A mixed night (valid, broken and re-sent lines) gives exactly the expected table."""
    importer = Importer(candidate)
    lines = mixed_lines(1_200, first_id=7_000_000, seed=11)
    expected = outcome(lines)
    manifest = shared.lines("manifest-2024-04-30", lines, final_newline=False)
    db_path = shared.database()

    importer.run(manifest, db_path)
    problems = table_problems(read_table(db_path), expected.table)

    evidence.metric(
        "wrong_rows",
        len(problems),
        unit="rows",
        limit=0,
        label=f"rows missing, extra or different, of {len(expected.table):,} expected",
    )
    assert not problems, (
        f"{len(problems)} of {len(expected.table):,} rows differ from what the current import "
        f"stores for the same {len(lines):,}-line manifest; first: " + "; ".join(problems[:3])
    )


def test_summary_counts(shared, evidence, candidate):
    """The summary counts every line once; a second import of the same file adds nothing."""
    importer = Importer(candidate)
    lines = mixed_lines(800, first_id=8_000_000, seed=23)
    expected = outcome(lines)
    manifest = shared.lines("manifest-2024-05-01", lines)
    db_path = shared.database()
    want_first = (expected.inserted, expected.skipped_invalid, expected.duplicates)
    valid_lines = expected.inserted + expected.duplicates
    want_again = (0, expected.skipped_invalid, valid_lines)

    first = importer.summary(manifest, db_path)
    again = importer.summary(manifest, db_path)

    wrong = sum(a != b for a, b in zip(first + again, want_first + want_again, strict=True))
    evidence.metric("wrong_counts", wrong, unit="counts", limit=0, label="wrong summary counts")
    assert first == want_first, (
        f"summary (inserted, skipped_invalid, duplicates) of a {len(lines):,}-line manifest is "
        f"{first}, expected {want_first}"
    )
    assert again == want_again, (
        f"importing the same manifest a second time gave {again}, expected {want_again}: every "
        "valid line is now a duplicate"
    )


def test_existing_rows_kept(shared, evidence, candidate):
    """Shipments stored on an earlier night are never changed by a later manifest."""
    importer = Importer(candidate)
    maker = LineMaker(seed=5)
    last_night = [maker.valid(9_000_000 + 2 * number, plain=True) for number in range(400)]
    existing = {line.expected[0]: line.expected for line in last_night if line.expected}
    db_path = shared.seeded_database(list(existing.values()))  # the judge's rows, the judge's file

    # Tonight's manifest repeats the last 150 shipments of last night, with other values
    # (the carrier re-sends 48 hours), then goes on with new ones.
    repeated = [maker.valid(9_000_000 + 2 * number) for number in range(250, 400)]
    new = [maker.valid(9_000_800 + number, plain=True) for number in range(450)]
    tonight = repeated + new
    expected = outcome(tonight, existing)
    manifest = shared.lines("manifest-2024-05-02", tonight)

    importer.run(manifest, db_path)
    table = read_table(db_path)
    changed = table_problems(
        {key: value for key, value in table.items() if key in existing}, existing
    )
    others = table_problems(
        {key: value for key, value in table.items() if key not in existing},
        {key: value for key, value in expected.table.items() if key not in existing},
    )

    evidence.metric(
        "existing_rows_changed",
        len(changed),
        unit="rows",
        limit=0,
        label=f"rows from an earlier night changed or lost, of {len(existing)}",
    )
    assert not changed, (
        f"{len(changed)} of {len(existing)} rows stored on an earlier night were changed or "
        "lost by a manifest that repeats them; first: " + "; ".join(changed[:3])
    )
    assert not others, (
        f"{len(others)} new rows are wrong after importing into a table that already held "
        "rows; first: " + "; ".join(others[:3])
    )


# Valid edge cases of the rules: (CSV fields, the row the line must become)
_VALID_EDGES: list[tuple[list[str], tuple[int, str, int, str, str]]] = [
    (
        [" 4201 ", "  Mixed.Case+Tag@Example.COM ", "0.0005", "2024-04-30T23:30:00-10:00", " gb "],
        (4201, "mixed.case+tag@example.com", 1, "2024-05-01T09:30:00+00:00", "GB"),
    ),
    (
        ["4202", "a@b.co", "1000", "2024-04-30T02:00:00+14:00", "DE"],
        (4202, "a@b.co", 1_000_000, "2024-04-29T12:00:00+00:00", "DE"),
    ),
    (
        ["4203", "a@b.co", "1000.0004", "2024-04-30T10:00:00Z", "de"],
        (4203, "a@b.co", 1_000_000, "2024-04-30T10:00:00+00:00", "DE"),
    ),
    (
        ["4204", "a@b.co", "999.9995", "2024-04-30T23:59:59.999999+00:00", "Fr"],
        (4204, "a@b.co", 1_000_000, "2024-04-30T23:59:59+00:00", "FR"),
    ),
    (
        ["4205", "a@b.co", "2.0005", "2024-04-30 12:00:00+05:30", "NL"],
        (4205, "a@b.co", 2001, "2024-04-30T06:30:00+00:00", "NL"),
    ),
    (
        ["4206", "a@b.co", "0.0025", "2024-04-30T12:00:00+0100", "NL"],
        (4206, "a@b.co", 3, "2024-04-30T11:00:00+00:00", "NL"),
    ),
    (
        ["4207", "a@b.co", "1.000499", "2024-04-30T12:00+02:00", "NL"],
        (4207, "a@b.co", 1000, "2024-04-30T10:00:00+00:00", "NL"),
    ),
    (
        ["000000004208", "a@b.co", "007.5", "2024-04-30T12:00:00+00:00", "IE"],
        (4208, "a@b.co", 7500, "2024-04-30T12:00:00+00:00", "IE"),
    ),
    (
        ["4209", "a@b.co", "12", "2024-04-30T12:00:00+00:00", "IE", ""],  # trailing comma
        (4209, "a@b.co", 12_000, "2024-04-30T12:00:00+00:00", "IE"),
    ),
    (
        ["999999999999", "a@b.co", "12.345678", "2024-04-30T12:00:00-00:30", "US"],
        (999_999_999_999, "a@b.co", 12_346, "2024-04-30T12:30:00+00:00", "US"),
    ),
    (  # the longest address the rule allows: 254 characters
        ["4210", "Y" * 242 + "@Example.com", "1", "2024-04-30T12:00:00+00:00", "IE"],
        (4210, "y" * 242 + "@example.com", 1000, "2024-04-30T12:00:00+00:00", "IE"),
    ),
]


def _invalid_edges() -> list[tuple[list[str], str]]:
    base = ["5{n:03d}", "ok@example.com", "1.250", "2024-04-30T12:00:00+02:00", "DE"]
    lines: list[tuple[list[str], str]] = []
    for column, values in LineMaker.BROKEN.items():
        index = ["shipment_id", "customer_email", "weight_kg", "shipped_at", "country"].index(
            column
        )
        for value in values:
            fields = [field.format(n=len(lines)) for field in base]
            fields[index] = value
            lines.append((fields, f"{column} {value[:40]!r}"))
    for keep in (1, 2, 3, 4):
        fields = [field.format(n=len(lines)) for field in base][:keep]
        lines.append((fields, f"a line with only {keep} of 5 fields"))
    return lines


def test_validation_rules(shared, evidence, candidate):
    """Lines that break a rule are skipped and counted; edge-case values are stored exactly."""
    importer = Importer(candidate)
    invalid = _invalid_edges()
    rows: list[list[str]] = []
    for number, (fields, _) in enumerate(invalid):
        rows.append(fields)
        if number < len(_VALID_EDGES):
            rows.append(_VALID_EDGES[number][0])
    lines_text = "\r\n".join(",".join(_quote(value) for value in fields) for fields in rows)
    manifest = shared.text(
        "manifest-edge-cases",
        "shipment_id,customer_email,weight_kg,shipped_at,country\r\n" + lines_text + "\r\n",
    )
    db_path = shared.database()

    _, skipped, _ = importer.summary(manifest, db_path)
    table = read_table(db_path)

    expected = {row[0]: row for _, row in _VALID_EDGES}
    why = {fields[0]: note for fields, note in invalid}
    wrong: list[str] = []
    for shipment_id, got in sorted(table.items(), key=repr):
        if shipment_id not in expected:
            note = why.get(str(shipment_id), "?")
            wrong.append(
                f"stored shipment {shown(shipment_id)} from an invalid line ({note}): {shown(got)}"
            )
    for shipment_id, want in expected.items():
        got = table.get(shipment_id)
        if got != want:
            source = next(fields for fields, row in _VALID_EDGES if row[0] == shipment_id)
            wrong.append(f"line {source!r} stored as {shown(got)}, expected {want!r}")

    evidence.metric(
        "rule_violations",
        len(wrong),
        unit="lines",
        limit=0,
        label=f"edge-case lines handled differently, of {len(rows)}",
    )
    assert not wrong, f"{len(wrong)} edge-case lines handled wrongly: " + "; ".join(wrong[:4])
    assert skipped == len(invalid), (
        f"summary.skipped_invalid is {skipped!r}, expected {len(invalid)} invalid lines"
    )


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if ("," in value or '"' in value) else value
