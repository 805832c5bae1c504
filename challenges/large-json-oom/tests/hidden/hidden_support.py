"""Exports to feed the settlement import, and what it must return for them.

The expected summaries are computed here from the documented record rules, independently of the
candidate's code and of ``exports.py``. Every export is written by the judge (see
``conftest.py``); the seeds and the batch id vary from run to run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_RUN = random.SystemRandom()
RUN_SALT = _RUN.randrange(1, 10_000)


def run_seed(number: int) -> int:
    """This run's seed for the data set ``number``."""
    return RUN_SALT * 100 + number


ACCOUNTS = [f"acc_{n:04d}" for n in range(180)] + [
    "acc_zoë",
    "acc_müller",
    "acc_東京",
    "acc_crème",
]
NAMES = [
    "Café Zoë",
    "Bäckerei Müller",
    "東京ラーメン",
    'The "Quoted" Deli',
    "Back\\slash Bikes",
    "Tab\tand\nnewline Ltd",
    "Plain Shop",
]
EMOJI_NAMES = ["Pizza 🍕 Bar", "Grin 😀 Games"]  # outside the BMP: surrogate pairs when escaped
SIGN = {"settled": 1, "refunded": -1, "failed": 0}
STATUSES = ["settled", "settled", "settled", "refunded", "failed"]

META = {
    "batch_id": f"2024-03-{_RUN.randrange(1, 29):02d}-{_RUN.choice('ABCDEFGH')}",
    "currency": "EUR",
    "generated_at": "2024-03-02T01:00:00Z",
    "source": {"system": "acq-export-v2", "records": "see top level"},
}


def _break(record: dict[str, Any], kind: int) -> Any:
    """One of the ways a record breaks the format (``kind`` picks which)."""
    broken: list[Any] = [
        {key: value for key, value in record.items() if key != "payee"},
        {**record, "payee": "acc_0001"},
        {**record, "payee": {"name": "No Account"}},
        {**record, "payee": {"account": "", "name": "Empty"}},
        {**record, "payee": {"account": 42}},
        {**record, "amount_cents": "1250"},
        {**record, "amount_cents": -5},
        {**record, "amount_cents": 12.5},
        {**record, "amount_cents": True},
        {**record, "amount_cents": None},
        {**record, "status": "chargeback"},
        {key: value for key, value in record.items() if key != "status"},
        {**record, "status": ["settled"]},
        {**record, "fees": {"kind": "interchange", "cents": 1}},
        {**record, "fees": [{"kind": "interchange", "cents": False}]},
        {**record, "fees": [{"kind": "interchange"}]},
        {**record, "fees": [{"kind": "scheme", "cents": -1}]},
        {**record, "fees": ["12"]},
        "txn_broken",
        None,
        [record["id"], 1250],
        7,
    ]
    return broken[kind % len(broken)]


