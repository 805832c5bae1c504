"""Check: a charge that hits a few transient errors still goes through, once."""

from __future__ import annotations

import asyncio

import pytest
from gateway import Charge, RateLimited, ServiceUnavailable, Timeout
from hidden_support import AsyncProvider, AsyncSleeps, Provider, Sleeps, fixed, ok_body


def test_charges_succeed_after_transient_errors(evidence):
    import payments
    import retry

    problems: list[str] = []
    cases = 0

    # The checkout client: 429, 503 and a timeout, then the provider answers.
    cases += 1
    provider = Provider([RateLimited(), ServiceUnavailable(), Timeout(), ok_body("ch_sync")])
    sleeps = Sleeps()
    client = payments.PaymentClient(provider, sleep=sleeps, random=fixed(0.5))
    charge = client.charge(4200, "tok_visa", idempotency_key="order-1001")
    if charge != Charge("ch_sync", 4200, "EUR", "succeeded"):
        problems.append(f"checkout client returned {charge!r} after 3 transient errors")
    if provider.count != 4 or len(sleeps.waits) != 3:
        problems.append(
            f"checkout client made {provider.count} calls with {len(sleeps.waits)} waits for "
            "3 transient errors and a success (expected 4 calls, 3 waits)"
        )
    keys = {args[1]["idempotency_key"] for args, _ in provider.calls}
    if keys != {"order-1001"}:
        problems.append(f"retries were sent with idempotency keys {sorted(keys)}")

    # No error: one call, no wait.
    cases += 1
    provider, sleeps = Provider([ok_body("ch_fast")]), Sleeps()
    charge = payments.PaymentClient(provider, sleep=sleeps).charge(4200, "tok_visa")
    if charge.id != "ch_fast" or provider.count != 1 or sleeps.waits:
        problems.append(
            f"a charge that succeeded at once took {provider.count} calls and waits {sleeps.waits}"
        )

    # Arguments and the return value pass through the decorator untouched.
    cases += 1
    seen: list[object] = []

    @retry.retry(sleep=Sleeps())
    def refund(charge_id: str, amount_cents: int, *, reason: str) -> tuple[str, int, str]:
        seen.append((charge_id, amount_cents, reason))
        if len(seen) == 1:
            raise ServiceUnavailable()
        return charge_id, amount_cents, reason

    result = refund("ch_1", 1500, reason="requested_by_customer")
    if result != ("ch_1", 1500, "requested_by_customer") or len(set(seen)) != 1:
        problems.append(f"decorated refund returned {result!r}, called with {seen!r}")

    # The async order service: same errors, awaited.
    cases += 1

    async def order_service() -> list[object]:
        async_provider = AsyncProvider([ServiceUnavailable(), Timeout(), ok_body("ch_async")])
        direct = retry.retry(sleep=Sleeps(), async_sleep=AsyncSleeps(), random=fixed(0.5))(
            async_provider.post
        )
        body = await asyncio.wait_for(direct("/v1/charges", {"amount": 4200}), 10)
        client_provider = AsyncProvider([RateLimited(), ok_body("ch_client")])
        client = payments.AsyncPaymentClient(
            client_provider, base_delay=0.001, max_delay=0.002, sleep=AsyncSleeps()
        )
        charge = await asyncio.wait_for(client.charge(4200, "tok_visa"), 10)
        return [body, async_provider.count, charge, client_provider.count]

    body, calls, charge, client_calls = asyncio.run(order_service())
    if body != ok_body("ch_async") or calls != 3:
        problems.append(f"async call returned {body!r} after {calls} calls (expected 3)")
    cases += 1
    if not isinstance(charge, Charge) or charge.id != "ch_client" or client_calls != 2:
        problems.append(f"async client returned {charge!r} after {client_calls} calls")

    evidence.metric(
        "recovery_cases_ok",
        max(0, cases - len(problems)),
        unit="cases",
        limit=cases,
        better="higher",
        label=f"transient-failure scenarios, of {cases}, that recovered correctly",
    )
    if problems:
        pytest.fail("; ".join(problems))
