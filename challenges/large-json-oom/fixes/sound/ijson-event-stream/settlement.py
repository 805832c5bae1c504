"""Nightly settlement import: the net amount owed to each merchant account.

The acquirer drops one export per settlement batch on the shared volume (the format is described
in ``exports.py``) and the worker calls :func:`summarize_export` with its path. The acquirer's
serializer promises neither key order nor whitespace: ``meta`` may come before or after
``records``, other top-level keys may appear, and a file may be pretty-printed or on one line.

One streaming pass over the parser's events: each record (and ``meta``) is built on its own as
its events go by, then dropped.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any

import ijson
from exports import ExportError, SettlementSummary, net_amount

logger = logging.getLogger(__name__)

RECORD = "records.item"
META = "meta"


def summarize_export(path: str | os.PathLike[str]) -> SettlementSummary:
    """Read the export at ``path`` and total the net cents per payee account.

    Invalid records are counted and skipped. Raises :class:`ExportError` when the file is not a
    valid export: malformed JSON, no ``meta`` object or ``records`` list, or a ``record_count``
    in ``meta`` that does not match the number of records.
    """
    meta: Any = None
    records_seen = False
    totals: defaultdict[str, int] = defaultdict(int)
    count = invalid = 0
    builder: ijson.ObjectBuilder | None = None
    building = ""

    def finished(prefix: str, value: Any) -> None:
        nonlocal meta, count, invalid
        if prefix == META:
            meta = value
            return
        count += 1
        entry = net_amount(value)
        if entry is None:
            invalid += 1
        else:
            totals[entry[0]] += entry[1]

    try:
        with open(path, "rb") as handle:
            for prefix, event, value in ijson.parse(handle):
                if builder is not None:
                    builder.event(event, value)
                    if prefix == building and event in ("end_map", "end_array"):
                        finished(building, builder.value)
                        builder = None
                elif prefix in (RECORD, META):
                    if event in ("start_map", "start_array"):
                        builder, building = ijson.ObjectBuilder(), prefix
                        builder.event(event, value)
                    else:
                        finished(prefix, value)  # a scalar where an object belongs
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
