"""Manifests for the hidden checks, each line with the row it must become.

Expected rows are built from the *true* values each line encodes (grams, a UTC instant, ...),
not by parsing the text again, so the checks do not depend on any parsing code.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

HEADER = ["shipment_id", "customer_email", "weight_kg", "shipped_at", "country"]
Row = tuple[int, str, int, str, str]

COUNTRIES = ["DE", "FR", "NL", "BE", "AT", "PL", "GB", "IE", "ES", "IT", "SE", "US"]
DOMAINS = ["example.com", "mail.example.org", "post.example.net", "example.co.uk"]
OFFSETS = [0, 0, 60, 120, 120, -300, 330, -600, 840]  # minutes east of UTC
NIGHT = datetime(2024, 4, 29, 18, 0, tzinfo=UTC)  # manifests cover the 48 hours from here


@dataclass
class Line:
    """One data line of a manifest: its CSV fields and the row it must become (None: invalid)."""

    fields: list[str]
    expected: Row | None
    note: str = ""


@dataclass
class Outcome:
    """The table and summary an import must produce."""

    table: dict[int, Row]
    inserted: int
    skipped_invalid: int
    duplicates: int
    # line number (as in the file, header = 1) -> what that line is about
    line_notes: dict[int, str] = field(default_factory=dict)


def kg(grams: int) -> str:
    return f"{grams // 1000}.{grams % 1000:03d}"


class LineMaker:
    """Builds valid lines in the many spellings the carrier uses, and broken variants."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    # valid -----------------------------------------------------------------------------------

    def valid(self, shipment_id: int, *, plain: bool = False) -> Line:
        rng = self.rng
        grams = rng.randint(1, 40_000) if rng.random() < 0.97 else rng.randint(40_000, 999_999)
        instant = NIGHT + timedelta(seconds=rng.randrange(48 * 3600))
        country = rng.choice(COUNTRIES)
        local = f"c{rng.randrange(100_000)}.{rng.choice(['anna', 'ben', 'chen', 'dara'])}"
        domain = rng.choice(DOMAINS)
        expected: Row = (
            shipment_id,
            f"{local}@{domain}",
            grams,
            instant.isoformat(timespec="seconds"),
            country,
        )
        if plain:
            fields = [
                str(shipment_id),
                f"{local}@{domain}",
                kg(grams),
                instant.astimezone(timezone(timedelta(hours=2))).isoformat(),
                country,
            ]
            return Line(fields, expected, "valid")
        return Line(
            [
                self._id_text(shipment_id),
                self._email_text(local, domain),
                self._weight_text(grams),
                self._time_text(instant),
                self._country_text(country),
            ],
            expected,
            "valid",
        )

    def _id_text(self, shipment_id: int) -> str:
        roll = self.rng.random()
        if roll < 0.05:
            return f" {shipment_id} "
        if roll < 0.08:
            return f"00{shipment_id}"
        return str(shipment_id)

    def _email_text(self, local: str, domain: str) -> str:
        rng = self.rng
        text = f"{local}@{domain}"
        if rng.random() < 0.3:
            text = text.title() if rng.random() < 0.5 else text.upper()
        if rng.random() < 0.1:
            text = f"  {text} "
        return text

    def _weight_text(self, grams: int) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            return kg(grams)
        if roll < 0.6:
            return kg(grams).rstrip("0").rstrip(".") if grams % 10 == 0 else kg(grams)
        if roll < 0.75:
            return kg(grams - 1) + "5"  # exactly half a gram: rounds half up
        if roll < 0.85:
            return kg(grams) + rng.choice(["4", "49", "499", "1"])  # rounds down
        if roll < 0.95:
            return kg(grams - 1) + rng.choice(["51", "9", "501", "6"])  # rounds up
        return f" {kg(grams)} "

    def _time_text(self, instant: datetime) -> str:
        rng = self.rng
        minutes = rng.choice(OFFSETS)
        local = instant.astimezone(timezone(timedelta(minutes=minutes)))
        roll = rng.random()
        if roll < 0.15 and minutes == 0:
            return local.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
        if roll < 0.3:
            fraction = rng.randrange(1, 1_000_000)
            return local.replace(microsecond=fraction).isoformat()  # fractions are cut
        if roll < 0.4:
            return local.isoformat(sep=" ")
        return local.isoformat()

    def _country_text(self, country: str) -> str:
        roll = self.rng.random()
        if roll < 0.2:
            return country.lower()
        if roll < 0.25:
            return f" {country.title()}"
        return country

    # invalid ---------------------------------------------------------------------------------

    BROKEN: dict[str, list[str]] = {
        "shipment_id": [
            "",
            "abc",
            "-42",
            "0",
            "12.0",
            "1e5",
            "S-1043",
            "1234567890123",
            "\uff11\uff12\uff13",  # full-width digits: int() accepts them, the rule does not
        ],
        "customer_email": [
            "",
            "no-at-sign.example.com",
            "someone@localhost",
            "two@@example.com",
            "sp ace@example.com",
            "@example.com",
            "x" * 250 + "@example.com",
            "x" * 243 + "@example.com",  # 255 characters: one over the limit
        ],
        "weight_kg": [
            "",
            "abc",
            "-1.500",
            "0",
            "0.000",
            "0.0004",
            "1000.0005",
            "1500",
            "1,500",
            "1e3",
            "NaN",
            "inf",
            "2.5kg",
            "1.1234567",
            ".5",
        ],
        "shipped_at": [
            "",
            "2024-04-30T10:00:00",
            "2024-04-30",
            "yesterday",
            "2024-13-01T00:00:00+00:00",
            "30/04/2024 10:00 +02:00",
            "2024-04-31T10:00:00+02:00",
        ],
        "country": ["", "DEU", "D", "1A", "D3", "Ü1", "U K"],
    }

    def invalid(self, shipment_id: int) -> Line:
        line = self.valid(shipment_id)
        column = self.rng.choice(HEADER)
        value = self.rng.choice(self.BROKEN[column])
        line.fields[HEADER.index(column)] = value
        return Line(line.fields, None, f"invalid {column} {value[:30]!r}")

    def short(self, shipment_id: int) -> Line:
        line = self.valid(shipment_id)
        cut = self.rng.randint(1, 4)
        return Line(line.fields[:cut], None, f"only {cut} of 5 fields")


