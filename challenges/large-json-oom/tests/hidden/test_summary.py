"""Correctness checks: the summary the worker posts to the ledger must not change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from exports import ExportError
from hidden_support import (
    META,
    describe_difference,
    expected_summary,
    make_records,
    summary_dict,
    write_minified_extra_keys,
    write_pretty_meta_first,
    write_vendor,
)

Writer = Callable[[Path, list[Any], dict[str, Any]], Path]


def _summarize(path: Path | str) -> dict[str, Any]:
    import settlement

    return summary_dict(settlement.summarize_export(path))


def test_totals_match_the_export(tmp_path):
    """3,000 records in the acquirer's usual layout: valid, invalid and nested ones, raw UTF-8
    and escaped accounts, amounts beyond 64 bits."""
    records = make_records(3000, seed=11)
    expected = expected_summary(records, META)
    assert expected["invalid"] > 200 and len(expected["totals"]) > 150  # the input is varied

    path = write_vendor(tmp_path / "2024-03-01-A.json", records, META)
    got = _summarize(path)
    assert got == expected, f"wrong summary for a {len(records):,}-record export: " + (
        describe_difference(got, expected)
    )
    # A str path works as well as a Path.
    assert _summarize(str(path)) == expected, "the summary differs when the path is a str"


LAYOUTS: dict[str, Writer] = {
    "usual layout (records first, meta last)": write_vendor,
    "pretty-printed, meta first, \\u-escaped": write_pretty_meta_first,
    "one line, other top-level keys around records": write_minified_extra_keys,
}


def test_every_export_layout_gives_the_same_summary(tmp_path):
    """Key order, whitespace, escaping and extra top-level keys do not change the summary; an
    empty batch is a valid export."""
    records = make_records(400, seed=23)
    cases = [(f"{name}, 400 records", writer, records) for name, writer in LAYOUTS.items()]
    cases += [(f"{name}, no records", writer, []) for name, writer in LAYOUTS.items()]
    problems = []
    for number, (name, writer, batch) in enumerate(cases):
        expected = expected_summary(batch, META)
        path = writer(tmp_path / f"export-{number}.json", batch, META)
        try:
            got = _summarize(path)
        except Exception as exc:  # any failure is reported with its layout
            problems.append(f"{name}: raised {type(exc).__name__}: {str(exc)[:150]}")
            continue
        if got != expected:
            problems.append(f"{name}: {describe_difference(got, expected)}")
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


def _count_mismatch(path: Path, records: list[Any]) -> Path:
    write_vendor(path, records, META)
    text = path.read_text(encoding="utf-8")
    declared = f'"record_count": {len(records)}'
    assert declared in text
    path.write_text(text.replace(declared, f'"record_count": {len(records) + 1}'), "utf-8")
    return path


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
    "record_count one more than the records": _count_mismatch,
    "no meta object": _no_meta,
    "an HTML error page": _html,
    "a JSON list instead of an object": _top_level_list,
}


def test_bad_exports_are_rejected(tmp_path):
    """A file that is not a complete, consistent export raises ExportError (nothing is posted)."""
    records = make_records(300, seed=37)
    problems = []
    for number, (name, make) in enumerate(BAD_EXPORTS.items()):
        path = make(tmp_path / f"bad-{number}.json", records)
        try:
            summary = _summarize(path)
        except ExportError:
            continue
        except Exception as exc:  # the wrong exception type is the finding
            problems.append(f"{name}: raised {type(exc).__name__} instead of ExportError")
        else:
            problems.append(
                f"{name}: accepted ({summary['records']} records) instead of ExportError"
            )
    assert not problems, "; ".join(problems)
