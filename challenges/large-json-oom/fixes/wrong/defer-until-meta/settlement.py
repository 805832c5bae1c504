"""Nightly settlement import: the net amount owed to each merchant account.

The acquirer drops one export per settlement batch on the shared volume (the format is described
in ``exports.py``) and the worker calls :func:`summarize_export` with its path. The acquirer's
serializer promises neither key order nor whitespace: ``meta`` may come before or after
``records``, other top-level keys may appear, and a file may be pretty-printed or on one line.

One streaming pass with ijson. Records that arrive before ``meta`` are held back until ``meta``
has been read, so the batch is validated before anything is totalled.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any

import ijson
from exports import ExportError, SettlementSummary, net_amount

logger = logging.getLogger(__name__)


def summarize_export(path: str | os.PathLike[str]) -> SettlementSummary:
    """Read the export at ``path`` and total the net cents per payee account.

    Invalid records are counted and skipped. Raises :class:`ExportError` when the file is not a
    valid export: malformed JSON, no ``meta`` object or ``records`` list, or a ``record_count``
    in ``meta`` that does not match the number of records.
    """
    meta: Any = None
    pending: list[Any] = []  # records seen before meta
    records_seen = False
    builder: ijson.ObjectBuilder | None = None
    building = ""
    totals: defaultdict[str, int] = defaultdict(int)
    count = invalid = 0

    def total(record: Any) -> None:
        nonlocal count, invalid
        count += 1
        entry = net_amount(record)
        if entry is None:
            invalid += 1
        else:
            totals[entry[0]] += entry[1]

    def finished(prefix: str, value: Any) -> None:
        nonlocal meta
        if prefix == "meta":
            meta = value
            for record in pending:
                total(record)
            pending.clear()
        elif meta is None:
            pending.append(value)
        else:
            total(value)

    try:
        with open(path, "rb") as handle:
            for prefix, event, value in ijson.parse(handle):
                if builder is not None:
                    builder.event(event, value)
                    if prefix == building and event in ("end_map", "end_array"):
                        finished(building, builder.value)
                        builder = None
                elif prefix in ("records.item", "meta"):
                    if event in ("start_map", "start_array"):
                        builder, building = ijson.ObjectBuilder(), prefix
                        builder.event(event, value)
                    else:
                        finished(prefix, value)
                elif prefix == "records" and event == "start_array":
                    records_seen = True
                elif prefix == "" and event not in ("start_map", "map_key", "end_map"):
                    raise ExportError("the export is not a JSON object")
    except ijson.JSONError as exc:
        raise ExportError(f"{os.fspath(path)} is not a JSON document: {exc}") from exc

    if not isinstance(meta, dict):
        raise ExportError("the export has no meta object")
    if not records_seen:
        raise ExportError("the export has no records list")
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
