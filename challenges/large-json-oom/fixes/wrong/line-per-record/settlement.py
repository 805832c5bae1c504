"""Nightly settlement import: the net amount owed to each merchant account.

The acquirer drops one export per settlement batch on the shared volume (the format is described
in ``exports.py``) and the worker calls :func:`summarize_export` with its path.

The export is read line by line: the acquirer writes one record per line, between a
``{"records": [`` line and a ``"meta": {...}}`` line, so each line is decoded on its own.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from typing import Any

from exports import ExportError, SettlementSummary, net_amount

logger = logging.getLogger(__name__)

HEADER = '{"records": ['


def summarize_export(path: str | os.PathLike[str]) -> SettlementSummary:
    """Read the export at ``path`` and total the net cents per payee account.

    Invalid records are counted and skipped. Raises :class:`ExportError` when the file is not a
    valid export: malformed JSON, no ``meta`` object or ``records`` list, or a ``record_count``
    in ``meta`` that does not match the number of records.
    """
    meta: Any = None
    totals: defaultdict[str, int] = defaultdict(int)
    count = invalid = 0
    state = "start"  # start -> records -> after-records -> done
    try:
        with open(path, encoding="utf-8") as handle:
            for raw in handle:
                line = raw.strip()
                if not line:
                    continue
                if state == "start" and line == HEADER:
                    state = "records"
                elif state == "records" and line in ("]", "],"):
                    state = "after-records"
                elif state == "records":
                    count += 1
                    entry = net_amount(json.loads(line.removesuffix(",")))
                    if entry is None:
                        invalid += 1
                    else:
                        totals[entry[0]] += entry[1]
                elif state == "after-records" and line.startswith('"meta":'):
                    body = line.removeprefix('"meta":').strip()
                    if not body.endswith("}}"):
                        raise ExportError("the export does not end after meta")
                    meta = json.loads(body[:-1])
                    state = "done"
                else:
                    raise ExportError(f"unexpected line in the export: {line[:60]!r}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{os.fspath(path)} is not a valid export: {exc}") from exc
    if state != "done":
        raise ExportError("the export is incomplete")

    if not isinstance(meta, dict):
        raise ExportError("the export has no meta object")
    declared = meta.get("record_count")
    if declared != count:
        raise ExportError(f"meta declares {declared!r} records, the export has {count}")
    if invalid:
        logger.warning("batch %s: skipped %d invalid records", meta.get("batch_id"), invalid)
    return SettlementSummary(
        batch_id=str(meta.get("batch_id", "")),
        currency=str(meta.get("currency", "")),
        records=count,
        invalid=invalid,
        totals=dict(totals),
    )
