"""Nightly settlement import: the net amount owed to each merchant account.

The acquirer drops one export per settlement batch on the shared volume (the format is described
in ``exports.py``) and the worker calls :func:`summarize_export` with its path. The acquirer's
serializer promises neither key order nor whitespace: ``meta`` may come before or after
``records``, other top-level keys may appear, and a file may be pretty-printed or on one line.

Exports grow with the acquirer's volume (several GB at month end) while the worker has a fixed
memory budget, so the file is streamed: one record is in memory at a time.
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
    try:
        meta = _read_meta(path)
        # The net amounts of each account, kept until the export is known to be complete, so
        # that nothing is totalled from a batch that turns out to be rejected.
        amounts: defaultdict[str, list[int]] = defaultdict(list)
        count = invalid = 0
        with open(path, "rb") as handle:
            # ijson builds one element of the top-level "records" array at a time.
            for record in ijson.items(handle, "records.item"):
                count += 1
                entry = net_amount(record)
                if entry is None:
                    invalid += 1
                    continue
                account, cents = entry
                amounts[account].append(cents)
    except ijson.JSONError as exc:
        raise ExportError(f"{os.fspath(path)} is not a JSON document: {exc}") from exc

    declared = meta.get("record_count")
    if declared != count:
        raise ExportError(f"meta declares {declared!r} records, the export has {count}")
    if invalid:
        logger.warning("batch %s: skipped %d invalid records", meta.get("batch_id"), invalid)
    totals = {account: sum(cents) for account, cents in amounts.items()}
    return SettlementSummary(
        batch_id=str(meta.get("batch_id", "")),
        currency=str(meta.get("currency", "")),
        records=count,
        invalid=invalid,
        totals=totals,
    )


def _read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level ``meta`` object, wherever it is in the file.

    A streaming pass of its own: when ``meta`` comes last, the records are skipped over
    without being built; when it comes first, the pass stops right after it.
    """
    with open(path, "rb") as handle:
        meta = next(ijson.items(handle, "meta"), None)
    if not isinstance(meta, dict):
        raise ExportError("the export has no meta object")
    return meta