def outcome(lines: Iterable[Line], existing: dict[int, Row] | None = None) -> Outcome:
    """What importing ``lines`` into a table holding ``existing`` must give."""
    table = dict(existing or {})
    inserted = invalid = duplicates = 0
    notes: dict[int, str] = {}
    for number, line in enumerate(lines, start=2):
        if line.expected is None:
            invalid += 1
            notes[number] = line.note
        elif line.expected[0] in table:
            duplicates += 1
            notes[number] = f"duplicate of shipment {line.expected[0]} ({line.note})"
        else:
            table[line.expected[0]] = line.expected
            inserted += 1
            notes[number] = line.note
    return Outcome(table, inserted, invalid, duplicates, notes)


def manifest_text(lines: Iterable[Line], *, final_newline: bool = True) -> str:
    """The CSV text of a manifest: the header, then one line per ``Line``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for line in lines:
        writer.writerow(line.fields)
    text = buffer.getvalue()
    if not final_newline:
        text = text.rstrip("\r\n")
    return text


def mixed_lines(count: int, *, first_id: int, seed: int) -> list[Line]:
    """A realistic night: mostly valid lines, some broken ones and re-sent shipments."""
    maker = LineMaker(seed)
    rng = maker.rng
    lines: list[Line] = []
    seen_valid: list[int] = []
    rejected: list[int] = []
    next_id = first_id
    while len(lines) < count:
        roll = rng.random()
        if roll < 0.06 and seen_valid:  # re-sent shipment, different values
            lines.append(maker.valid(rng.choice(seen_valid)))
            lines[-1].note = "re-sent shipment"
        elif roll < 0.08 and seen_valid:  # re-sent, and broken: counts as invalid
            lines.append(maker.invalid(rng.choice(seen_valid)))
        elif roll < 0.095 and rejected:  # a broken line fixed further down: a new row
            shipment_id = rejected.pop()
            lines.append(maker.valid(shipment_id))
            lines[-1].note = "valid line for an id whose earlier line was invalid"
            seen_valid.append(shipment_id)
        elif roll < 0.16:
            lines.append(maker.invalid(next_id) if roll < 0.15 else maker.short(next_id))
            rejected.append(next_id)
            next_id += rng.randint(1, 3)
        else:
            lines.append(maker.valid(next_id))
            seen_valid.append(next_id)
            next_id += rng.randint(1, 3)
    return lines


def shown(row: Any, limit: int = 60) -> str:
    """A stored row as a message shows it: the candidate's values, repr'd and cut short."""
    if isinstance(row, tuple):
        return "(" + ", ".join(shown(value, limit) for value in row) + ")"
    text = repr(row)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table_problems(
    actual: dict[int, tuple[Any, ...]],
    expected: dict[int, Row],
    where: dict[int, str] | None = None,
) -> list[str]:
    """Describe every row that differs, most useful first."""
    where = where or {}
    problems: list[str] = []
    for shipment_id, want in sorted(expected.items()):
        got = actual.get(shipment_id)
        if got is None:
            problems.append(f"shipment {shipment_id} is missing{where.get(shipment_id, '')}")
        elif got != want:
            problems.append(
                f"shipment {shipment_id}{where.get(shipment_id, '')}: stored {shown(got)}, "
                f"expected {want!r}"
            )
    for shipment_id in sorted(actual.keys() - expected.keys(), key=repr):
        problems.append(
            f"shipment {shown(shipment_id)} should not be in the table"
            f"{where.get(shipment_id, '')}: {shown(actual[shipment_id])}"
        )
    return problems


# Bulk manifests for throughput and memory -------------------------------------------------


@dataclass
class Bulk:
    """A large nightly manifest (mostly valid lines), as CSV text lines without the header.

    The lines past those made up front are generated when a check first asks for them, so a
    check that imports no more than that does not pay for the largest manifest.
    """

    lines: list[str]
    header: str
    more: Iterator[str] | None = None  # the manifest's further lines, in order

    def _have(self, count: int) -> list[str]:
        if count > len(self.lines) and self.more is not None:
            self.lines.extend(itertools.islice(self.more, count - len(self.lines)))
        if count > len(self.lines):
            raise ValueError(f"the bulk manifest has {len(self.lines):,} lines, not {count:,}")
        return self.lines[:count]

    def text(self, count: int) -> str:
        """The header and the first ``count`` lines."""
        return self.header + "".join(self._have(count))

    def inserted(self, count: int) -> int:
        """Rows a correct import of the first ``count`` lines adds to an empty table."""
        seen: set[str] = set()
        for text in self._have(count):
            shipment_id, email, _ = text.split(",", 2)
            if "@" in email:
                seen.add(shipment_id)
        return len(seen)


def _bulk_lines(seed: int) -> Iterator[str]:
    """Endless manifest lines: ~2% with a broken e-mail address, ~2% re-sent shipments."""
    rng = random.Random(seed)
    offsets = ["+02:00", "+01:00", "Z", "-05:00"]
    for number in itertools.count():
        shipment_id = 40_000_000 + number
        if number > 100 and rng.random() < 0.02:
            shipment_id = 40_000_000 + rng.randrange(number)
        if rng.random() < 0.02:
            email = f"broken.{shipment_id}.example.com"
        else:
            email = f"c{rng.randrange(10**6)}@example.com"
        grams = rng.randint(1, 30_000)
        hour, minute, second = rng.randrange(24), rng.randrange(60), rng.randrange(60)
        stamp = f"2024-04-{rng.randint(29, 30)}T{hour:02d}:{minute:02d}:{second:02d}"
        yield (
            f"{shipment_id},{email},{kg(grams)},{stamp}{rng.choice(offsets)},"
            f"{rng.choice(COUNTRIES)}\r\n"
        )


def bulk_manifest(count: int, seed: int = 2024) -> Bulk:
    """A bulk manifest with ``count`` lines made now; more are made when asked for."""
    more = _bulk_lines(seed)
    lines = list(itertools.islice(more, count))
    return Bulk(lines=lines, header=",".join(HEADER) + "\r\n", more=more)
