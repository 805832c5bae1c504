"""Checks: which errors are retried, and what happens when the retries run out.

The provider is the judge's (``retry_driver``): it counts the calls and picks each outcome; its
errors are built in the host from ``gateway`` and raised there, and whether the candidate raised
that very object is asked of the host.
"""

from __future__ import annotations

import pytest
from faultline_harness.judge import Remote
from retry_driver import Bench, Outcome, call_provider, ok_body


def _non_retryable(bench: Bench) -> dict[str, Remote]:
    return {
        "declined card (402)": bench.error(
            "CardDeclined", "insufficient funds", decline_code="insufficient_funds"
        ),
        "bad request (400)": bench.error("BadRequest", "no such card token: tok_missing"),
        "conflict (409)": bench.error(
            "PaymentError", "idempotency key reused with another amount", status=409
        ),
        "bug in our code (KeyError)": bench.error("KeyError", "amount"),
    }


def test_non_retryable_errors_are_raised_on_first_attempt(evidence, candidate, starter):
    def play(host) -> dict[str, tuple[bool, Outcome]]:
        bench = Bench(host)
        played = {}
        for name, error in _non_retryable(bench).items():
            outcome = call_provider(bench, [error])
            played[name] = (
                outcome.raised is not None and bench.same(outcome.raised, error),
                outcome,
            )
        return played

    before = play(starter)
    after = play(candidate)
    most, most_before = (max(o.calls for _, o in played.values()) for played in (after, before))
    evidence.metric(
        "attempts_for_non_retryable",
        most,
        unit="calls",
        limit=1,
        starter=most_before,
        label="most calls made for an error that must not be retried (a declined card, ...)",
    )
    if most_before <= 1:
        evidence.suspect(
            "declines-not-retried: the starter tried every non-retryable error only once in "
            "this run (it retries them all); the measurement is not trusted"
        )
    problems = []
    for name, (same_error, outcome) in after.items():
        if outcome.calls != 1 or outcome.waits or outcome.hung:
            problems.append(f"{name}: {outcome.describe()}, expected 1 call and no wait")
        elif not same_error:
            problems.append(f"{name}: {outcome.describe()}, expected the original error raised")
    if problems:
        pytest.fail(
            f"{len(problems)} of {len(after)} non-retryable errors were mishandled: "
            + "; ".join(problems)
        )


def test_gives_up_after_the_last_attempt_with_the_last_error(evidence, candidate, starter):
    def play(host) -> dict[str, tuple[int, bool, Outcome]]:
        bench = Bench(host)
        mixed = [
            bench.error("RateLimited"),
            bench.error("ServiceUnavailable"),
            bench.error("Timeout"),
        ]
        outages = [
            bench.error("ServiceUnavailable", f"maintenance, attempt {n}") for n in range(1, 6)
        ]
        single = [bench.error("Timeout", "read timed out")]
        cases = {
            "attempts=3, 429 then 503 then timeout": (3, mixed, {"attempts": 3}),
            "default attempts, provider down": (5, outages, {}),
            "attempts=1": (1, single, {"attempts": 1}),
        }
        played = {}
        for name, (attempts, errors, options) in cases.items():
            outcome = call_provider(bench, errors, **options)
            last = outcome.raised is not None and bench.same(outcome.raised, errors[-1])
            played[name] = (attempts, last, outcome)
        return played

    before = play(starter)
    after = play(candidate)

    def with_last(played) -> int:
        return sum(last for _, last, _ in played.values())

    def returned(played) -> int:
        return sum(o.raised is None and not o.hung for _, _, o in played.values())

    evidence.metric(
        "gave_up_with_last_error",
        with_last(after),
        unit="cases",
        limit=len(after),
        starter=with_last(before),
        better="higher",
        label=f"cases, of {len(after)}, ending in the last attempt's own error",
    )
    evidence.metric(
        "returned_none",
        returned(after),
        unit="cases",
        limit=0,
        starter=returned(before),
        label="cases where every attempt failed but the call returned instead of raising",
    )
    if with_last(before) >= len(before):
        evidence.suspect(
            "gives-up-with-last-error: the starter raised the last error in every case in this "
            "run (it returns None); the measurement is not trusted"
        )
    problems = []
    for name, (attempts, last, outcome) in after.items():
        expected = f"{attempts} calls, {attempts - 1} waits and the last error raised"
        if outcome.calls != attempts or len(outcome.waits) != attempts - 1 or outcome.hung:
            problems.append(f"{name}: {outcome.describe()}; expected {expected}")
        elif not last:
            got = "a different error" if outcome.raised is not None else "no error"
            problems.append(f"{name}: {outcome.describe()} ({got}); expected {expected}")
    if problems:
        pytest.fail("; ".join(problems))