def make_records(count: int, seed: int, *, bmp_only: bool = False) -> list[Any]:
    """``count`` records: mostly valid, some invalid in every documented way, some deeply nested."""
    rng = random.Random(seed)
    names = NAMES if bmp_only else NAMES + EMOJI_NAMES
    records: list[Any] = []
    for number in range(count):
        account = ACCOUNTS[rng.randrange(len(ACCOUNTS))]
        record: dict[str, Any] = {
            "id": f"txn_{seed}_{number:06d}",
            "payee": {"account": account, "name": names[number % len(names)], "mcc": "5812"},
            "amount_cents": rng.randrange(100, 500_000),
            "fees": [
                {"kind": kind, "cents": rng.randrange(0, 90)}
                for kind in ("interchange", "scheme")[: number % 3]
            ],
            "status": STATUSES[number % len(STATUSES)],
            "captured_at": f"2024-03-01T{number % 24:02d}:{number % 60:02d}:07Z",
        }
        if number % 4 == 1:
            del record["fees"]  # fees are optional
        if number % 7 == 2:  # nested extras a record may carry, including keys named like ours
            record["merchant"] = {
                "address": {"lines": ["1 Rue de Rivoli", "75001 Paris"], "geo": [48.86, 2.35]},
                "tags": [],
                "meta": {"records": [1, 2, 3], "note": None},
            }
            record["meta"] = {"terminal": "pos-7", "records": []}
        if number % 97 == 13:
            record["amount_cents"] = 123_456_789_012_345_678_901  # bigger than 64 bits
        if number % 11 == 5:
            records.append(_break(record, number // 11))
        else:
            records.append(record)
    return records


def expected_entry(record: Any) -> tuple[str, int] | None:
    """``(account, net cents)`` for a valid record, ``None`` for an invalid one (the rules of the
    export format, written independently of the code under test)."""

    def cents(value: Any) -> bool:
        return type(value) is int and value >= 0

    if type(record) is not dict:
        return None
    payee = record.get("payee")
    if type(payee) is not dict or type(payee.get("account")) is not str or not payee["account"]:
        return None
    status = record.get("status")
    if type(status) is not str or status not in SIGN or not cents(record.get("amount_cents")):
        return None
    fees = record.get("fees", [])
    if type(fees) is not list or not all(type(f) is dict and cents(f.get("cents")) for f in fees):
        return None
    sign = SIGN[status]
    if sign == 0:
        return payee["account"], 0
    return payee["account"], sign * record["amount_cents"] - sum(f["cents"] for f in fees)


def expected_summary(records: Iterable[Any], meta: dict[str, Any], repeat: int = 1) -> dict:
    totals: dict[str, int] = {}
    count = invalid = 0
    for record in records:
        count += 1
        entry = expected_entry(record)
        if entry is None:
            invalid += 1
            continue
        totals[entry[0]] = totals.get(entry[0], 0) + entry[1] * repeat
    return {
        "batch_id": meta["batch_id"],
        "currency": meta["currency"],
        "records": count * repeat,
        "invalid": invalid * repeat,
        "totals": totals,
    }


def describe_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    """A short description of how a summary differs from the expected one, in the judge's words:
    only numbers and the export's own accounts are shown, never a string the candidate returned."""
    problems = [
        f"{key} is not the export's {want[key]!r}"
        for key in ("batch_id", "currency")
        if got.get(key) != want[key]
    ]
    problems += [
        f"{key} {shown(got.get(key))} (expected {want[key]})"
        for key in ("records", "invalid")
        if got.get(key) != want[key]
    ]
    got_totals, want_totals = got.get("totals"), want["totals"]
    if not isinstance(got_totals, dict):
        problems.append("totals is not a dict of account to cents")
        return "; ".join(problems)
    missing = sorted(set(want_totals) - set(got_totals))
    extra = set(got_totals) - set(want_totals)
    wrong = sorted(a for a in set(want_totals) & set(got_totals) if got_totals[a] != want_totals[a])
    if missing:
        problems.append(f"{len(missing)} accounts missing from totals (e.g. {missing[0]!r})")
    if extra:
        problems.append(f"{len(extra)} accounts in totals that have no valid record")
    if wrong:
        account = wrong[0]
        problems.append(
            f"{len(wrong)} accounts with a wrong total (e.g. {account!r}: "
            f"{shown(got_totals[account])}, expected {want_totals[account]})"
        )
    return "; ".join(problems)


def shown(value: Any) -> str:
    """A value the candidate returned, as a message may show it: an integer, else its kind."""
    if type(value) is int:
        return str(value)
    return f"a {type(value).__name__}" if value is not None else "None"


# --- writing exports ----------------------------------------------------------------------


def _meta(meta: dict[str, Any], record_count: int) -> dict[str, Any]:
    return {**meta, "record_count": record_count}


def write_vendor(path: Path, records: list[Any], meta: dict[str, Any]) -> Path:
    """The acquirer's usual layout: ``records`` first, one record per line, ``meta`` last.

    Every third record is written with ``\\u`` escapes, so the same account appears both
    escaped and as raw UTF-8 in one file.
    """
    lines = [
        json.dumps(record, ensure_ascii=number % 3 == 0) for number, record in enumerate(records)
    ]
    body = ",\n".join(lines)
    text = (
        '{"records": [\n'
        + body
        + ("\n" if lines else "")
        + "],\n"
        + f'"meta": {json.dumps(_meta(meta, len(records)), ensure_ascii=False)}}}\n'
    )
    path.write_text(text, encoding="utf-8")
    return path


def write_pretty_meta_first(path: Path, records: list[Any], meta: dict[str, Any]) -> Path:
    """Pretty-printed, ``meta`` first, every non-ASCII character escaped."""
    document = {"meta": _meta(meta, len(records)), "records": records}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=True), encoding="utf-8")
    return path


def write_minified_extra_keys(path: Path, records: list[Any], meta: dict[str, Any]) -> Path:
    """One line, raw UTF-8, and other top-level keys around ``records`` (one holding its own
    ``records`` and ``meta`` keys)."""
    document = {
        "schema": {
            "version": 2,
            "records": [{"field": "id", "type": "string"}, {"field": "payee", "type": "object"}],
            "meta": {"record_count": "integer"},
        },
        "records": records,
        "links": {"self": "sftp://acquirer/exports/2024-03-01-A.json", "pages": [None, 1, True]},
        "meta": _meta(meta, len(records)),
        "signature": "3f9a0c",
    }
    path.write_text(
        json.dumps(document, separators=(",", ":"), ensure_ascii=False), encoding="utf-8"
    )
    return path


def write_big_vendor(path: Path, target_mb: float, seed: int) -> tuple[dict[str, Any], float]:
    """An export of about ``target_mb`` MB in the vendor layout, written block by block.

    Returns the summary it must produce and its size in MB.
    """
    block_records = make_records(1000, seed, bmp_only=True)
    lines = []
    for record in block_records:
        if isinstance(record, dict):
            record = {**record, "id": record["id"] + "_@BLOCK@"}
        lines.append(json.dumps(record, ensure_ascii=False))
    block = ",\n".join(lines)
    blocks = max(1, round(target_mb * 1024 * 1024 / (len(block.encode()) + 2)))
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"records": [\n')
        for number in range(blocks):
            if number:
                handle.write(",\n")
            handle.write(block.replace("@BLOCK@", f"{number:05d}"))
        meta = _meta(META, len(block_records) * blocks)
        handle.write(f'\n],\n"meta": {json.dumps(meta, ensure_ascii=False)}}}\n')
    size_mb = path.stat().st_size / (1024 * 1024)
    return expected_summary(block_records, META, repeat=blocks), size_mb
