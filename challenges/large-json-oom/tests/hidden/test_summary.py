"""Correctness checks: the summary the worker posts to the ledger must not change.

The candidate's ``summarize_export`` runs in a candidate host; the judge writes each export and
compares the summary's fields, which come back as plain data, with its own computation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hidden_support import (
    META,
    describe_difference,
    expected_summary,
    make_records,
    run_seed,
    write_minified_extra_keys,
    write_pretty_meta_first,
    write_vendor,
)
from settlement_host import Settlement

Writer = Callable[[Path, list[Any], dict[str, Any]], Path]


def test_totals_match_the_export(candidate, exports):
    """3,000 records in the acquirer's usual layout: valid, invalid and nested ones, raw UTF-8
    and escaped accounts, amounts beyond 64 bits."""
    records = make_records(3000, seed=run_seed(11))
    expected = expected_summary(records, META)
    assert expected["invalid"] > 200 and len(expected["totals"]) > 150  # the input is varied

    path = exports.write(f"{META['batch_id']}.json", write_vendor, records, META)
    settlement = Settlement(candidate)
    label = f"a {len(records):,}-record export"
    # A pathlib.Path, built in the host, and a str path give the same summary.
    for as_path, kind in ((True, "Path"), (False, "str")):
        outcome = settlement.summarize(path, as_path=as_path)
        assert outcome.summary is not None, f"summarizing {label} ({kind} path) {outcome.error}"
        got = outcome.summary
        assert got == expected, f"wrong summary for {label} ({kind} path): " + (
            describe_difference(got, expected)
        )


LAYOUTS: dict[str, Writer] = {
    "usual layout (records first, meta last)": write_vendor,
    "pretty-printed, meta first, \\u-escaped": write_pretty_meta_first,
    "one line, other top-level keys around records": write_minified_extra_keys,
}


def test_every_export_layout_gives_the_same_summary(candidate, exports):
    """Key order, whitespace, escaping and extra top-level keys do not change the summary; an
    empty batch is a valid export."""
    records = make_records(400, seed=run_seed(23))
    cases = [(f"{name}, 400 records", writer, records) for name, writer in LAYOUTS.items()]
    cases += [(f"{name}, no records", writer, []) for name, writer in LAYOUTS.items()]
    settlement = Settlement(candidate)
    problems = []
    for number, (name, writer, batch) in enumerate(cases):
        expected = expected_summary(batch, META)
        path = exports.write(f"export-{number}.json", writer, batch, META)
        outcome = settlement.summarize(path)
        if outcome.summary is None:  # any failure is reported with its layout
            problems.append(f"{name}: {outcome.error}")
        elif outcome.summary != expected:
            problems.append(f"{name}: {describe_difference(outcome.summary, expected)}")
    assert not problems, "; ".join(problems)


def _truncated(path: Path, records: list[Any]) -> Path:
    write_pretty_meta_first(path, records, META)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def _cut_between_records(path: Path, records: list[Any]) -> Path:
    write_vendor(path, records, META)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))
    return path


def _declaring(difference: int) -> Callable[[Path, list[Any]], Path]:
    """An export whose ``record_count`` is ``difference`` away from its records."""

    def make(path: Path, records: list[Any]) -> Path:
        write_vendor(path, records, META)
        text = path.read_text(encoding="utf-8")
        declared = f'"record_count": {len(records)}'
        assert declared in text
        wrong = f'"record_count": {len(records) + difference}'
        path.write_text(text.replace(declared, wrong), "utf-8")
        return path

    return make


def _no_meta(path: Path, records: list[Any]) -> Path:
    write_vendor(path, records, META)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"meta": {', '"metadata": {'), encoding="utf-8")
    return path


def _html(path: Path, records: list[Any]) -> Path:
    path.write_text("<html><body><h1>502 Bad Gateway</h1></body></html>\n", encoding="utf-8")
    return path


def _top_level_list(path: Path, records: list[Any]) -> Path:
    path.write_text("[" + ",".join('{"id": "txn"}' for _ in records[:5]) + "]", "utf-8")
    return path


BAD_EXPORTS: dict[str, Callable[[Path, list[Any]], Path]] = {
    "file cut off in the middle of a record": _truncated,
    "file cut off between two records": _cut_between_records,
    "record_count one more than the records": _declaring(+1),
    "record_count one less than the records": _declaring(-1),
    "no meta object": _no_meta,
    "an HTML error page": _html,
    "a JSON list instead of an object": _top_level_list,
}


def test_bad_exports_are_rejected(candidate, exports):
    """A file that is not a complete, consistent export raises ExportError (nothing is posted)."""
    records = make_records(300, seed=run_seed(37))
    settlement = Settlement(candidate)
    problems = []
    for number, (name, make) in enumerate(BAD_EXPORTS.items()):
        path = exports.seal(make(exports.path(f"bad-{number}.json"), records))
        problem = settlement.rejection_problem(path)
        if problem:
            problems.append(f"{name}: {problem}")
    assert not problems, "; ".join(problems)
