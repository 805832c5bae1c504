"""Quick checks of the settlement import. Run them with the "Run tests" button."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import settlement
from exports import ExportError

RECORDS = [
    {
        "id": "txn_01",
        "payee": {"account": "acc_7", "name": "Café Zoë"},
        "amount_cents": 1250,
        "fees": [{"kind": "interchange", "cents": 18}],
        "status": "settled",
    },
    {
        "id": "txn_02",
        "payee": {"account": "acc_7", "name": "Café Zoë"},
        "amount_cents": 400,
        "fees": [{"kind": "interchange", "cents": 6}],
        "status": "refunded",
    },
    {"id": "txn_03", "payee": {"account": "acc_9"}, "amount_cents": 990, "status": "settled"},
    {"id": "txn_04", "payee": {"account": "acc_9"}, "amount_cents": 500, "status": "failed"},
    {"id": "txn_05", "payee": {"account": "acc_9"}, "amount_cents": "12.00", "status": "settled"},
]
META = {"batch_id": "2024-03-01-A", "currency": "EUR", "record_count": len(RECORDS)}


def write_usual(path: Path, records: list, meta: dict) -> Path:
    """The acquirer's usual layout: records first, one per line, meta last."""
    lines = ",\n".join(json.dumps(record, ensure_ascii=False) for record in records)
    path.write_text(
        f'{{"records": [\n{lines}\n],\n"meta": {json.dumps(meta)}}}\n', encoding="utf-8"
    )
    return path


def test_totals_per_account(tmp_path):
    summary = settlement.summarize_export(write_usual(tmp_path / "a.json", RECORDS, META))
    assert summary.batch_id == "2024-03-01-A"
    assert summary.currency == "EUR"
    assert summary.records == 5
    assert summary.invalid == 1  # txn_05: the amount is not integer cents
    assert summary.totals == {"acc_7": 1250 - 18 - 400 - 6, "acc_9": 990}


def test_meta_may_come_first_and_layout_may_change(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"meta": META, "records": RECORDS}, indent=2), encoding="utf-8")
    summary = settlement.summarize_export(path)
    assert summary.totals == {"acc_7": 826, "acc_9": 990}
    assert (summary.records, summary.invalid) == (5, 1)


def test_record_count_mismatch_is_rejected(tmp_path):
    path = write_usual(tmp_path / "c.json", RECORDS[:4], META)  # meta still says 5
    with pytest.raises(ExportError):
        settlement.summarize_export(path)
