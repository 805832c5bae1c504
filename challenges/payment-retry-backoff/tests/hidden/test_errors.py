"""Checks: which errors are retried, and what happens when the retries run out."""

from __future__ import annotations

import pytest
from gateway import (
    BadRequest,
    CardDeclined,
    PaymentError,
    RateLimited,
    ServiceUnavailable,
    Timeout,
)
from hidden_support import call_provider, ok_body


def _non_retryable() -> dict[str, BaseException]:
    return {
        "declined card (402)": CardDeclined(
            "insufficient funds", decline_code="insufficient_funds"
        ),
        "bad request (400)": BadRequest("no such card token: tok_missing"),
        "conflict (409)": PaymentError("idempotency key reused with another amount", status=409),
        "bug in our code (KeyError)": KeyError("amount"),
    }


def test_non_retryable_errors_are_raised_on_first_attempt(evidence, starter):
    import retry

    def play(module) -> dict[str, tuple[BaseException, object]]:
        cases = _non_retryable()
        return {name: (error, call_provider(module, [error])) for name, error in cases.items()}

    before = play(starter.load("retry"))
    after = play(retry)
    evidence.metric(
        "attempts_for_non_retryable",
        max(outcome.calls for _, outcome in after.values()),
        unit="calls",
        limit=1,
        starter=max(outcome.calls for _, outcome in before.values()),
        label="most calls made for an error that must not be retried (a declined card, ...)",
    )
    problems = []
    for name, (error, outcome) in after.items():
        if outcome.calls != 1 or outcome.waits:
            problems.append(f"{name}: {outcome.describe()}, expected 1 call and no wait")
        elif outcome.raised is not error:
            problems.append(f"{name}: {outcome.describe()}, expected the original error raised")
    if problems:
        pytest.fail(
            f"{len(problems)} of {len(after)} non-retryable errors were mishandled: "
            + "; ".join(problems)
        )


def test_gives_up_after_the_last_attempt_with_the_last_error(evidence, starter):
    import retry

    def play(module) -> dict[str, tuple[int, BaseException, object]]:
        mixed = [RateLimited(), ServiceUnavailable(), Timeout()]
        outages = [ServiceUnavailable(f"maintenance, attempt {n}") for n in range(1, 6)]
        single = [Timeout("read timed out")]
        return {
            "attempts=3, 429 then 503 then timeout": (
                3,
                mixed[-1],
                call_provider(module, mixed, attempts=3),
            ),
            "default attempts, provider down": (5, outages[-1], call_provider(module, outages)),
            "attempts=1": (1, single[0], call_provider(module, single, attempts=1)),
        }

    before = play(starter.load("retry"))
    after = play(retry)
    evidence.metric(
        "gave_up_with_last_error",
        sum(outcome.raised is last for _, last, outcome in after.values()),
        unit="cases",
        limit=len(after),
        starter=sum(outcome.raised is last for _, last, outcome in before.values()),
        better="higher",
        label=f"cases, of {len(after)}, ending in the last attempt's own error",
    )
    evidence.metric(
        "returned_none",
        sum(outcome.raised is None for _, _, outcome in after.values()),
        unit="cases",
        limit=0,
        starter=sum(outcome.raised is None for _, _, outcome in before.values()),
        label="cases where every attempt failed but the call returned instead of raising",
    )
    problems = []
    for name, (attempts, last, outcome) in after.items():
        expected = f"{attempts} calls, {attempts - 1} waits and the last error raised"
        if outcome.calls != attempts or len(outcome.waits) != attempts - 1:
            problems.append(f"{name}: {outcome.describe()}; expected {expected}")
        elif outcome.raised is not last:
            got = "a different error" if outcome.raised is not None else "no error"
            problems.append(f"{name}: {outcome.describe()} ({got}); expected {expected}")
    if problems:
        pytest.fail("; ".join(problems))


def test_retry_after_is_honoured(evidence, starter):
    import retry

    options = {"attempts": 3, "base_delay": 0.5, "max_delay": 8.0}

    def play(module) -> dict[str, tuple[object, tuple[float, float] | None]]:
        # (outcome, (lowest, highest) allowed first wait), or None: give up at once. The wait
        # is at least Retry-After; on top of it, at most one backoff (0.5 s) is tolerated.
        half = 0.5  # the jitter draw, fixed
        return {
            "429 with Retry-After 2": (
                call_provider(
                    module,
                    [RateLimited(retry_after=2.0), ok_body()],
                    random=lambda: half,
                    **options,
                ),
                (2.0, 2.0 + 0.5),
            ),
            "429 with Retry-After 0.1": (
                call_provider(
                    module,
                    [RateLimited(retry_after=0.1), ok_body()],
                    random=lambda: half,
                    **options,
                ),
                (0.1, 0.1 + 0.5),
            ),
            "429 with Retry-After 3.5, then 429 without": (
                call_provider(
                    module,
                    [RateLimited(retry_after=3.5), RateLimited(), ok_body()],
                    random=lambda: half,
                    **options,
                ),
                (3.5, 3.5 + 0.5),
            ),
            "429 with Retry-After 30 (over max_delay=8)": (
                call_provider(
                    module, [RateLimited(retry_after=30.0)], random=lambda: half, **options
                ),
                None,
            ),
        }

    def short_waits(cases) -> int:
        return sum(
            1
            for outcome, allowed in cases.values()
            if allowed is not None and (not outcome.waits or outcome.waits[0] < allowed[0] - 1e-9)
        )

    before = play(starter.load("retry"))
    after = play(retry)
    evidence.metric(
        "waits_shorter_than_retry_after",
        short_waits(after),
        unit="waits",
        limit=0,
        starter=short_waits(before),
        label="retries sent before the provider's Retry-After had passed",
    )
    problems = []
    for name, (outcome, allowed) in after.items():
        if allowed is None:
            if outcome.calls != 1 or outcome.waits or not isinstance(outcome.raised, RateLimited):
                problems.append(
                    f"{name}: {outcome.describe()}; expected the 429 raised at once, no wait"
                )
            continue
        low, high = allowed
        if outcome.result != ok_body() or not outcome.waits:
            problems.append(f"{name}: {outcome.describe()}; expected a retry that succeeds")
        elif not low - 1e-9 <= outcome.waits[0] <= high + 1e-9:
            problems.append(f"{name}: waited {outcome.waits[0]:.3g} s, expected {low:g}-{high:g} s")
        elif name.endswith("then 429 without") and not 0.5 - 1e-9 <= outcome.waits[1] <= 1.0 + 1e-9:
            problems.append(
                f"{name}: waited {outcome.waits[1]:.3g} s before the third attempt, expected "
                "the normal backoff (0.5-1 s) once no Retry-After is sent"
            )
    if problems:
        pytest.fail(
            f"{len(problems)} of {len(after)} Retry-After cases wrong: " + "; ".join(problems)
        )
