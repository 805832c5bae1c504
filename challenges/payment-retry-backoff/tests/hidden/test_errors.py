"""Checks: which errors are retried, and what happens when the retries run out.

The provider is the judge's (``retry_driver``): it counts the calls and picks each outcome; its
errors are built in the host from ``gateway`` and raised there, and whether the candidate raised
that very object is asked of the host.
"""

from __future__ import annotations

import pytest
from faultline_harness.judge import Remote
from retry_driver import Bench, Outcome, call_provider, ok_body


def _non_retryable(bench: Bench) -> dict[str, tuple[Remote, dict]]:
    """name -> (the error, the options of ``retry``)"""
    return {
        "declined card (402)": (
            bench.error("CardDeclined", "insufficient funds", decline_code="insufficient_funds"),
            {},
        ),
        "bad request (400)": (bench.error("BadRequest", "no such card token: tok_missing"), {}),
        "conflict (409)": (
            bench.error("PaymentError", "idempotency key reused with another amount", status=409),
            {},
        ),
        "bug in our code (KeyError)": (bench.error("KeyError", "amount"), {}),
        # retry_on says what is retried: with only timeouts in it, a 503 is not.
        "503 with retry_on=(Timeout,)": (
            bench.error("ServiceUnavailable", "maintenance"),
            {"retry_on": (bench.gateway_class("Timeout"),)},
        ),
    }


def test_non_retryable_errors_are_raised_on_first_attempt(evidence, candidate, starter):
    def play(host) -> dict[str, tuple[bool, Outcome]]:
        bench = Bench(host)
        played = {}
        for name, (error, options) in _non_retryable(bench).items():
            outcome = call_provider(bench, [error], **options)
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


LONG_ATTEMPTS = 300
"""A policy with more attempts than CPython keeps one int object for (up to 256): counting them
must not depend on that."""


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
        long_outage = [bench.error("ServiceUnavailable", "down for the night")] * LONG_ATTEMPTS
        cases = {
            "attempts=3, 429 then 503 then timeout": (3, mixed, {"attempts": 3}),
            "default attempts, provider down": (5, outages, {}),
            "attempts=1": (1, single, {"attempts": 1}),
            f"attempts={LONG_ATTEMPTS}, provider down": (
                LONG_ATTEMPTS,
                long_outage,
                {"attempts": LONG_ATTEMPTS},
            ),
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


def test_retry_after_is_honoured(evidence, candidate, starter, variant):
    options = {"attempts": 3, "base_delay": 0.5, "max_delay": 8.0}
    half = 0.5  # the jitter draw, fixed
    # The backoff is 0.5 s before the first retry and 1 s before the second, so the jittered
    # waits are within [0.25, 0.5] and [0.5, 1]. The wait is the larger of Retry-After and the
    # jittered backoff: exactly Retry-After when it is at least the backoff (a jittered wait
    # never exceeds its backoff), the jittered backoff when Retry-After is below half of it.
    first_band, second_band = (0.25, 0.5), (0.5, 1.0)
    # A Retry-After of 1 to 7.5 s, drawn per run (2 s is always tried)
    drawn = variant.choice([quarters / 4 for quarters in range(4, 31) if quarters != 8])

    # name -> (first Retry-After, outcomes, [(lowest, highest) allowed for each wait] or None:
    # give up at once)
    Case = tuple[float, list, list[tuple[float, float]] | None]

    def cases(limited, answer) -> dict[str, Case]:
        return {
            "429 with Retry-After 2": (2.0, [limited(2.0), answer], [(2.0, 2.0)]),
            f"429 with Retry-After {drawn:g}": (drawn, [limited(drawn), answer], [(drawn, drawn)]),
            "429 with Retry-After 0.1 (below the backoff)": (
                0.1,
                [limited(0.1), answer],
                [first_band],
            ),
            "429 with Retry-After 3.5, then 429 without": (
                3.5,
                [limited(3.5), limited(), answer],
                [(3.5, 3.5), second_band],
            ),
            "429 with Retry-After 8 (= max_delay)": (8.0, [limited(8.0), answer], [(8.0, 8.0)]),
            "429 with Retry-After 30 (over max_delay=8)": (30.0, [limited(30.0)], None),
        }

    def play(host) -> dict[str, tuple[Outcome, list[tuple[float, float]] | None, bool, float]]:
        # (outcome, allowed waits or None, whether a 429 was what it raised, Retry-After)
        bench = Bench(host)

        def limited(retry_after: float | None = None) -> Remote:
            return bench.error("RateLimited", retry_after=retry_after)

        played = {}
        for name, (retry_after, outcomes, allowed) in cases(limited, ok_body()).items():
            outcome = call_provider(bench, outcomes, random=lambda: half, **options)
            rate_limited = outcome.raised is not None and bench.is_instance(
                outcome.raised, "RateLimited"
            )
            played[name] = (outcome, allowed, rate_limited, retry_after)
        return played

    def short_waits(played) -> int:
        return sum(
            1
            for outcome, allowed, _, retry_after in played.values()
            if allowed is not None and (not outcome.waits or outcome.waits[0] < retry_after - 1e-9)
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

    def wrong_cases(played) -> list[str]:
        problems = []
        for name, (outcome, allowed, rate_limited, _) in played.items():
            if allowed is None:
                if outcome.calls != 1 or outcome.waits or not rate_limited:
                    problems.append(
                        f"{name}: {outcome.describe()}; expected the 429 raised at once, no wait"
                    )
                continue
            if outcome.result != ok_body() or len(outcome.waits) != len(allowed):
                problems.append(
                    f"{name}: {outcome.describe()}; expected {len(allowed)} wait(s) and a "
                    "retry that succeeds"
                )
                continue
            waits = zip(outcome.waits, allowed, strict=True)
            for number, (wait, (low, high)) in enumerate(waits):
                if not low - 1e-9 <= wait <= high + 1e-9:
                    expected = f"{low:g} s" if low == high else f"{low:g}-{high:g} s"
                    problems.append(
                        f"{name}: wait {number + 1} was {wait:.4g} s, expected {expected} (the "
                        "larger of Retry-After and the jittered backoff)"
                    )
                    break
        return problems

    problems = wrong_cases(after)
    evidence.metric(
        "retry_after_cases_wrong",
        len(problems),
        unit="cases",
        limit=0,
        starter=len(wrong_cases(before)),
        label=f"Retry-After cases, of {len(after)}, whose waits break the policy",
    )
    if problems:
        pytest.fail(
            f"{len(problems)} of {len(after)} Retry-After cases wrong: " + "; ".join(problems)
        )
