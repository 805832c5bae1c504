"""Quick checks you can run while you work. The graded suite measures more than this."""

from __future__ import annotations

import pytest
from conftest import FakeSleep, ScriptedProvider, charge_body
from gateway import CardDeclined, Charge, RateLimited, ServiceUnavailable
from payments import PaymentClient


def test_charge_goes_through_after_a_rate_limit_and_an_outage():
    provider = ScriptedProvider(RateLimited(), ServiceUnavailable(), charge_body("ch_42"))
    sleep = FakeSleep()
    client = PaymentClient(provider, sleep=sleep)

    charge = client.charge(4200, "tok_visa", idempotency_key="order-7")

    assert charge == Charge("ch_42", 4200, "EUR", "succeeded")
    assert len(provider.requests) == 3
    assert {r["idempotency_key"] for r in provider.requests} == {"order-7"}
    assert len(sleep.waits) == 2


def test_successful_charge_is_sent_once():
    provider = ScriptedProvider(charge_body())
    sleep = FakeSleep()

    PaymentClient(provider, sleep=sleep).charge(4200, "tok_visa")

    assert len(provider.requests) == 1
    assert sleep.waits == []


def test_declined_card_is_not_retried():
    """The incident: one declined card, five authorisation attempts at the issuer."""
    declined = CardDeclined("insufficient funds", decline_code="insufficient_funds")
    provider = ScriptedProvider(declined)
    client = PaymentClient(provider, sleep=FakeSleep())

    with pytest.raises(CardDeclined):
        client.charge(4200, "tok_chargeDeclined")

    assert len(provider.requests) == 1, f"the card was charged {len(provider.requests)} times"
