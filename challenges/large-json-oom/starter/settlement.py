"""Nightly settlement import: the net amount owed to each merchant account.

The acquirer drops one export per settlement batch on the shared volume (the format is described
in ``exports.py``) and the worker calls :func:`summarize_export` with its path. The acquirer's
serializer promises neither key order nor whitespace: ``meta`` may come before or after
``records``, other top-level keys may appear, and a file may be pretty-printed or on one line.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict

from exports import ExportError, SettlementSummary, net_amount

logger = logging.getLogger(__name__)


def summarize_export(path: str | os.PathLike[str]) -> SettlementSummary:
    """Read the export at ``path`` and total the net cents per payee account.

    Invalid records are counted and skipped. Raises :class:`ExportError` when the file is not a
    valid export: malformed JSON, no ``meta`` object or ``records`` list, or a ``record_count``
    in ``meta`` that does not match the number of records.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{os.fspath(path)} is not a JSON document: {exc}") from exc
    if not isinstance(document, dict):
        raise ExportError("the export is not a JSON object")
    meta = document.get("meta")
    records = document.get("records")
    if not isinstance(meta, dict):
        raise ExportError("the export has no meta object")
    if not isinstance(records, list):
        raise ExportError("the export has no records list")

    totals: defaultdict[str, int] = defaultdict(int)
    invalid = 0
    for record in records:
        entry = net_amount(record)
        if entry is None:
            invalid += 1
            continue
        account, cents = entry
        totals[account] += cents

    declared = meta.get("record_count")
    if declared != len(records):
        raise ExportError(f"meta declares {declared!r} records, the export has {len(records)}")
    if invalid:
        logger.warning("batch %s: skipped %d invalid records", meta.get("batch_id"), invalid)
    return SettlementSummary(
        batch_id=str(meta.get("batch_id", "")),
        currency=str(meta.get("currency", "")),
        records=len(records),
        invalid=invalid,
        totals=dict(totals),
    )
