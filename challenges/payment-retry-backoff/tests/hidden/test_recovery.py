"""Check: a charge that hits a few transient errors still goes through, once.

The provider, its calls and the idempotency keys they carried are the judge's record
(``retry_driver``); the clients are the read-only ``payments`` module, run in the host.
"""

from __future__ import annotations

import time

import pytest
from faultline_harness.judge import Call
from retry_driver import Bench, Draws, Provider, Sleeps, fixed, ok_body

REAL_BASE_DELAY = 0.2  # seconds: the one real wait (random() ~ 1 makes it the whole backoff)


def _charge(bench: Bench, charge) -> tuple | None:
    """A returned ``Charge`` as plain data (``None`` for anything else), read in the host."""
    dataclasses = bench.host.module("dataclasses")
    checked = bench.host.batch(
        [
            Call(bench.builtins.isinstance, charge, bench.gateway_class("Charge")),
            Call(dataclasses.astuple, charge),
        ]
    )
    if checked[0] is not True or not isinstance(checked[1], tuple):
        return None
    return checked[1]


def test_charges_succeed_after_transient_errors(evidence, candidate, variant):
    bench = Bench(candidate)
    key = f"order-{variant.randrange(10**6):06d}"
    charge_id = f"ch_{variant.randrange(16**8):08x}"
    payments = candidate.module("payments")
    problems: list[str] = []
    cases = 0

    # The checkout client: 429, 503 and a timeout, then the provider answers.
    cases += 1
    provider = Provider(
        bench,
        [
            bench.error("RateLimited"),
            bench.error("ServiceUnavailable"),
            bench.error("Timeout"),
            ok_body(charge_id),
        ],
    )
    sleeps = Sleeps(candidate)
    client = payments.PaymentClient(
        bench.transport(provider.post),
        sleep=sleeps.callback,
        random=Draws(candidate, fixed(0.5)).callback,
    )
    settled = bench.settle(client.charge, 4200, "tok_visa", idempotency_key=key)
    charge = _charge(bench, settled.result) if settled.raised is None and not settled.hung else None
    if charge != (charge_id, 4200, "EUR", "succeeded"):
        problems.append("the checkout client did not return the charge after 3 transient errors")
    if provider.count != 4 or len(sleeps.waits) != 3:
        problems.append(
            f"checkout client made {provider.count} calls with {len(sleeps.waits)} waits for "
            "3 transient errors and a success (expected 4 calls, 3 waits)"
        )
    keys = [
        args[1].get("idempotency_key") if len(args) > 1 and isinstance(args[1], dict) else None
        for args, _ in provider.calls
    ]
    if set(keys) != {key}:
        problems.append(
            f"{sum(sent != key for sent in keys)} of {len(keys)} calls to the provider did not "
            "carry the charge's idempotency key"
        )

    # No error: one call, no wait.
    cases += 1
    provider, sleeps = Provider(bench, [ok_body("ch_fast")]), Sleeps(candidate)
    client = payments.PaymentClient(bench.transport(provider.post), sleep=sleeps.callback)
    settled = bench.settle(client.charge, 4200, "tok_visa")
    charge = _charge(bench, settled.result) if settled.raised is None and not settled.hung else None
    if charge is None or charge[0] != "ch_fast" or provider.count != 1 or sleeps.waits:
        problems.append(
            f"a charge that succeeded at once took {provider.count} calls and waits "
            f"{sleeps.waits}{'' if charge else ', and no charge came back'}"
        )

    # Arguments and the return value pass through the decorator untouched.
    cases += 1
    refund = Provider(
        bench,
        [
            bench.error("ServiceUnavailable"),
            lambda args, kwargs: (*args, kwargs.get("reason")),
        ],
    )
    decorated = bench.retry.retry(sleep=Sleeps(candidate).callback)(refund.post)
    settled = bench.settle(decorated, "ch_1", 1500, reason="requested_by_customer")
    given = (("ch_1", 1500), {"reason": "requested_by_customer"})
    if settled.result != ("ch_1", 1500, "requested_by_customer") or any(
        call != given for call in refund.calls
    ):
        changed = sum(call != given for call in refund.calls)
        problems.append(
            "a decorated refund(charge_id, amount_cents, *, reason) that failed once did not "
            f"return its result unchanged, or was called with other arguments ({refund.count} "
            f"calls, {changed} with arguments other than the ones given)"
        )

    # The async order service: same errors, awaited.
    cases += 1
    direct_provider = Provider(
        bench,
        [bench.error("ServiceUnavailable"), bench.error("Timeout"), ok_body("ch_async")],
        asynchronous=True,
    )
    direct = bench.retry.retry(
        sleep=Sleeps(candidate).callback,
        async_sleep=Sleeps(candidate, asynchronous=True).callback,
        random=Draws(candidate, fixed(0.5)).callback,
    )(direct_provider.post)
    settled = bench.call_async(direct, "/v1/charges", {"amount": 4200})
    if settled.result != ok_body("ch_async") or direct_provider.count != 3:
        problems.append(
            f"an async call that hit a 503 and a timeout made {direct_provider.count} calls "
            "(expected 3)"
            + ("" if settled.result == ok_body("ch_async") else " and did not return the answer")
        )

    cases += 1
    client_provider = Provider(
        bench, [bench.error("RateLimited"), ok_body("ch_client")], asynchronous=True
    )
    client = payments.AsyncPaymentClient(
        bench.transport(client_provider.post),
        base_delay=0.001,
        max_delay=0.002,
        sleep=Sleeps(candidate, asynchronous=True).callback,
    )
    settled = bench.call_async(client.charge, 4200, "tok_visa")
    charge = _charge(bench, settled.result) if settled.error is None and not settled.hung else None
    if charge is None or charge[0] != "ch_client" or client_provider.count != 2:
        problems.append(
            f"the async client made {client_provider.count} calls for a 429 and a success "
            "(expected 2)"
            + ("" if charge and charge[0] == "ch_client" else " and returned no charge")
        )

    # The real waits: with no sleep injected, retry() waits with time.sleep and, for a
    # coroutine, asyncio.sleep (the defaults the brief keeps). A wait is never shorter.
    for asynchronous in (False, True):
        cases += 1
        real_provider = Provider(
            bench,
            [bench.error("ServiceUnavailable"), ok_body("ch_real")],
            asynchronous=asynchronous,
        )
        really = bench.retry.retry(
            attempts=2,
            base_delay=REAL_BASE_DELAY,
            random=Draws(candidate, fixed(0.999999)).callback,
        )(real_provider.post)
        began = time.perf_counter()
        if asynchronous:
            settled = bench.call_async(really, "/v1/charges", {"amount": 4200})
        else:
            settled = bench.settle(really, "/v1/charges", {"amount": 4200})
        waited = time.perf_counter() - began
        kind = "an async" if asynchronous else "a"
        if settled.result != ok_body("ch_real") or real_provider.count != 2:
            problems.append(
                f"{kind} call through retry(attempts=2) with the default sleeps made "
                f"{real_provider.count} calls for a 503 and a success (expected 2)"
            )
        elif waited < REAL_BASE_DELAY * 0.9:
            problems.append(
                f"{kind} call through retry() with the default sleeps took {waited * 1000:.0f} "
                f"ms for a 503 and a success: it did not really wait the ~{REAL_BASE_DELAY:g} s "
                "backoff (the defaults are time.sleep and asyncio.sleep)"
            )

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
