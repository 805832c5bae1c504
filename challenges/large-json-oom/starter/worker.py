"""Queue consumer of the settlement import (read-only in this exercise).

The acquirer's SFTP drop publishes one message per export on the ``settlement-exports`` queue:
``{"path": "/exports/2024-03-01-A.json"}``. The worker runs in a pod with a 256 MB memory limit
and handles one export at a time.
"""

from __future__ import annotations

import json
import logging

from exports import ExportError, SettlementSummary
from settlement import summarize_export

logger = logging.getLogger("worker")


def post_to_ledger(summary: SettlementSummary) -> None:
    """Stand-in for the ledger client: one payout line per account."""
    logger.info(
        "batch %s: %d accounts, %d records (%d invalid)",
        summary.batch_id,
        len(summary.totals),
        summary.records,
        summary.invalid,
    )


def handle_message(body: bytes) -> str:
    """Process one queue message; the return value is the acknowledgement sent to the queue."""
    path = json.loads(body)["path"]
    try:
        summary = summarize_export(path)
    except ExportError as exc:
        logger.error("rejected %s: %s", path, exc)
        return "reject"
    post_to_ledger(summary)
    return "ack"
