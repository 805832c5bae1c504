"""The production symptom in miniature: how much memory one export needs."""

from __future__ import annotations

import gc
import json
import tracemalloc

import settlement


def test_memory_does_not_scale_with_the_export(tmp_path):
    record = {
        "id": "txn_000000",
        "payee": {"account": "acc_0000", "name": "Plain Shop", "mcc": "5812"},
        "amount_cents": 1250,
        "fees": [{"kind": "interchange", "cents": 18}],
        "status": "settled",
        "captured_at": "2024-03-01T09:12:44Z",
    }
    count = 25_000
    path = tmp_path / "export.json"
    with path.open("w", encoding="utf-8") as out:
        out.write('{"records": [\n')
        for number in range(count):
            record["id"] = f"txn_{number:06d}"
            record["payee"]["account"] = f"acc_{number % 300:04d}"
            out.write(("," if number else "") + json.dumps(record) + "\n")
        meta = {"batch_id": "B", "currency": "EUR", "record_count": count}
        out.write(f'],\n"meta": {json.dumps(meta)}}}\n')
    size_mb = path.stat().st_size / (1024 * 1024)

    gc.collect()
    tracemalloc.start()
    try:
        summary = settlement.summarize_export(path)
        peak_mb = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
    finally:
        tracemalloc.stop()

    assert summary.records == count
    assert peak_mb < size_mb / 2, (
        f"summarizing a {size_mb:.1f} MB export took {peak_mb:.1f} MB of Python memory at its "
        "peak; production exports are several GB"
    )