def test_retry_after_is_honoured(evidence, candidate, starter):
    options = {"attempts": 3, "base_delay": 0.5, "max_delay": 8.0}
    half = 0.5  # the jitter draw, fixed

    def play(host) -> dict[str, tuple[Outcome, tuple[float, float] | None, bool]]:
        # (outcome, (lowest, highest) allowed first wait) or None: give up at once; and whether
        # a 429 was what it raised. The wait is at least Retry-After; on top of it, at most one
        # backoff (0.5 s) is tolerated.
        bench = Bench(host)

        def limited(retry_after: float | None = None) -> Remote:
            return bench.error("RateLimited", retry_after=retry_after)

        cases = {
            "429 with Retry-After 2": ([limited(2.0), ok_body()], (2.0, 2.0 + 0.5)),
            "429 with Retry-After 0.1": ([limited(0.1), ok_body()], (0.1, 0.1 + 0.5)),
            "429 with Retry-After 3.5, then 429 without": (
                [limited(3.5), limited(), ok_body()],
                (3.5, 3.5 + 0.5),
            ),
            "429 with Retry-After 30 (over max_delay=8)": ([limited(30.0)], None),
        }
        played = {}
        for name, (outcomes, allowed) in cases.items():
            outcome = call_provider(bench, outcomes, random=lambda: half, **options)
            rate_limited = outcome.raised is not None and bench.is_instance(
                outcome.raised, "RateLimited"
            )
            played[name] = (outcome, allowed, rate_limited)
        return played

    def short_waits(played) -> int:
        return sum(
            1
            for outcome, allowed, _ in played.values()
            if allowed is not None and (not outcome.waits or outcome.waits[0] < allowed[0] - 1e-9)
        )

    before = play(starter)
    after = play(candidate)
    evidence.metric(
        "waits_shorter_than_retry_after",
        short_waits(after),
        unit="waits",
        limit=0,
        starter=short_waits(before),
        label="retries sent before the provider's Retry-After had passed",
    )
    if short_waits(before) == 0:
        evidence.suspect(
            "retry-after-honoured: the starter waited out every Retry-After in this run (it "
            "ignores them); the measurement is not trusted"
        )
    problems = []
    for name, (outcome, allowed, rate_limited) in after.items():
        if allowed is None:
            if outcome.calls != 1 or outcome.waits or not rate_limited:
                problems.append(
                    f"{name}: {outcome.describe()}; expected the 429 raised at once, no wait"
                )
            continue
        low, high = allowed
        if outcome.result != ok_body() or not outcome.waits:
            problems.append(f"{name}: {outcome.describe()}; expected a retry that succeeds")
        elif not low - 1e-9 <= outcome.waits[0] <= high + 1e-9:
            problems.append(f"{name}: waited {outcome.waits[0]:.3g} s, expected {low:g}-{high:g} s")
        elif name.endswith("then 429 without") and not (
            len(outcome.waits) > 1 and 0.5 - 1e-9 <= outcome.waits[1] <= 1.0 + 1e-9
        ):
            problems.append(
                f"{name}: {outcome.describe()}; expected the normal backoff (0.5-1 s) before "
                "the third attempt once no Retry-After is sent"
            )
    if problems:
        pytest.fail(
            f"{len(problems)} of {len(after)} Retry-After cases wrong: " + "; ".join(problems)
        )
