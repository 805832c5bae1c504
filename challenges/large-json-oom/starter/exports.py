"""The acquirer's settlement export: shared types and record rules (read-only in this exercise).

An export is one JSON object with a ``records`` list and a ``meta`` object::

    {"records": [{"id": "txn_01", "payee": {"account": "acc_7", "name": "Café Zoë"},
                  "amount_cents": 1250, "fees": [{"kind": "interchange", "cents": 18}],
                  "status": "settled", "captured_at": "2024-03-01T09:12:44Z"},
                 ...],
     "meta": {"batch_id": "2024-03-01-A", "currency": "EUR", "record_count": 1}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ExportError(ValueError):
    """The file is not a usable settlement export.

    The whole batch is rejected and nothing is posted to the ledger: the acquirer re-sends it.
    """


@dataclass
class SettlementSummary:
    """What the worker posts to the ledger for one settlement batch."""

    batch_id: str
    currency: str
    records: int
    """Records in the export, valid or not."""
    invalid: int
    """Records skipped because they break the record format."""
    totals: dict[str, int] = field(default_factory=dict)
    """Net amount in cents per payee account, for every account with a valid record."""


SIGN_BY_STATUS = {"settled": 1, "refunded": -1, "failed": 0}
"""Settled payments are paid out, refunds are clawed back, failed payments move nothing."""


def net_amount(record: Any) -> tuple[str, int] | None:
    """``(account, signed net cents)`` for a valid record, ``None`` for an invalid one.

    Fees are charged on settled and refunded payments alike; a failed payment nets zero.
    """
    if not isinstance(record, dict):
        return None
    payee = record.get("payee")
    account = payee.get("account") if isinstance(payee, dict) else None
    if not isinstance(account, str) or not account:
        return None
    status = record.get("status")
    if not isinstance(status, str) or status not in SIGN_BY_STATUS:
        return None
    amount = record.get("amount_cents")
    fees = record.get("fees", [])
    if not _is_cents(amount) or not isinstance(fees, list):
        return None
    fee_total = 0
    for fee in fees:
        if not isinstance(fee, dict) or not _is_cents(fee.get("cents")):
            return None
        fee_total += fee["cents"]
    sign = SIGN_BY_STATUS[status]
    return account, (sign * amount - fee_total if sign else 0)


def _is_cents(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
